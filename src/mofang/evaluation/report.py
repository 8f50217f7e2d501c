"""The HTML evaluation report: one self-contained page (plots embedded) per report language (Chinese and English,
the text from `report_text`), plus the plots as PNG files (their labels in both languages)."""

from __future__ import annotations

import base64
import math
import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from mofang.evaluation.report_text import DEFAULT, LANGUAGES, REPORT_FILES, report_file, translator

__all__ = ["LANGUAGES", "REPORT_FILES", "copy_reports", "render_report", "report_file", "write_report"]


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, int | float):
        return f"{value:.{digits}f}"
    return str(value)


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("mofang.evaluation", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    env.globals["fmt"] = _fmt
    return env


def render_report(content: dict[str, Any], plots: dict[str, bytes], lang: str = DEFAULT) -> str:
    """The report HTML in `lang` ("en" or "zh-CN"). `content` holds order, job_id, task, dataset, winner, metrics,
    primary_metric, metric_names, gate, verdict, leaderboard and reasons ([{"where", "text"}]); optionally
    per_class ([{"class", "precision", "recall", "f1", "support"}]) and robustness (a robustness measure: metric,
    clean_score, rows [{"perturbation", "score", "drop", "changed_share", "detail"?}], examples) with the
    order's max_robustness_drop. Text the stations wrote (reasons, check messages) is shown as written."""
    t = translator(lang)
    embedded = [{"name": name, "title": t(f"plot.{name}", default=name),
                 "data": base64.b64encode(png).decode("ascii")} for name, png in plots.items()]
    dataset = content.get("dataset") or {}
    kinds = Counter(f.get("kind", "?") for f in dataset.get("features") or [])
    failed = [c for c in content["gate"].get("checks", []) if not c["passed"]]
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return _environment().get_template("report.html.j2").render(
        **content, plots=embedded, failed=failed, feature_kinds=dict(kinds), generated=generated, lang=lang, t=t)


def write_report(folder: Path, content: dict[str, Any], plots: dict[str, bytes]) -> Path:
    """Write the report in every language (report.html in English, report.zh-CN.html) and each plot as
    <name>.png into `folder`; return the English HTML's path (the others lie beside it, see `report_file`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, png in plots.items():
        (folder / f"{name}.png").write_bytes(png)
    for lang in LANGUAGES:
        (folder / report_file(lang)).write_text(render_report(content, plots, lang), encoding="utf-8")
    return folder / report_file(DEFAULT)


def copy_reports(english: Path | str, folder: Path) -> list[str]:
    """Copy the report at `english` (report.html) and its translations found beside it into `folder` (a bundle);
    return the names copied (a report written before translations existed has only report.html)."""
    source = Path(english)
    copied = []
    for name in REPORT_FILES:
        path = source if name == report_file(DEFAULT) else source.with_name(name)
        if path.is_file():
            shutil.copyfile(path, folder / name)
            copied.append(name)
    return copied
