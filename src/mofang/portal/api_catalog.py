"""REST API: delivered products and their versions (report, model card, predict/ask), datasets and data cards."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mofang.core.errors import MofangError
from mofang.integration.bundle import open_bundle
from mofang.portal import records
from mofang.portal.api_orders import ReportLangQuery, TenantQuery, report_language, report_response
from mofang.portal.auth import Caller, current_caller, portal_state
from mofang.products.serving import _row_model

router = APIRouter(prefix="/api/v1", tags=["products and datasets"])
MAX_ROWS = 1000
VersionQuery = Query(None, ge=1, le=2**31, description="A version number (default: the latest)")
Version = Path(..., ge=1, le=2**31)


class PredictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rows: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_ROWS, description="Rows as in the training data")
    version: int | None = Field(None, ge=1, le=2**31)


class AskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=2000)
    k: int = Field(5, ge=1, le=50)
    version: int | None = Field(None, ge=1, le=2**31)


class RowsInvalid(MofangError):
    """Rows that do not fit the product's input schema: a 422 naming the row and field."""


class BundleCache:
    """Loaded (decrypted in memory) bundles by tenant, product, version and digest; the few most recent."""

    def __init__(self, size: int = 4) -> None:
        self.size, self._lock, self._items = size, threading.Lock(), OrderedDict()

    def get(self, caller: Caller, version: Any) -> Any:
        key = (version.product.tenant_id, version.product.name, version.version, version.bundle_digest)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        bundle = open_bundle(version.bundle_path, version.product.tenant_id, caller.meta)
        with self._lock:
            self._items[key] = bundle
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return bundle


def _product_list(caller: Caller, tenant: str | None) -> list[dict[str, Any]]:
    shown = caller.tenant_filter(tenant)
    caller.allow("product.read", shown, what=f"tenant '{shown}'")
    return [{"name": p.name, "tenant": p.tenant_id, "task": p.task, "created_at": records.when(p.created_at),
             "versions": [records.version_view(v) for v in p.versions]} for p in caller.view.products(shown)]


@router.get("/products", summary="Delivered products and their versions")
def list_products(tenant: str | None = TenantQuery, caller: Caller = Depends(current_caller)) -> list[dict[str, Any]]:
    return _product_list(caller, tenant)


@router.get("/products/{name}", summary="A product version (default: the latest) with its input schema")
def get_product(name: str, request: Request, version: int | None = VersionQuery, tenant: str | None = TenantQuery,
                caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    found = records.product_version(caller, name, version, tenant)
    bundle = bundles(request).get(caller, found)
    every = [p for p in caller.view.products(found.product.tenant_id) if p.name == name]
    return {"name": name, "tenant": found.product.tenant_id, "task": found.product.task,
            **records.version_view(found), "schema": bundle.schema,
            "versions": [v.version for p in every for v in p.versions]}


@router.get("/products/{name}/versions/{version}/report", response_class=HTMLResponse,
            summary="The version's evaluation report (HTML with its plots)")
def product_report(name: str, request: Request, version: int = Version, tenant: str | None = TenantQuery,
                   lang: str | None = ReportLangQuery, caller: Caller = Depends(current_caller)) -> HTMLResponse:
    found = records.product_version(caller, name, version, tenant)
    return report_response(records.product_report(caller, portal_state(request).home, found,
                                                  report_language(request, lang)))


@router.get("/products/{name}/versions/{version}/card", response_class=PlainTextResponse,
            summary="The version's model card (markdown with a Hugging Face model-index)")
def product_card(name: str, request: Request, version: int = Version, tenant: str | None = TenantQuery,
                 caller: Caller = Depends(current_caller)) -> PlainTextResponse:
    found = records.product_version(caller, name, version, tenant)
    text = records.product_file(caller, portal_state(request).home, found, "model_card.md")
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


@router.post("/products/{name}/predict", summary="Score rows with a delivered product (as its served /predict)")
def predict(name: str, body: PredictBody, request: Request, tenant: str | None = TenantQuery,
            caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    found = records.product_version(caller, name, body.version, tenant, action="product.predict")
    bundle = bundles(request).get(caller, found)
    if bundle.is_retrieval:
        raise MofangError(f"product '{name}' answers questions: POST /api/v1/products/{name}/ask")
    return {"product": name, "version": found.version, **bundle.predict_records(checked_rows(bundle, body.rows))}


@router.post("/products/{name}/ask", summary="Ask a delivered retrieval-qa product (as its served /ask)")
def ask(name: str, body: AskBody, request: Request, tenant: str | None = TenantQuery,
        caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    found = records.product_version(caller, name, body.version, tenant, action="product.predict")
    bundle = bundles(request).get(caller, found)
    if not body.question.strip():
        raise RowsInvalid("question: write a question, not only spaces")
    return {"product": name, "version": found.version, **bundle.ask(body.question.strip(), body.k)}


def checked_rows(bundle: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row validated by the served product's own row model (kinds, unknown fields), as /predict does."""
    model = _row_model(bundle.schema)
    checked = []
    for index, row in enumerate(rows):
        try:
            checked.append(model.model_validate(row).model_dump(by_alias=True))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "row"
            raise RowsInvalid(f"rows[{index}] field '{field}': {first['msg']}") from None
    return checked


def bundles(request: Request) -> BundleCache:
    return request.app.state.bundles


# -- datasets --------------------------------------------------------------------------------------------------
Digest = Path(..., min_length=64, max_length=64, pattern="^[0-9a-f]{64}$")


@router.get("/datasets", summary="Dataset versions the data workshop published for the caller's orders")
def list_datasets(tenant: str | None = TenantQuery, caller: Caller = Depends(current_caller)) -> list[dict[str, Any]]:
    shown = caller.tenant_filter(tenant)
    caller.allow("order.read", shown, what=f"tenant '{shown}'")
    return records.datasets(caller, shown)


@router.get("/datasets/{digest}", summary="One dataset version")
def get_dataset(digest: str = Digest, tenant: str | None = TenantQuery,
                caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    return records.dataset(caller, digest, tenant)


@router.get("/datasets/{digest}/card", summary="The dataset's data card (JSON: lineage, profile, every step)")
def dataset_card(request: Request, digest: str = Digest, tenant: str | None = TenantQuery,
                 caller: Caller = Depends(current_caller)) -> Any:
    import json

    return json.loads(records.data_card(caller, portal_state(request).home, digest, tenant, "data_card.json"))


@router.get("/datasets/{digest}/card.html", response_class=HTMLResponse, summary="The data card as HTML")
def dataset_card_html(request: Request, digest: str = Digest, tenant: str | None = TenantQuery,
                      caller: Caller = Depends(current_caller)) -> HTMLResponse:
    return report_response(records.data_card(caller, portal_state(request).home, digest, tenant, "data_card.html"))
