"""Property-based requests (schemathesis) against running product servers: a tabular classifier, a forecast, an
anomaly detector and a tabular product delivered by the line, each guarded and served by uvicorn as
`mofang serve` serves it. The OpenAPI document is
fetched with the owning tenant's key (nobody else may read it) and every operation is driven with hypothesis
directly, a bounded number of examples each (see tests/portal/test_schemathesis.py): no 5xx, and every answer
conforms to the document (status code, content type, response schema) where schemathesis checks it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from mofang.integration.bundle import Bundle
from mofang.products.multi import Served, serving_app
from mofang.security.authz import product_guard
from mofang.security.identity import create_api_key, create_tenant
from tests.portal.conftest import Server
from tests.products.test_product_contract import TENANT, anomaly_kind, forecast_kind
from tests.products.test_served_routes import tabular_bundle
from tests.products.tiny_orders import ORDER_ID
from tests.products.tiny_orders import TENANT as CHURN_TENANT

EXAMPLES = 25  # per operation: enough to shake out missing validation, lean enough for CI
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
KINDS: dict[str, Callable[[Path], Bundle]] = {
    "tabular": tabular_bundle, "forecast": lambda folder: forecast_kind(folder).bundle,
    "anomaly": lambda folder: anomaly_kind(folder).bundle}


def has_input(document: dict[str, Any], operation: Any) -> bool:
    """Whether the operation takes a body or parameters (else no request to it can be invalid)."""
    declared = document["paths"][operation.path][operation.method.lower()]
    return "requestBody" in declared or bool(declared.get("parameters"))


def drive(served: Served, store: Any, owner: dict[str, str], what: str) -> None:
    """Serve `served` with uvicorn and drive every operation of its OpenAPI document (read with the owner's
    key), valid and invalid requests; assert no failures and print the counts."""
    with Server(serving_app([served], store=store)) as url:
        assert httpx.get(f"{url}/openapi.json").status_code == 401  # the document is the owner's
        document = httpx.get(f"{url}/openapi.json", headers=owner, timeout=30)
        assert document.status_code == 200, document.text
        schema = schemathesis.openapi.from_dict(document.json())
        failures: list[str] = []
        operations = examples = 0
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1
            for mode in GenerationMode:  # valid requests, then requests the document says are invalid
                checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])

                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                          suppress_health_check=list(HealthCheck))
                def conforms(case) -> None:  # noqa: ANN001 - a schemathesis Case
                    nonlocal examples
                    examples += 1
                    response = case.call(base_url=url, headers=owner, timeout=30)
                    case.validate_response(response, checks=checks)  # noqa: B023 - called before the next loop

                try:
                    conforms()
                except Unsatisfiable:  # no input to make invalid (GET /health, /metadata ...): nothing to send
                    if mode is GenerationMode.POSITIVE or has_input(document.json(), operation):
                        failures.append(f"{mode.value} {operation.method.upper()} {operation.path}: no examples")
                except Exception as exc:  # noqa: BLE001 - collect every failure, then report them together
                    failures.append(f"{mode.value} {operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    print(f"schemathesis on the {what} product server: {operations} operations, {examples} examples")
    assert operations >= 4 and examples >= operations * 5, (operations, examples)
    assert not failures, "\n\n".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_product_servers_openapi_document_yields_no_failures(kind: str, meta, tmp_path: Path) -> None:
    create_tenant(meta, TENANT)
    owner = {"X-API-Key": create_api_key(meta, tenant=TENANT, user="ann", role="owner")[1]}
    drive(Served(KINDS[kind](tmp_path / "bundle"), 1, product_guard(meta, TENANT)), meta, owner, kind)


@pytest.mark.slow
def test_a_delivered_products_server_yields_no_failures(churn_meta, churn_keys: dict[str, str]) -> None:
    """The tiny churn product as the line delivered it, opened from the registry as `mofang serve` opens it."""
    from mofang.integration.bundle import open_bundle

    version = churn_meta.product_version(ORDER_ID)
    bundle = open_bundle(version.bundle_path, CHURN_TENANT, churn_meta)
    drive(Served(bundle, version.version, product_guard(churn_meta, CHURN_TENANT)), churn_meta,
          {"Authorization": f"Bearer {churn_keys['acme_owner']}"}, "delivered churn")
