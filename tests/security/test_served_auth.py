"""The served product endpoint checks the caller's API key: none → 401, another tenant → 404,
a revoked key → 401, a key of the product's tenant → 200, for its OpenAPI document and metrics too; /health
stays open for probes and names nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from mofang.cli import app
from mofang.demo import write_demo
from mofang.products.server import running_server
from mofang.security.authz import product_guard
from mofang.security.identity import create_api_key, create_tenant, revoke_api_key

ROW = {"年龄": "35岁", "城市": "杭州", "学历": "本科", "职业": "教育", "月收入": "9000元", "贷款金额": "￥5万",
       "期限": "24个月", "年利率": "18%", "负债收入比": "0.3", "历史逾期次数": "0", "申请日期": "2024年3月2日"}


@pytest.mark.slow
def test_served_endpoint_needs_a_key_of_the_products_tenant(tmp_path: Path, home: Path, meta) -> None:
    order = write_demo(tmp_path / "demo", rows=800, minutes=0.25)
    assert CliRunner().invoke(app, ["run", str(order)], env={"MOFANG_HOME": str(home)}).exit_code == 0
    create_tenant(meta, "beta")
    _, viewer = create_api_key(meta, tenant="demo-bank", user="analyst", role="viewer")
    _, other = create_api_key(meta, tenant="beta", user="intruder", role="owner")
    revoked_identity, revoked = create_api_key(meta, tenant="demo-bank", user="leaver", role="member")
    revoke_api_key(meta, revoked_identity.key_id)
    version = meta.product_version("loan-default-demo")
    with running_server(version, guard=product_guard(meta, "demo-bank")) as url:
        body = {"rows": [ROW]}
        health = httpx.get(f"{url}/health")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        for path in ("/openapi.json", "/docs", "/redoc", "/metrics", "/tool", "/drift"):
            assert httpx.get(f"{url}{path}").status_code == 401, path
            assert httpx.get(f"{url}{path}", headers={"X-API-Key": other}).status_code == 404, path
            assert httpx.get(f"{url}{path}", headers={"X-API-Key": revoked}).status_code == 401, path
        document = httpx.get(f"{url}/openapi.json", headers={"X-API-Key": viewer})
        assert document.status_code == 200 and "年利率" in document.text  # the owning tenant reads its schema
        assert httpx.post(f"{url}/predict", json=body).status_code == 401
        assert httpx.get(f"{url}/metadata").status_code == 401
        assert httpx.post(f"{url}/predict", json=body, headers={"X-API-Key": other}).status_code == 404
        answer = httpx.post(f"{url}/predict", json=body, headers={"X-API-Key": revoked})
        assert answer.status_code == 401 and revoked not in answer.text
        answer = httpx.post(f"{url}/predict", json=body, headers={"Authorization": f"Bearer {viewer}"})
        assert answer.status_code == 200 and answer.json()["predictions"][0] in ("是", "否")
        assert httpx.get(f"{url}/metadata", headers={"X-API-Key": viewer}).status_code == 200
