"""The evaluation center on a tabular order: the robustness table in the report, and a tight
`max_robustness_drop` failing the gate with the check named."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from mofang.evaluation import EvaluationCenter
from mofang.evaluation.report import render_report
from tests.models.tabular_fixtures import classification_data, make_order, run_station


def test_tight_drop_rejects_and_the_report_shows_the_table(modelled) -> None:
    order = make_order(metrics={"roc_auc": ">= 0.5"}, max_robustness_drop=0.0)
    ctx = modelled(order, classification_data(n=600, seed=5))
    run_station(EvaluationCenter(), ctx)
    evaluation, measured = ctx.load("evaluation"), ctx.load("robustness")
    assert [r["perturbation"] for r in measured["rows"]] == ["noise", "missing", "unseen_category", "shift"]
    assert measured["worst"]["drop"] > 0
    assert evaluation["verdict"] == "rejected" and ctx.outcome()["failed_checks"] == ["max_robustness_drop"]
    assert "robustness" in evaluation["plots"]
    html = Path(evaluation["report_path"]).read_text(encoding="utf-8")
    assert "Robustness (" in html and "Allowed drop: 0.0" in html and "Robustness to perturbed inputs" in html
    for row in measured["rows"]:
        assert f"<td>{row['perturbation']}</td><td>{row['detail']}</td>" in html
    assert "__unseen_at_training__" in html and "FAIL" in html


def test_ungated_order_still_shows_the_measure(modelled) -> None:
    ctx = modelled(make_order(metrics={"roc_auc": ">= 0.5"}), classification_data(n=500, seed=6))
    run_station(EvaluationCenter(), ctx)
    evaluation = ctx.load("evaluation")
    assert evaluation["verdict"] == "accepted"
    assert [c["name"] for c in evaluation["gate"]["checks"]] == ["roc_auc"]
    html = Path(evaluation["report_path"]).read_text(encoding="utf-8")
    assert "shown, not gated" in html and "noise" in html


def test_the_table_renders_a_text_measure_too() -> None:
    """A text model's measure (no `detail`, no `relative_drop`) fills the same table."""
    measure = {"metric": "f1_macro", "clean_score": 0.9, "seed": 0, "rate": 0.1, "worst": None,
               "rows": [{"perturbation": "typos", "score": 0.85, "drop": 0.05, "changed_share": 0.9}],
               "examples": {"typos": [{"text": "很好吃", "perturbed": "很好"}]}}
    content = {"order": SimpleNamespace(id="o", tenant="t"), "job_id": 1, "task": "text-classification",
               "dataset": {}, "winner": {"name": "w", "family": "f"}, "metrics": {}, "primary_metric": "f1_macro",
               "metric_names": [], "gate": {"checks": []}, "verdict": "accepted", "leaderboard": [],
               "reasons": [], "robustness": measure, "max_robustness_drop": 0.04}
    html = render_report(content, {})
    assert "<td>typos</td><td>–</td>" in html and "很好吃 → 很好" in html
    assert 'class="fail">FAIL' in html  # 0.05 over the allowed 0.04
