"""The served image product (the task's `serving.app` hook): `POST /predict` takes images — JSON
`{"rows": [{"image": "<base64 of the file bytes>"}]}` or a multipart upload of files — and answers `predictions`
and `probabilities` like every classifier (and `regions` when the model localises defects), on the shared
product runtime (/health, /metadata, /metrics, /drift, /feedback, auth, audit).

(No `from __future__ import annotations` here: FastAPI must see the route's types at run time.)
"""

import asyncio
import base64
import binascii
import json
import time
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import Response

from mofang import __version__
from mofang.products.feedback import FeedbackError, Outcomes
from mofang.products.serving import _common_routes, _json
from mofang.tasks.vision.images import MAX_PIXELS, ImageProblem, decode_image

MAX_IMAGES = 64  # images in one request
MAX_IMAGE_BYTES = 20 * 2**20  # one image file
MAX_REQUEST_BYTES = 96 * 2**20  # one request body (base64 adds a third)
NOT_MONITORED = ("an image product's inputs are pictures, not rows of features to compare with a training "
                 "reference: watch the predicted-class shares (mofang_predictions_total) against the class "
                 "balance in /metadata")
FIELD = "image"


class BadImages(ValueError):
    """A request whose images cannot be read; the message names the row or file and the reason, `kind` the case
    (an ImageProblem's kind for a file that is no usable image, else "request")."""

    def __init__(self, message: str, kind: str = "request") -> None:
        super().__init__(message)
        self.kind = kind


def max_pixels(bundle: Any) -> int:
    """The product's decompression-bomb guard: the order's `vision.max_pixels` (MAX_PIXELS by default)."""
    vision = (getattr(bundle, "metadata", None) or {}).get("vision") or {}
    return int(vision.get("max_pixels") or MAX_PIXELS)


def row_files(rows: Any) -> list[tuple[str, bytes]]:
    """(where, file bytes) of each `{"image": base64}` row; BadImages names the first bad row."""
    if not isinstance(rows, list) or not rows:
        raise BadImages("'rows' must be a non-empty list of {\"image\": \"<base64 of the file bytes>\"}")
    if len(rows) > MAX_IMAGES:
        raise BadImages(f"{len(rows)} images in one request; send at most {MAX_IMAGES}")
    files = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or FIELD not in row:
            raise BadImages(f"rows[{i}]: expected an object with an '{FIELD}' field (base64 of the file bytes)")
        extra = sorted(set(row) - {FIELD})
        if extra:
            raise BadImages(f"rows[{i}]: unknown field(s) {', '.join(extra)}; a row has only '{FIELD}'")
        data = file_bytes(row[FIELD], f"rows[{i}].{FIELD}")
        files.append((f"rows[{i}].{FIELD}", data))
    return files


def file_bytes(value: Any, where: str) -> bytes:
    """The file bytes of one base64 value (a data URL too); BadImages names `where` and the reason."""
    if not isinstance(value, str):
        raise BadImages(f"{where}: expected a base64 string of the image file's bytes")  # "": an empty file
    if value.startswith("data:") and "," in value:  # a data URL: data:image/png;base64,....
        value = value.split(",", 1)[1]
    if len(value) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise BadImages(f"{where}: larger than {MAX_IMAGE_BYTES // 2**20} MB")
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise BadImages(f"{where}: not valid base64") from None


def decoded(files: list[tuple[str, bytes]], max_pixels: int = MAX_PIXELS) -> list[Any]:
    """The pixels of each file; BadImages names the first that is no usable image."""
    return [_decoded(data, where, max_pixels) for where, data in files]


def _decoded(data: bytes, where: str, max_pixels: int) -> Any:
    try:
        return decode_image(data, max_pixels=max_pixels).pixels
    except ImageProblem as exc:
        raise BadImages(f"{where}: {exc}", exc.kind) from None
    except Exception as exc:  # noqa: BLE001 - a decoder's own failure on a hostile file: a 422, never a 500
        raise BadImages(f"{where}: unreadable image ({type(exc).__name__}: {exc})", "unreadable") from None


def answer_rows(bundle: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The product's answer to JSON rows of base64 images (the smoke test's path too)."""
    return dict(bundle.candidate.answer(decoded(row_files(rows), max_pixels(bundle))))


def _answer(bundle: Any, files: list[tuple[str, bytes]]) -> dict[str, Any]:
    return dict(bundle.candidate.answer(decoded(files, max_pixels(bundle))))


def outcomes(schema: dict[str, Any]) -> Outcomes:
    """An image product's feedback: the image as sent to /predict plus its true class."""
    target = str(schema.get("target") or "label")
    classes = [str(c) for c in schema.get("classes") or []]

    def check(field: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, row in enumerate(rows):
            if classes and str(row[field]) not in classes:
                raise FeedbackError(f"rows[{i}]: '{field}' must be one of {', '.join(classes)}, not {row[field]!r}")
            if not isinstance(row.get(FIELD), str):
                raise FeedbackError(f"rows[{i}]: send the image as sent to /predict ('{FIELD}': base64)")
        return rows

    return Outcomes(target, carried="the image as sent to /predict", check=check,
                    help=f"Rows as sent to /predict (`{FIELD}`: base64) plus the true class `{target}`")


def app(bundle: Any, version: int | None, caller: Callable[..., Any], title: str, runtime: Any) -> FastAPI:
    """An image product's API: POST /predict with base64 images or multipart files; its runtime told that drift
    of inputs does not apply and that feedback rows are images with their class."""
    runtime.not_monitored(NOT_MONITORED)
    runtime.outcomes = outcomes(bundle.schema)
    meta = bundle.metadata
    application = FastAPI(
        title=f"Mofang product · {title}", version=__version__,
        description=f"image-classification model ({', '.join(bundle.schema.get('classes') or [])}; family "
                    f"{meta['family']}, order {meta['order_id']}). POST /predict with JSON "
                    "{\"rows\": [{\"image\": \"<base64 of the file bytes>\"}]} or a multipart upload of image files.")
    application.state.max_body_bytes = MAX_REQUEST_BYTES  # images: more than rows (the server's body cap)
    stats = {"requests": 0, "rows": 0, "started": time.time()}
    _common_routes(application, bundle, version, caller, stats)
    request_doc = {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "object", "required": ["rows"], "properties": {"rows": {
            "type": "array", "minItems": 1, "maxItems": MAX_IMAGES, "items": {
                "type": "object", "required": [FIELD], "additionalProperties": False,
                "properties": {FIELD: {"type": "string", "description": "base64 of the image file's bytes"}}}}}}},
        "multipart/form-data": {"schema": {"type": "object", "properties": {"files": {
            "type": "array", "items": {"type": "string", "format": "binary"}}}}}}}}

    @application.post("/predict", openapi_extra=request_doc)
    async def predict(request: Request, identity: Any = Depends(caller)) -> Response:
        """Classify images: JSON rows of base64 files, or multipart file uploads (any field name)."""
        error, count = True, 0
        try:
            files = await _request_files(request)
            count = len(files)
            answer = await asyncio.to_thread(_answer, bundle, files)
            error = False
        except BadImages as exc:  # 422 {"detail": where and why, "error": the kind of problem}
            return Response(_json({"detail": str(exc), "error": exc.kind}), status_code=422,
                            media_type="application/json")
        finally:
            runtime.called(identity, "predict", count, error)
        counts: dict[str, int] = {}
        for label in answer["predictions"]:
            counts[label] = counts.get(label, 0) + 1
        runtime.count_classes(counts)
        stats["requests"] += 1
        stats["rows"] += count
        return Response(_json({"product": meta["product"], "version": version, **answer}),
                        media_type="application/json")

    return application


async def _request_files(request: Request) -> list[tuple[str, bytes]]:
    """(where, file bytes) of a request's images: JSON rows or multipart files; BadImages (422) or
    HTTPException (413, 415)."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_REQUEST_BYTES:
        raise HTTPException(413, f"request body of {int(length):,} bytes is over {MAX_REQUEST_BYTES:,}")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form(max_files=MAX_IMAGES + 1)
        uploads = [(name, value) for name, value in form.multi_items() if not isinstance(value, str)]
        if not uploads:
            raise BadImages("the multipart form holds no file; upload image files (e.g. field 'files')")
        if len(uploads) > MAX_IMAGES:
            raise BadImages(f"{len(uploads)} files in one request; send at most {MAX_IMAGES}")
        files = []
        for name, upload in uploads:
            data = await upload.read(MAX_IMAGE_BYTES + 1)  # type: ignore[union-attr]
            where = f"file '{getattr(upload, 'filename', None) or name}'"
            if len(data) > MAX_IMAGE_BYTES:
                raise BadImages(f"{where}: larger than {MAX_IMAGE_BYTES // 2**20} MB")
            files.append((where, data))
        return files
    if kind not in ("application/json", ""):
        raise HTTPException(415, f"send application/json rows or multipart/form-data files, not {kind}")
    try:
        body = json.loads(await request.body())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadImages(f"the body is not valid JSON ({exc})") from None
    if not isinstance(body, dict) or set(body) != {"rows"}:
        raise BadImages("the body must be {\"rows\": [{\"image\": \"<base64 of the file bytes>\"}]}")
    return row_files(body["rows"])


def tool(schema: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """The agent tool of an image product (`integration.tool` hook): base64 images in, classes out."""
    classes = [str(c) for c in schema.get("classes") or []]
    label: dict[str, Any] = {"type": "string", "enum": classes} if classes else {"type": "string"}
    rows = {"type": "array", "minItems": 1, "maxItems": MAX_IMAGES, "items": {
        "type": "object", "required": [FIELD], "additionalProperties": False,
        "properties": {FIELD: {"type": "string", "description": "base64 of the image file's bytes"}}}}
    output = {"type": "object", "properties": {
        "predictions": {"type": "array", "items": label},
        "probabilities": {"type": "array", "items": {"type": "object", "additionalProperties": {"type": "number"}}},
        "regions": {"type": "array", "items": {"type": ["object", "null"]}}}}
    return {"path": "/predict", "input": {"type": "object", "required": ["rows"], "additionalProperties": False,
                                          "properties": {"rows": rows}},
            "output": output,
            "description": f"Classify images with the Mofang inspection model '{meta.get('product', 'product')}': "
                           f"send each image file as base64; returns its class ({', '.join(classes)}) with "
                           "probabilities" + (f" (defect-free: {schema.get('good_class')})"
                                              if schema.get("good_class") else "") + "."}
