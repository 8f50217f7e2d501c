"""The marketplace: a tenant publishes a product version; another tenant serves it — the model travels, the data
never does."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from mofang.cli import app
from mofang.core.errors import NotFoundError
from mofang.integration.bundle import open_bundle
from mofang.products.market import open_listing
from mofang.products.multi import Served, serving_app
from mofang.products.server import running_app
from mofang.products.tables import FeedbackRow
from mofang.security.authz import product_guard
from mofang.security.crypto import is_encrypted
from tests.products.tiny_orders import ORDER_ID, TARGET, TENANT, churn_frame, run_order, write_order

REF = f"market:{ORDER_ID}@1"


def _order_with_base(meta, folder: Path) -> list[dict]:
    """Tenant beta orders a churn model on its own data with the listing as base; returns the job's candidates."""
    from mofang.core.config import settings
    from mofang.security.vault import open_vault

    order = write_order(folder, rows=500, extra=f"base_model: {REF}\n")
    order.write_text(order.read_text("utf-8").replace(f"id: {ORDER_ID}", "id: churn-beta")
                     .replace(f"tenant: {TENANT}", "tenant: beta"), "utf-8")
    job = run_order(order, meta)
    assert job.status == "done", (job.error, job.outcome)
    candidates = settings().home / "tenants" / "beta" / "jobs" / str(job.id) / "candidates.json"
    return json.loads(open_vault(meta, settings().home).read("beta", candidates, order="churn-beta"))


def test_publish_serve_elsewhere_and_unpublish(churn_meta, churn_keys, tmp_path: Path) -> None:
    def cli(*args: str, as_: str):
        env = {"MOFANG_HOME": os.environ["MOFANG_HOME"], "MOFANG_API_KEY": churn_keys[as_], "COLUMNS": "200"}
        return CliRunner().invoke(app, list(args), env=env)

    viewer = cli("market", "publish", ORDER_ID, as_="acme_analyst")
    assert viewer.exit_code == 2 and "may not product.publish" in viewer.output
    assert cli("market", "publish", ORDER_ID, as_="beta_owner").exit_code == 2  # not beta's product
    published = cli("market", "publish", f"{ORDER_ID}@champion", as_="acme_owner")
    assert published.exit_code == 0 and REF in published.output, published.output
    again = cli("market", "publish", ORDER_ID, as_="acme_owner")
    assert again.exit_code == 2 and "already published" in again.output

    listing = cli("market", "list", "--json", as_="beta_owner")
    assert listing.exit_code == 0, listing.output
    (entry,) = json.loads(listing.output)
    assert entry["ref"] == REF and entry["publisher"] == TENANT and entry["metrics"]["roc_auc"] > 0.6

    bundle, record = open_listing(churn_meta, REF, "beta")
    copy = Path(record.path)
    assert sorted(p.name for p in copy.iterdir()) == ["metadata.json", "model.joblib", "model_card.md", "schema.json"]
    assert all(is_encrypted(p) for p in copy.iterdir())  # encrypted at rest with the publisher's key
    assert bundle.reference is None  # training-data quantiles stay home; so does the report
    for private in ("tenant", "dataset_digest", "rows", "dropped", "job_id", "reason"):
        assert bundle.metadata.get(private) in (None, "beta"), private
    assert "roc_auc" in record.card and "model-index" in record.card  # the card travels

    rows = churn_frame(20, seed=41).drop(columns=[TARGET]).to_dict(orient="records")
    original = open_bundle(churn_meta.product_version(ORDER_ID).bundle_path, TENANT, churn_meta)
    guard = product_guard(churn_meta, "beta")  # served in beta's tenant, with beta's keys
    with running_app(serving_app([Served(bundle, record.version, guard)], store=churn_meta)) as url:
        beta = {"X-API-Key": churn_keys["beta_owner"]}
        answer = httpx.post(f"{url}/predict", json={"rows": rows}, headers=beta)
        assert answer.status_code == 200
        assert answer.json()["predictions"] == original.predict_records(rows)["predictions"]
        assert httpx.post(f"{url}/predict", json={"rows": rows},
                          headers={"X-API-Key": churn_keys["acme_owner"]}).status_code == 404
        outcome = {**rows[0], TARGET: "yes"}
        assert httpx.post(f"{url}/feedback", json={"rows": [outcome]}, headers=beta).json()["recorded"] == 1
    with churn_meta.session() as s:
        (row,) = s.query(FeedbackRow).filter_by(product=ORDER_ID, caller="beta_owner").all()
        assert row.tenant_id == "beta"  # the consumer's feedback is the consumer's data

    based = _order_with_base(churn_meta, tmp_path)
    leaderboard = {r["family"]: r for r in based}
    assert leaderboard["market"]["name"] == REF and leaderboard["market"]["valid_metrics"]["roc_auc"] > 0.6
    assert len(leaderboard) >= 2  # the listing competed with beta's own families

    refused = cli("market", "unpublish", ORDER_ID, as_="beta_owner")
    assert refused.exit_code == 2 and "no published listing" in refused.output
    withdrawn = cli("market", "unpublish", f"{ORDER_ID}@1", as_="acme_owner")
    assert withdrawn.exit_code == 0, withdrawn.output
    assert json.loads(cli("market", "list", "--json", as_="beta_owner").output) == []
    with pytest.raises(NotFoundError, match="no published listing"):
        open_listing(churn_meta, REF, "beta")
