"""The integration workshop's edge_bundle process: built and recorded for an exportable family, skipped with
the reason otherwise, refused (the job fails) when the order's deployment target is edge."""

from __future__ import annotations

import json

import pytest

from mofang.core.errors import MofangError
from mofang.integration.edge import EDGE_ARCHIVE
from mofang.integration.edge_process import edge_bundle
from mofang.models.registry import get_trainer
from mofang.orders.schema import Order
from tests.models import text_fixtures
from tests.models.tabular_fixtures import classification_data


def _order(task: str, target: str, deployment: str) -> Order:
    return Order.model_validate({"id": "p-1", "tenant": "acme", "task": task, "data": [{"path": "x.csv"}],
                                 "target": target, "deployment": {"target": deployment}})


def _staged(make_ctx, tmp_path, task: str, family: str, data: dict, deployment: str = "cloud"):
    """A job context holding what `package` leaves: the bundle draft folder and the test split."""
    candidate, _ = get_trainer(task, family).fit(data["train"], data["valid"], data["dataset"], budget_s=2,
                                                 order=_order(task, data["dataset"]["target"], "edge"))  # no bag
    ctx = make_ctx(_order(task, data["dataset"]["target"], deployment), station="integration")
    folder = tmp_path / "bundle"
    folder.mkdir(parents=True)
    candidate.save(folder / "model.joblib")
    schema = {"task": task, "target": data["dataset"]["target"], "features": data["dataset"]["features"],
              "classes": data["dataset"]["classes"], "ignored": []}
    (folder / "schema.json").write_text(json.dumps(schema, ensure_ascii=False), "utf-8")
    (folder / "metadata.json").write_text(json.dumps({"product": "p-1", "family": family}), "utf-8")
    (folder / "model_card.md").write_text("# p-1\n", "utf-8")
    ctx.save("bundle_draft", {"path": str(folder), "files": ["model.joblib"]})
    ctx.save("test", data["test"])
    return ctx, folder


def _text_data() -> dict:
    train, valid, test = text_fixtures.splits(300)
    return {"train": train, "valid": valid, "test": test, "dataset": text_fixtures.dataset(train)}


def test_an_exportable_family_gets_a_signed_archive_with_its_parity_recorded(make_ctx, tmp_path) -> None:
    ctx, folder = _staged(make_ctx, tmp_path, "tabular-classification", "lightgbm", classification_data(n=500))
    summary = edge_bundle(ctx)
    assert (folder / EDGE_ARCHIVE).exists() and "parity max |Δ|" in summary
    assert ctx.record.metrics["edge_parity_rows"] == 100 and ctx.record.metrics["edge_parity_max_abs_diff"] < 1e-4
    assert any(r.startswith("edge bundle: ") for r in ctx.record.reasons)
    assert EDGE_ARCHIVE in ctx.load("bundle_draft")["files"]


def test_building_the_edge_archive_reports_each_step(make_ctx, tmp_path) -> None:
    from mofang.station import SilentProgress

    class Steps(SilentProgress):
        def __init__(self) -> None:
            self.heard: list[tuple[float, float | None, str]] = []

        def process_advanced(self, station, process, done, total, note) -> None:
            self.heard.append((done, total, note))

    ctx, _ = _staged(make_ctx, tmp_path, "tabular-classification", "linear", classification_data(n=300))
    ctx.process, ctx.progress = "edge_bundle", Steps()
    edge_bundle(ctx)
    heard = ctx.progress.heard
    assert [d for d, _t, _n in heard] == [0, 1, 3, 4] and {t for _d, t, _n in heard} == {4}
    assert heard[1][2] == "checking parity on 60 test rows" and heard[-1][2] == "edge archive packed"


def test_a_family_without_an_edge_form_is_skipped_with_the_reason(make_ctx, tmp_path) -> None:
    ctx, folder = _staged(make_ctx, tmp_path, "text-classification", "jieba-linear", _text_data())
    assert edge_bundle(ctx).startswith("skipped: word n-grams need jieba")
    assert not (folder / EDGE_ARCHIVE).exists() and ctx.record.reasons[-1].startswith("no edge bundle: ")


def test_an_edge_target_order_is_refused_when_there_can_be_no_edge_bundle(make_ctx, tmp_path) -> None:
    ctx, _ = _staged(make_ctx, tmp_path, "text-classification", "jieba-linear", _text_data(), deployment="edge")
    with pytest.raises(MofangError, match="deployment.target edge, but word n-grams need jieba"):
        edge_bundle(ctx)


def test_a_failed_parity_check_refuses_the_edge_bundle(make_ctx, tmp_path, monkeypatch) -> None:
    import mofang.integration.edge as edge

    monkeypatch.setattr(edge, "PROBA_TOLERANCE", -1.0)  # nothing can match: the check must refuse
    ctx, folder = _staged(make_ctx, tmp_path, "tabular-classification", "linear", classification_data(n=500))
    summary = edge_bundle(ctx)
    assert summary.startswith("skipped: edge bundle refused: the ONNX model does not answer like the product")
    assert "labels match, max |Δ|" in summary and not (folder / EDGE_ARCHIVE).exists()
    ctx_edge, _ = _staged(make_ctx, tmp_path / "edge", "tabular-classification", "linear",
                          classification_data(n=500), deployment="edge")
    with pytest.raises(MofangError, match="edge bundle refused"):
        edge_bundle(ctx_edge)
