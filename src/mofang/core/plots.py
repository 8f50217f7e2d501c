"""Plots as PNG bytes for every page Mofang writes (reports, data cards, labelling rounds): matplotlib's Agg
canvas, no global pyplot state, fonts that draw Chinese labels."""

from __future__ import annotations

import functools
import io
import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# fonts able to draw Chinese column names, with a fallback that always exists
FONTS = ["Noto Sans CJK SC", "WenQuanYi Micro Hei", "SimHei", "DejaVu Sans"]
# where Debian/Ubuntu put the CJK fonts `make fonts` installs
CJK_FONT_FILES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
                  "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


@functools.cache
def _register_cjk_fonts() -> None:
    """Add CJK fonts installed after matplotlib built its font cache (it never rescans by itself)."""
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    if known & set(FONTS[:-1]):
        return
    for path in CJK_FONT_FILES:
        if Path(path).exists():
            font_manager.fontManager.addfont(path)


@contextmanager
def _style() -> Iterator[None]:
    _register_cjk_fonts()
    font_log = logging.getLogger("matplotlib.font_manager")
    level = font_log.level
    font_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), matplotlib.rc_context(
                {"font.family": "sans-serif", "font.sans-serif": FONTS, "axes.unicode_minus": False}):
            warnings.simplefilter("ignore")
            yield
    finally:
        font_log.setLevel(level)


def bilingual(chinese: str, english: str, *, width: int = 44) -> str:
    """A plot label in both report languages, Chinese first: one line when short, else two (one PNG serves the
    Chinese and the English report; without a CJK font the Chinese half draws as boxes, never an error)."""
    return f"{chinese} · {english}" if len(chinese) * 2 + len(english) <= width else f"{chinese}\n{english}"


def render_png(draw: Callable[[Any], None], size: tuple[float, float] = (5.0, 4.0)) -> bytes:
    """One plot drawn by `draw(ax)` as PNG bytes, with CJK-capable fonts."""
    return _render(draw, size)


def _render(draw: Callable[[Any], None], size: tuple[float, float] = (5.0, 4.0)) -> bytes:
    with _style():
        fig = Figure(figsize=size, dpi=100)
        FigureCanvasAgg(fig)
        draw(fig.add_subplot(1, 1, 1))
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    return buffer.getvalue()
