"""The data card as one self-contained HTML page with plots (rows per process, missing values, classes,
PII found, duplicate clusters, quality histograms)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from mofang.core.plots import render_png

MAX_BARS = 30


def write_card_html(card: dict, path: Path) -> None:
    """Render the card to `path` (UTF-8, plots embedded as PNG)."""
    plots = card_plots(card)
    env = Environment(loader=PackageLoader("mofang.data", "templates"), autoescape=select_autoescape(["j2"]))
    html = env.get_template("data_card.html.j2").render(
        card=card, plots=[{"title": t, "data": base64.b64encode(png).decode("ascii")} for t, png in plots])
    path.write_text(html, encoding="utf-8")


def card_plots(card: dict) -> list[tuple[str, bytes]]:
    """(title, PNG) pairs for whatever the card has data for."""
    plots: list[tuple[str, bytes]] = []
    rows = card.get("rows") or {}
    if rows:
        plots.append(("Rows after each process", _bars(list(rows), list(rows.values()), "rows", horizontal=True)))
    missing = {k: v for k, v in (card.get("missing_ratios") or {}).items() if v > 0}
    if missing:
        top = sorted(missing.items(), key=lambda kv: -kv[1])[:MAX_BARS]
        plots.append(("Missing share per feature", _bars([k for k, _ in top], [v for _, v in top], "share",
                                                         horizontal=True)))
    balance = (card.get("target_summary") or {}).get("class_balance")
    if balance:
        top = sorted(balance.items(), key=lambda kv: -kv[1])[:MAX_BARS]
        plots.append(("Class balance", _bars([k for k, _ in top], [v for _, v in top], "rows")))
    pii = pii_counts(card)
    if pii:
        plots.append(("Personal data found (by kind)", _bars(list(pii), list(pii.values()), "values found")))
    sizes = cluster_sizes(card)
    if sizes:
        plots.append(("Duplicate cluster sizes", _bars([str(s) for s in sizes], list(sizes.values()),
                                                       "clusters")))
    for title, edges, counts in histograms(card.get("quality") or []):
        plots.append((title, _histogram(edges, counts, title.rsplit(" · ", 1)[-1])))
    return plots


def pii_counts(card: dict) -> dict[str, int]:
    """Values found per PII kind, summed over the desensitize steps' findings."""
    totals: dict[str, int] = {}
    for finding in (card.get("pii") or {}).get("found", []):
        for item in _walk(finding):
            kind, count = item.get("kind"), item.get("count")
            if isinstance(kind, str) and isinstance(count, int):
                totals[kind] = totals.get(kind, 0) + count
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def cluster_sizes(card: dict) -> dict[int, int]:
    """How many duplicate clusters of each size the dedupe steps reported."""
    sizes: dict[int, int] = {}
    for step in card.get("duplicates") or []:
        histogram = step.get("cluster_sizes")
        if isinstance(histogram, dict):
            for size, count in histogram.items():
                sizes[int(size)] = sizes.get(int(size), 0) + int(count)
    return dict(sorted(sizes.items()))


def histograms(steps: list[dict]) -> Iterator[tuple[str, list[float], list[int]]]:
    """Every {edges, counts} histogram inside the quality steps' details, titled by where it sits."""
    for step in steps:
        for path, item in _walk_paths(step, (step.get("op", "quality"),)):
            if "edges" in item and "counts" in item:
                yield " · ".join(str(p) for p in path), list(item["edges"]), list(item["counts"])


def _walk(value: Any) -> Iterator[dict]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _walk_paths(value: Any, path: tuple) -> Iterator[tuple[tuple, dict]]:
    if isinstance(value, dict):
        yield path, value
        for key, item in value.items():
            yield from _walk_paths(item, (*path, key))
    elif isinstance(value, list):
        for item in value:
            yield from _walk_paths(item, path)


def _bars(labels: list[str], values: list[float], unit: str, horizontal: bool = False) -> bytes:
    def draw(ax: Any) -> None:
        texts = [f"{v:,.0f}" if float(v).is_integer() else f"{v:.1%}" for v in values]
        if horizontal:
            bars = ax.barh(range(len(values)), values, color="#3b6ea5")
            ax.set_yticks(range(len(values)), labels)
            ax.invert_yaxis()
            ax.set_xlabel(unit)
        else:
            bars = ax.bar(range(len(values)), values, color="#3b6ea5")
            ax.set_xticks(range(len(values)), labels, rotation=45 if len(labels) > 5 else 0, ha="right")
            ax.set_ylabel(unit)
        ax.bar_label(bars, texts, fontsize=8, padding=2)
    height = max(3.0, 0.3 * len(labels) + 1.5) if horizontal else 4.0
    return render_png(draw, size=(6.0, height))


def _histogram(edges: list[float], counts: list[int], measure: str) -> bytes:
    def draw(ax: Any) -> None:
        widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=False)]
        ax.bar(edges[:-1], counts, width=widths, align="edge", color="#5a9", edgecolor="white")
        low = edges[0] if edges and edges[0] > 0 else (edges[1] if len(edges) > 1 else 0)
        if low > 0 and edges[-1] / low > 50:  # log-spaced bins (text lengths)
            ax.set_xscale("symlog", linthresh=low) if edges[0] <= 0 else ax.set_xscale("log")
        ax.set_xlabel(measure)
        ax.set_ylabel("rows")
    return render_png(draw, size=(5.5, 3.5))
