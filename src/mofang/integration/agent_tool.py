"""Agent tools: a product's input schema as an OpenAI function/tool schema and an MCP-style tool description,
so an agent can call the product (`POST /predict`, `POST /ask` for a retrieval product, `POST /score` for an
anomaly detector)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from mofang.core.tasks import spec as task_spec

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


ENDPOINTS = {"retrieval-qa": "/ask", "anomaly-detection": "/score",  # the rest answer POST /predict
             "instruction-tuning": "/v1/chat/completions"}
CHAT = "instruction-tuning"


def tool_name(product: str) -> str:
    """An OpenAI-valid function name (^[a-zA-Z0-9_-]{1,64}$) for a product; non-Latin names get a digest."""
    slug = _NAME.sub("_", product).strip("_")
    if len(slug) < max(3, len(product) // 2):  # mostly non-Latin (e.g. Chinese): keep it unique
        slug = f"{slug}_{hashlib.sha256(product.encode()).hexdigest()[:8]}".strip("_")
    return f"predict_{slug}"[:64]


def input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema of the request body the product accepts."""
    if schema.get("task") == CHAT:  # the OpenAI chat request, messages of text
        message = {"type": "object", "required": ["role", "content"], "properties": {
            "role": {"type": "string", "enum": ["system", "user", "assistant"]}, "content": {"type": "string"}}}
        return {"type": "object", "required": ["messages"], "properties": {
            "messages": {"type": "array", "items": message, "minItems": 1,
                         "description": "The conversation; the last message is the user's question"},
            "max_tokens": {"type": "integer", "minimum": 1, "maximum": schema.get("max_new_tokens", 256)},
            "stream": {"type": "boolean", "default": False}}}
    if schema.get("task") == "retrieval-qa":
        return {"type": "object", "additionalProperties": False, "required": ["question"], "properties": {
            "question": {"type": "string", "minLength": 1, "maxLength": schema.get("max_question_chars", 2000),
                         "description": "The question, as a user would type it"},
            "k": {"type": "integer", "minimum": 1, "maximum": schema.get("max_answers", 50), "default": 5,
                  "description": "How many answers to return"}}}
    from mofang.products.serving import MAX_ROWS

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
    """JSON Schema of the product's answer."""
    if schema.get("task") == CHAT:
        return {"type": "object", "properties": {"choices": {"type": "array", "items": {"type": "object"}},
                                                 "usage": {"type": "object"},
                                                 "sources": {"type": "array", "items": {"type": "object"}}}}
    if schema.get("task") == "retrieval-qa":
        return {"type": "object", "properties": {"answers": {"type": "array", "items": {"type": "object"}},
                                                 "no_answer": {"type": "boolean"}}}
    if schema.get("task") == "anomaly-detection":
        return {"type": "object", "properties": {"scores": {"type": "array", "items": {"type": "number"}},
                                                 "flags": {"type": "array", "items": {"type": "boolean"}},
                                                 "threshold": {"type": "number"}}}
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
    product, target = meta.get("product", "product"), schema.get("target")
    if schema.get("task") == CHAT:
        grounded = " answers from its knowledge base with the sources cited," if schema.get("rag") else ""
        return (f"Ask the Mofang assistant '{product}' (a model tuned on the customer's domain) a question in a "
                f"chat;{grounded} it declines questions outside its domain and masks personal data.")
    if schema.get("task") == "retrieval-qa":
        return (f"Ask the '{product}' knowledge base a question; returns the closest `{target}` passages with "
                f"their source and score, or no answer when none is close enough.")
    if schema.get("task") == "anomaly-detection":
        return (f"Score sensor readings with the Mofang anomaly detector '{product}': send readings in time order; "
                "returns an anomaly score per reading and flags those at or above the calibrated threshold.")
    what = schema["task"].replace("-", " ")
    classes = schema.get("classes") or []
    tail = f" One of: {', '.join(map(str, classes[:20]))}." if classes else ""
    return (f"Predict `{target}` with the Mofang product '{product}' ({what}, family {meta.get('family')}); "
            f"send one or more rows of inputs.{tail}")


def agent_tools(schema: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI tool (for `tools=[...]` of a chat completion), the MCP tool description and the endpoint."""
    name = tool_name(str(meta.get("product", "product")))
    text = description(schema, meta)
    params = input_schema(schema)
    path = ENDPOINTS.get(str(schema.get("task")), "/predict")
    return {
        "format": TOOL_FORMAT,
        "endpoint": {"method": "POST", "path": path},
        "openai": {"type": "function", "function": {"name": name, "description": text, "parameters": params}},
        "mcp": {"name": name, "title": f"{meta.get('product')} ({schema['task']})", "description": text,
                "inputSchema": params, "outputSchema": output_schema(schema),
                "annotations": {"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False}},
    }


def write_tool_file(folder: Path, schema: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Write the product's agent tools as `tool.json` into a bundle folder."""
    path = Path(folder) / TOOL_FILE
    path.write_text(json.dumps(agent_tools(schema, meta), ensure_ascii=False, indent=2), "utf-8")
    return path
