"""Load an order from YAML with errors that name the file, the line, the field and a fix."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mofang.core.errors import OrderError
from mofang.orders.schema import INTAKE, Order

MAX_EXPANDED_NODES = 100_000  # values an order may hold once its aliases are expanded (a real one: < 1,000)


def load_order(path: str | Path) -> Order:
    """Read and validate an order file; raise OrderError naming file, line and field."""
    path = Path(path)
    if not path.is_file():
        raise OrderError("order file not found", file=str(path))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise OrderError(f"order file is not UTF-8 text ({exc.reason} at byte {exc.start})",
                         file=str(path)) from None
    order = parse_order(text, file=str(path))
    return order.resolve_paths(path.resolve().parent)


def parse_order(text: str, *, file: str = "<order>") -> Order:
    """Validate order YAML text as a placed order (the intake rules too: an `acceptance:` section names a metric
    or is `none`); raise OrderError naming the line and field of the first problem."""
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise OrderError(f"not valid YAML: {problem}", file=file, line=line) from None
    if not isinstance(data, dict):
        raise OrderError("an order is a YAML mapping of keys such as id, tenant, task, data, target",
                         file=file, line=1)
    _check_aliases(node, file)
    lines = _line_index(node)
    try:
        return Order.model_validate(data, context={INTAKE: True})  # the rules of a placed order too
    except ValidationError as exc:
        raise _explain(exc, lines, file) from None


def _check_aliases(node: yaml.Node, file: str) -> None:
    """Refuse YAML aliases (`*name`) that refer to themselves or expand past `MAX_EXPANDED_NODES` values (a
    "billion laughs" order): each shared node is counted once with its expanded size, so the check is linear."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        current, children_done = stack.pop()
        key = id(current)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(current))
            if sizes[key] > MAX_EXPANDED_NODES:
                raise OrderError(f"the order's aliases (*name) expand to more than {MAX_EXPANDED_NODES:,} values",
                                 file=file, line=current.start_mark.line + 1)
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise OrderError("an alias (*name) refers to the node that contains it, so the order never ends",
                             file=file, line=current.start_mark.line + 1)
        open_nodes.add(key)
        stack.append((current, True))
        stack.extend((child, False) for child in _children(current))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _line_index(node: yaml.Node | None, path: tuple = (), seen: set[int] | None = None) -> dict[tuple, int]:
    """Map each key path (('data', 0, 'path')) to its 1-based line in the YAML text; a node shared through an
    alias is indexed where it is first met."""
    index: dict[tuple, int] = {}
    seen = set() if seen is None else seen
    if node is None or id(node) in seen:
        return index
    seen.add(id(node))
    index[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, key.value)
            index.update(_line_index(value, sub, seen))
            index[sub] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            index.update(_line_index(item, (*path, i), seen))
    return index


def _explain(exc: ValidationError, lines: dict[tuple, int], file: str) -> OrderError:
    error = exc.errors()[0]
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    line = _nearest_line(loc, lines)
    field = ".".join(str(p) for p in loc) or None
    if error["type"] == "extra_forbidden":
        key = str(loc[-1])
        expected = sorted(_fields_at(Order, loc[:-1]))
        close = difflib.get_close_matches(key, expected, n=1, cutoff=0.6)
        hint = f" — did you mean '{close[0]}'?" if close else ""
        message = f"unknown key '{key}'{hint} (expected: {', '.join(expected)})"
    elif error["type"] == "missing":
        message = "required key is missing"
    elif error["type"] == "enum":
        message = f"'{error.get('input')}' is not allowed; {error['msg'].lower()}"
        got = str(error.get("input"))
        options = [str(v) for v in error.get("ctx", {}).get("expected", "").replace("'", "").split(", ")]
        options = [o.replace(" or ", "").strip() for o in options]
        close = difflib.get_close_matches(got, options, n=1)
        if close:
            message += f" — did you mean '{close[0]}'?"
    else:
        message = error["msg"].removeprefix("Value error, ")
    count = len(exc.errors())
    if count > 1:
        message += f" (and {count - 1} more problem{'s' if count > 2 else ''})"
    return OrderError(message, file=file, line=line, field=field)


def _nearest_line(loc: tuple, lines: dict[tuple, int]) -> int | None:
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """The valid keys of the section of the order at `loc`."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part) if isinstance(current, type) and issubclass(
            current, BaseModel) else None
        if info is None:
            return []
        current = _model_in(info.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    """Find the pydantic model inside an annotation such as list[Source] or Columns | None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None
