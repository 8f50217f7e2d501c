"""Agent tools: a product's input schema as an OpenAI function/tool schema and an MCP-style tool description,
so an agent can call the product (`POST /predict`; a kind with routes of its own describes them through its
task's `integration.tool` hook: `POST /ask`, `POST /score`, `POST /v1/chat/completions`)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from mofang.core.tasks import spec as task_spec
from mofang.integration.bundle import MAX_ROWS

TOOL_FILE = "tool.json"
TOOL_FORMAT = "mofang.agent-tool/1"
_NAME = re.compile(r"[^a-zA-Z0-9_-]+")
_KINDS: dict[str, dict[str, Any]] = {
    "numeric": {"type": ["number", "null"]},
    "boolean": {"type": ["boolean", "null"]},
    "datetime": {"type": ["string", "null"], "format": "date-time"},
    "categorical": {"type": ["string", "null"]},
    "text": {"type": ["string", "null"]},
}



def kind_tool(schema: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any] | None:
    """What a product kind with routes of its own says about its tool (`integration.tool` hook of its task):
    `path`, `input`, `output` and `description`; None for a product that answers rows (POST /predict)."""
    hook = task_spec(str(schema["task"])).hook("integration.tool")
    return hook(schema, meta) if hook is not None else None


def tool_name(product: str) -> str:
    """An OpenAI-valid function name (^[a-zA-Z0-9_-]{1,64}$) for a product; non-Latin names get a digest."""
    slug = _NAME.sub("_", product).strip("_")
    if len(slug) < max(3, len(product) // 2):  # mostly non-Latin (e.g. Chinese): keep it unique
        slug = f"{slug}_{hashlib.sha256(product.encode()).hexdigest()[:8]}".strip("_")
    return f"predict_{slug}"[:64]


def input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema of the rows a product that answers rows accepts (POST /predict)."""
    properties = {}
    for feature in schema["features"]:
        kind = feature["kind"]
        properties[feature["name"]] = {**_KINDS.get(kind, {"type": ["string", "number", "null"]}),
                                       "description": f"{kind} input"}
    row = {"type": "object", "properties": properties, "additionalProperties": False}
    return {"type": "object", "additionalProperties": False, "required": ["rows"], "properties": {
        "rows": {"type": "array", "items": row, "minItems": 1, "maxItems": MAX_ROWS,
                 "description": "Rows to score; a missing field is treated as a missing value"}}}


def output_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema of the answer of a product that answers rows."""
    if task_spec(schema["task"]).classes:
        label: dict[str, Any] = {"type": "string", "enum": list(schema.get("classes") or [])} \
            if schema.get("classes") else {"type": "string"}
        if schema.get("multi_label"):
            label = {"type": "array", "items": label}
        return {"type": "object", "properties": {
            "predictions": {"type": "array", "items": label},
            "probabilities": {"type": "array", "items": {"type": "object",
                                                         "additionalProperties": {"type": "number"}}}}}
    return {"type": "object", "properties": {"predictions": {"type": "array", "items": {"type": ["number", "null"]}}}}


def description(schema: dict[str, Any], meta: dict[str, Any]) -> str:
    """What a product that answers rows does, for an agent."""
    product, target = meta.get("product", "product"), schema.get("target")
    what = schema["task"].replace("-", " ")
    classes = schema.get("classes") or []
    tail = f" One of: {', '.join(map(str, classes[:20]))}." if classes else ""
    return (f"Predict `{target}` with the Mofang product '{product}' ({what}, family {meta.get('family')}); "
            f"send one or more rows of inputs.{tail}")


def agent_tools(schema: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI tool (for `tools=[...]` of a chat completion), the MCP tool description and the endpoint."""
    name = tool_name(str(meta.get("product", "product")))
    own = kind_tool(schema, meta)
    text = own["description"] if own else description(schema, meta)
    params = own["input"] if own else input_schema(schema)
    path = own["path"] if own else "/predict"
    return {
        "format": TOOL_FORMAT,
        "endpoint": {"method": "POST", "path": path},
        "openai": {"type": "function", "function": {"name": name, "description": text, "parameters": params}},
        "mcp": {"name": name, "title": f"{meta.get('product')} ({schema['task']})", "description": text,
                "inputSchema": params, "outputSchema": own["output"] if own else output_schema(schema),
                "annotations": {"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False}},
    }


def write_tool_file(folder: Path, schema: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Write the product's agent tools as `tool.json` into a bundle folder."""
    path = Path(folder) / TOOL_FILE
    path.write_text(json.dumps(agent_tools(schema, meta), ensure_ascii=False, indent=2), "utf-8")
    return path
