"""Anomaly report plots: the timeline of scores with true and detected windows, and the score distributions."""

from __future__ import annotations

from typing import Any

import numpy as np

from mofang.core.metrics.anomaly import runs
from mofang.core.plots import bilingual, render_png

MAX_POINTS = 5000  # readings drawn on the timeline (every k-th beyond that; windows are drawn in full)


def anomaly_plots(scores: np.ndarray, flags: np.ndarray, threshold: float, truth: np.ndarray | None,
                  times: np.ndarray | None = None, segment: np.ndarray | None = None) -> dict[str, bytes]:
    """{"anomaly_timeline", "score_distribution"} for readings in time order."""
    x = np.asarray(times) if times is not None else np.arange(len(scores))
    return {"anomaly_timeline": render_png(lambda ax: _timeline(ax, x, scores, flags, threshold, truth, segment),
                                           size=(10.0, 3.6)),
            "score_distribution": render_png(lambda ax: _distribution(ax, scores, threshold, truth))}


def _timeline(ax: Any, x: np.ndarray, scores: np.ndarray, flags: np.ndarray, threshold: float,
              truth: np.ndarray | None, segment: np.ndarray | None) -> None:
    step = max(1, len(scores) // MAX_POINTS)
    ax.plot(x[::step], scores[::step], color="#455a64", linewidth=0.7, label=bilingual("异常分数", "anomaly score"))
    ax.axhline(threshold, color="#ef6c00", linestyle="--", linewidth=1,
               label=bilingual(f"阈值 {threshold:.3g}", f"threshold {threshold:.3g}"))
    if truth is not None:
        for k, (start, end) in enumerate(runs(np.asarray(truth) == 1, segment)):
            ax.axvspan(x[start], x[end], color="#c62828", alpha=0.18,
                       label=bilingual("真实异常窗口", "true anomaly window") if k == 0 else None)
    top = np.nanmax(scores) if len(scores) else 1.0
    for k, (start, end) in enumerate(runs(flags, segment)):
        ax.plot([x[start], x[end]], [top * 1.04] * 2, color="#1565c0", linewidth=4, solid_capstyle="butt",
                label=bilingual("检出窗口", "detected window") if k == 0 else None)
    ax.set_ylabel(bilingual("分数", "score"))
    ax.set_title(bilingual("测试集异常时间线：真实窗口（阴影）与检出窗口（横条）",
                           "Anomaly timeline on test: true windows (shaded) and detected windows (bars)"))
    ax.legend(loc="upper left", fontsize=8, ncol=4)


def _distribution(ax: Any, scores: np.ndarray, threshold: float, truth: np.ndarray | None) -> None:
    finite = np.isfinite(scores)
    bins = np.histogram_bin_edges(scores[finite], bins=50) if finite.any() else 10
    if truth is None:
        ax.hist(scores[finite], bins=bins, color="#455a64", alpha=0.7, label=bilingual("全部读数", "all readings"))
    else:
        normal = np.asarray(truth) == 0
        ax.hist(scores[finite & normal], bins=bins, color="#455a64", alpha=0.6,
                label=bilingual("正常读数", "normal readings"))
        ax.hist(scores[finite & ~normal], bins=bins, color="#c62828", alpha=0.6,
                label=bilingual("异常读数", "anomalous readings"))
    ax.axvline(threshold, color="#ef6c00", linestyle="--", label=bilingual("阈值", "threshold"))
    ax.set_yscale("log")
    ax.set_xlabel(bilingual("异常分数", "anomaly score"))
    ax.set_title(bilingual("测试集上的分数", "Scores on test"))
    ax.legend(fontsize=8)
