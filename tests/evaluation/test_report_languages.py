"""The evaluation report in both languages: every section's fixed text from one catalogue (Chinese and English),
the stations' own text as written, the plots' labels in both languages, and the files a job and a bundle hold."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.axes import Axes

from mofang.core import plots as core_plots
from mofang.evaluation import report_text
from mofang.evaluation.plots import classification_plots
from mofang.evaluation.report import REPORT_FILES, copy_reports, render_report, write_report
from mofang.evaluation.report_text import TEXT

TEMPLATES = Path(report_text.__file__).parent / "templates"


def _content() -> dict:
    """A report with every section the shared template draws (generation aside: its own template)."""
    checks = [{"name": "roc_auc", "criterion": ">= 0.8", "observed": 0.91, "passed": True, "message": "ok"},
              {"name": "p95_ms", "criterion": "<= 1", "observed": 3.5, "passed": False,
               "message": "p95_ms 3.5 is over 1 <script>"}]
    row = {"name": "lightgbm-1", "valid_metrics": {"roc_auc": 0.9}, "test_metrics": {"roc_auc": 0.91},
           "size_mb": 1.2, "p95_ms": 3.5, "fit_seconds": 2.0, "trials": 4}
    return {
        "order": SimpleNamespace(id="loan<b>", tenant="demo-bank"), "job_id": 7, "task": "tabular-classification",
        "dataset": {"digest": "abc123", "target": "是否违约", "rows": {"train": 800, "valid": 100, "test": 100},
                    "classes": ["是", "否"], "features": [{"name": "年龄", "kind": "numeric"}],
                    "dropped": [{"name": "身份证号", "reason": "personal data"}]},
        "winner": {"name": "lightgbm-1", "family": "lightgbm"}, "metrics": {"roc_auc": 0.91},
        "primary_metric": "roc_auc", "metric_names": ["roc_auc"], "verdict": "rejected",
        "gate": {"passed": False, "checks": checks}, "leaderboard": [row],
        "reasons": [{"where": "model", "text": "lightgbm beat linear by 0.02 roc_auc"}],
        "per_class": [{"class": "是", "precision": 0.8, "recall": 0.7, "f1": 0.75, "support": 40}],
        "slices": [{"by": "城市", "slice": "上海", "n": 30, "score": 0.9, "metric": "roc_auc"}],
        "robustness": {"metric": "roc_auc", "clean_score": 0.91, "seed": 0, "sample_rows": 1000,
                       "rows": [{"perturbation": "noise", "score": 0.88, "drop": 0.03, "changed_share": 0.5,
                                 "detail": "gaussian noise"}], "examples": {}, "skipped": {"typos": "no text"}},
        "max_robustness_drop": 0.05,
        "learning": {"pool": 1200, "seed_size": 50, "rounds": 5, "batch": 50, "test": 300, "advice": "label more",
                     "reach_share": 0.95, "final": {"margin": 0.8}, "labels_to_reach": {"margin": 400},
                     "area": {"margin": 0.7}},
        "anomaly": {"sensors": ["p"], "window": 10, "false_alarm_rate": 0.01, "threshold": 2.5, "time_column": "ts",
                    "label": "y", "events": [{"start": "s", "end": "e", "readings": 3, "detected": False,
                                              "delay": None}], "delay_s": 1.5, "readings": 200,
                    "counts": {"events": 1, "events_detected": 0, "alarms": 2, "false_alarms": 2}},
        "forecast": {"info": {"series_count": 3, "frequency": "D", "season_length": 7, "horizon": 14},
                     "quantiles": [0.1, 0.9], "intervals": 4, "delivered": "ets",
                     "backtest": [{"candidate": "lightgbm-1", "window": 0, "cutoff": "2024-01-01", "series": 3,
                                   "mase": 0.8, "smape": 0.1, "wql": 0.05}]},
        "retrieval": {"note": None, "metrics": {"mrr": 0.8}, "passages": 120, "kind": "bm25", "threshold": 0.3,
                      "examples": [{"question": "怎么还款？", "hit": True, "k": 5, "no_answer": False,
                                    "answers": [{"answer": "按月还款", "source": {"row": 3}, "score": 0.9}]},
                                   {"question": "天气？", "hit": None, "k": 5, "no_answer": True,
                                    "confidence": 0.1, "answers": []}]},
    }


def test_every_text_has_both_languages_with_the_same_placeholders() -> None:
    assert report_text.LANGUAGES == ("en", "zh-CN")
    for key, entry in TEXT.items():
        assert set(entry) == set(report_text.LANGUAGES), key
        assert all(entry[lang].strip() for lang in entry), key
        english, chinese = (set(re.findall(r"{(\w+)}", entry[lang])) for lang in ("en", "zh-CN"))
        assert english == chinese, key


def test_every_key_a_template_uses_is_in_the_catalogue() -> None:
    used: set[str] = set()
    for path in TEMPLATES.glob("*.j2"):
        used |= set(re.findall(r'\bt\("([a-z_.0-9]+)"', path.read_text(encoding="utf-8")))
    assert used, "the templates name their text by key"
    prefixes = {k for k in used if k.endswith(".")}  # t("verdict." ~ verdict): a family of keys
    assert prefixes == {"verdict.", "split.", "rework.kind.", "gen.direction."}
    assert {"verdict.accepted", "verdict.rejected", "split.train", "split.valid", "split.test"} <= set(TEXT)
    kinds = {"threshold", "class_weights", "more_search", "other_families", "smaller_model", "data_fixes"}
    assert {f"rework.kind.{kind}" for kind in kinds} <= set(TEXT)
    assert not used - prefixes - set(TEXT), sorted(used - prefixes - set(TEXT))


def test_both_languages_render_every_section() -> None:
    content, plots = _content(), {"roc_curve": b"\x89PNG-roc", "misclassified": b"\x89PNG"}
    english, chinese = render_report(content, plots), render_report(content, plots, lang="zh-CN")
    assert '<html lang="en">' in english and '<html lang="zh-CN">' in chinese
    for text in ("Evaluation report", "REJECTED", "Acceptance gate", "Leaderboard", "Per-class report", "Slices (",
                 "Robustness (", "Learning curve (labels)", "Anomaly detection (", "Forecast (", "Retrieval (",
                 "Choices and reasons", "dropped column", "ROC curve",
                 "right answer in the top 5", "no answer (confidence 0.1000 under the threshold)", "valid roc_auc"):
        assert text in english, text
    for text in ("评测报告", "未通过验收", "验收门槛", "排行榜", "分类别报告（lightgbm-1，测试集）", "切片（",
                 "鲁棒性（lightgbm-1，扰动后的测试行，roc_auc）", "允许的下降：0.05。", "学习曲线（标注量）",
                 "异常检测（", "误报 2 次", "预测（lightgbm-1，测试窗口）", "检索（lightgbm-1，测试集）",
                 "正确答案在前 5 个之内", "无答案（置信度 0.1000 低于阈值）", "选择与理由", "剔除的列", "训练集",
                 "验证集 roc_auc", "ROC 曲线", "图表（lightgbm-1，测试集）", "分类错误的测试图像", "未通过</td>",
                 "目标列 <code>是否违约</code>", "漏检"):
        assert text in chinese, text
    for english_only in ("Acceptance gate", "Leaderboard", "Choices and reasons", "Failed checks", "dropped column",
                         "Evaluation report", "right answer in the top"):
        assert english_only not in chinese, english_only
    for html in (english, chinese):  # what the stations wrote is shown as written, escaped
        assert "lightgbm beat linear by 0.02 roc_auc" in html and "personal data" in html and "label more" in html
        assert "<script>" not in html and "&lt;script&gt;" in html
        assert "loan&lt;b&gt;" in html and "loan<b>" not in html
        assert "怎么还款？" in html and "按月还款" in html


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown report language"):
        render_report(_content(), {}, lang="fr")


def test_write_report_writes_both_and_a_bundle_copies_both(tmp_path: Path) -> None:
    path = write_report(tmp_path / "report", _content(), {"roc_curve": b"\x89PNG"})
    assert path.name == "report.html" and REPORT_FILES == ("report.html", "report.zh-CN.html")
    assert "评测报告" in (path.parent / "report.zh-CN.html").read_text("utf-8")
    assert "Evaluation report" in path.read_text("utf-8") and (path.parent / "roc_curve.png").exists()
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    assert copy_reports(str(path), bundle) == ["report.html", "report.zh-CN.html"]
    old = tmp_path / "old"
    old.mkdir()
    (old / "report.html").write_text("<html>old</html>", "utf-8")  # a report from before translation
    (tmp_path / "old-bundle").mkdir()
    assert copy_reports(old / "report.html", tmp_path / "old-bundle") == ["report.html"]


def test_plot_labels_carry_both_languages_and_draw_without_a_cjk_font(monkeypatch) -> None:
    assert core_plots.bilingual("ROC 曲线", "ROC curve") == "ROC 曲线 · ROC curve"
    long = core_plots.bilingual("校准曲线（预测类别的置信度）", "Calibration (confidence of the predicted class)")
    assert long == "校准曲线（预测类别的置信度）\nCalibration (confidence of the predicted class)"
    titles: list[str] = []
    real = Axes.set

    def spy(self, **kwargs):  # noqa: ANN001, ANN202 - records the labels the plots set, then sets them
        titles.extend(str(v) for k, v in kwargs.items() if k in ("title", "xlabel", "ylabel"))
        return real(self, **kwargs)

    monkeypatch.setattr(Axes, "set", spy)
    y = np.array(["是", "否"] * 20, dtype=object)
    proba = np.column_stack([np.linspace(0, 1, 40), 1 - np.linspace(0, 1, 40)])
    drawn = classification_plots(y, y, proba, ["否", "是"], {"年龄": 1.0})
    assert {"roc_curve", "pr_curve", "confusion_matrix", "calibration", "feature_importance"} <= set(drawn)
    assert "ROC 曲线 · ROC curve" in titles and "假阳性率 · False positive rate" in titles
    assert all(re.search(r"[\u4e00-\u9fff]", t) and re.search(r"[A-Za-z]", t) for t in titles), titles
    monkeypatch.setattr(core_plots, "FONTS", ["DejaVu Sans"])  # no CJK font: boxes, not an error
    assert core_plots.render_png(lambda ax: ax.set(title=core_plots.bilingual("混淆矩阵", "Confusion matrix")))[:4] \
        == b"\x89PNG"


def test_the_generation_section_and_the_rework_rounds_in_both_languages() -> None:
    content = _content()
    content["generation"] = {
        "winner": "lora-1", "rows": 40, "out_of_domain": 12, "choice_rows": 5, "merged": True,
        "compare": [{"metric": "rouge_l", "base": 0.2, "tuned": 0.5, "direction": "higher"}],
        "trials": [{"name": "lora-1", "steps": 30, "fit_seconds": 12.0, "tokens_per_s": 800.0,
                    "valid_metrics": {"eval_loss": 1.2}, "note": "r=8"}],
        "samples": [{"prompt": "怎么还款？", "reference": "按月还款", "base": "不知道", "tuned": "按月还款",
                     "claims": [{"text": "按月还款", "supported": True}, {"text": "利率为零", "supported": False}]}]}
    content["rework"] = [{"round": 1, "failed": ["recall_macro 0.84 does not meet >= 0.87"],
                          "actions": [{"kind": "threshold", "why": "move it", "families": []}],
                          "winner": "xgboost-r1-threshold", "passed": True, "checks": [], "seconds": 3.0}]
    english, chinese = render_report(content, {}), render_report(content, {}, lang="zh-CN")
    for text in ("Generation: base vs lora-1 on the same 40 test prompts", "Fine-tuning trials", "Side by side",
                 "✗ unsupported 利率为零", "12 out-of-domain questions", "Rework rounds", "decision threshold"):
        assert text in english, text
    for text in ("生成：基座模型与 lora-1 在相同的 40 条测试提示上的对比", "微调试验", "逐条对比", "✗ 无依据 利率为零",
                 "越高越好", "12 个从未训练过的领域外问题", "返工轮次", "调整决策阈值", "本轮胜出"):
        assert text in chinese, text
    for english_only in ("Fine-tuning trials", "Side by side", "Claims of the tuned answer", "Rework rounds"):
        assert english_only not in chinese, english_only
