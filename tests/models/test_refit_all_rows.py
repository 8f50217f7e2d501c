"""The delivered model fitted again on every labelled row: per family, for ensembles, and down the line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mofang.cli import app
from mofang.models.ensemble import EnsembleCandidate
from mofang.models.refit import estimate_seconds, refit_on_rows, refittable
from mofang.models.registry import get_trainer
from tests.models.text_fixtures import dataset, news, splits


@pytest.fixture(scope="module")
def fitted():
    train, valid, test = splits(400, seed=4)
    data = dataset(train)
    linear, _ = get_trainer("text-classification", "tfidf-linear").fit(train, valid, data, 1.0)
    boosting, _ = get_trainer("text-classification", "tfidf-lightgbm").fit(train, valid, data, 1.0)
    return train, valid, test, data, linear, boosting


def test_a_linear_text_model_is_refitted_on_every_row_with_its_chosen_parameters(fitted) -> None:
    train, valid, test, data, linear, _ = fitted
    rows = pd.concat([train, valid, test], ignore_index=True)
    result = refit_on_rows(linear, data, rows, seed=1)
    again = result.candidate
    assert again is not None and result.refitted == [linear.name] and not result.kept
    assert again.params["refit_rows"] == len(rows) and again.params["C"] == linear.params["C"]
    assert again.pipeline_ is not linear.pipeline_  # the vocabulary is learned again, from every row
    proba = again.predict_proba(test)
    assert proba.shape == (len(test), len(data["classes"])) and np.allclose(proba.sum(axis=1), 1.0)
    assert "refitted on all" in result.note and f"{len(rows):,}" in result.note


def test_an_ensemble_refits_the_members_that_can_and_keeps_the_others(fitted) -> None:
    train, valid, test, data, linear, boosting = fitted
    ensemble = EnsembleCandidate([linear, boosting])
    assert refittable(ensemble) and not refittable(boosting)
    result = refit_on_rows(ensemble, data, pd.concat([train, valid, test], ignore_index=True), seed=1)
    assert isinstance(result.candidate, EnsembleCandidate)
    assert result.refitted == [linear.name] and "stops early on validation rows" in result.kept[0]
    assert result.candidate.members_[1] is boosting
    assert result.candidate.predict_proba(test).shape[0] == len(test)
    alone = refit_on_rows(boosting, data, train, seed=1)
    assert alone.candidate is None and alone.note.startswith("not refitted")


def test_the_time_estimate_grows_with_the_rows() -> None:
    assert estimate_seconds(2.0, 700, 1000) == pytest.approx(2.0 * 1000 / 700)
    assert estimate_seconds(None, 700, 1000) == 0.0


ORDER = """\
id: news-refit
tenant: media
task: text-classification
data:
  - path: news.csv
target: 类别
text: 标题
deployment:
  refit_on_all_rows: true
acceptance: none
budget:
  minutes: 1.0
"""


@pytest.mark.slow
def test_an_order_delivers_the_model_refitted_on_all_rows_with_a_learning_curve(tmp_path, home) -> None:
    frame = news(560, seed=8)
    frame.loc[frame.index[-60:], "类别"] = None  # rows still waiting for a label
    frame.to_csv(tmp_path / "news.csv", index=False, encoding="utf-8")
    (tmp_path / "order.yaml").write_text(ORDER, encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(tmp_path / "order.yaml")])
    assert result.exit_code == 0, result.output

    from mofang.core.config import settings
    from mofang.integration.bundle import open_bundle
    from mofang.security.vault import open_vault
    from mofang.store import MetaStore

    meta = MetaStore()
    try:
        version = meta.product_version("news-refit")
        bundle = open_bundle(version.bundle_path, "media", meta)
        card = open_vault(meta, settings().home).read_any("media", bundle.path / "model_card.md").decode()
    finally:
        meta.dispose()
    expected = sum(bundle.metadata["rows"][part] for part in ("train", "valid", "test"))
    note = bundle.metadata["refit"]
    assert note and "refitted on all" in note and f"{expected:,}" in note, bundle.metadata
    members = getattr(bundle.candidate, "members_", [bundle.candidate])
    assert expected in {m.params.get("refit_rows") for m in members}, [m.params for m in members]
    assert "fitted again" in card
    answer = bundle.predict_records([{"标题": "球队在决赛中连进三球夺得联赛冠军"}])
    assert answer["predictions"] == ["体育"]
    report = tmp_path / "report.html"
    assert CliRunner().invoke(app, ["products", "report", "news-refit", "--out", str(report)]).exit_code == 0
    html = report.read_text("utf-8")
    assert "Learning curve (labels)" in html and "margin" in html and "random" in html
    assert "60 rows of the order&#39;s data have no label yet" in html or "60 rows of the order's data" in html
    assert "fitted again" in html or "refitted on all" in html
