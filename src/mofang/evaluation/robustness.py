"""The text robustness suite: seeded perturbations of Chinese and English text and the score drop they cause.

Perturbations (registry `PERTURBATIONS`, stable names):

- ``typos``: character deletion, duplication and adjacent swap; Latin letters and digits may also be
  replaced by a QWERTY neighbour (``g`` → ``f h t y v b``), keeping case.
- ``homophones``: Chinese characters replaced by another common character with the same pinyin and tone
  (read in context with pypinyin), e.g. 味 wei4 → 未; the table is built once, lazily, from GB2312 level 1.
- ``traditional``: simplified → traditional (OpenCC s2t, phrase-aware); text already holding traditional
  characters goes the other way (t2s).
- ``punctuation``: punctuation removed, swapped between full and half width (，↔, 。↔.) or added.
- ``whitespace``: spaces, newlines, tabs and ideographic spaces inserted between characters.
- ``truncation``: only the first half of the text is kept.

Each is ``fn(text, rng, rate) -> text``: ``rate`` is the share of eligible characters (or gaps) edited, at
least one when any is eligible (``traditional`` and ``truncation`` ignore it). `perturb` seeds one
`random.Random` per (seed, perturbation, text), so a text is perturbed the same way in any batch, on any
machine, and duplicates stay duplicates.

    report = robustness_report(model.predict, texts, y_true, f1_macro, seed=42)
    report.clean_score, report.rows          # rows: perturbation, score, drop, changed_share
    worst_drop(report)                       # the row with the largest drop, for the gate
    robustness_plot(report, max_drop=0.05)   # PNG bytes for the HTML report

`predict` must map a list of texts to row-aligned predictions (labels, lists of labels for multi-label, or
a 2-D indicator array); `metric_fn(y_true, y_pred)` decides how they are scored. Only the texts a
perturbation changed are predicted again, so a predictor must be row-independent (as classifiers are).
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import numpy as np

from mofang.core.plots import bilingual, render_png

Perturbation = Callable[[str, random.Random, float], str]
Predict = Callable[[list[str]], Any]
MetricFn = Callable[[Any, Any], float]

PERTURBATIONS: dict[str, Perturbation] = {}
DEFAULT_RATE = 0.1
TRUNCATION_KEEP = 0.5
EXAMPLES = 3  # changed texts kept per perturbation in a report


F = TypeVar("F", bound=Callable[..., Any])


def registrar(table: dict[str, F]) -> Callable[[str], Callable[[F], F]]:
    """A decorator factory that registers perturbations in `table` under stable names (a task's own suite
    uses it for its table too); registering a name twice is an error."""

    def named(name: str) -> Callable[[F], F]:
        def register(fn: F) -> F:
            if name in table:
                raise ValueError(f"perturbation {name!r} is already registered")
            table[name] = fn
            return fn

        return register

    return named


perturbation = registrar(PERTURBATIONS)  # register a text perturbation under a stable name


def perturb(texts: Sequence[str], name: str | Perturbation, *, rate: float = DEFAULT_RATE,
            seed: int = 0) -> list[str]:
    """Every text perturbed by `name` (a registered name or a perturbation function), deterministically."""
    label, fn = _resolve(name)
    return _apply(texts, label, fn, rate, seed)


def _apply(texts: Sequence[str], label: str, fn: Perturbation, rate: float, seed: int) -> list[str]:
    return [fn(text, random.Random(f"{seed}:{label}:{text}"), rate) for text in map(str, texts)]


def _resolve(name: str | Perturbation) -> tuple[str, Perturbation]:
    if callable(name):
        return getattr(name, "__name__", "custom"), name
    if name not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {name!r} (expected: {', '.join(PERTURBATIONS)})")
    return name, PERTURBATIONS[name]


def _edits(eligible: int, rate: float) -> int:
    """How many of `eligible` positions to edit: `rate` of them, at least one when there is any."""
    return 0 if eligible <= 0 else min(eligible, max(1, round(rate * eligible)))


def is_cjk(char: str) -> bool:
    """A CJK unified ideograph (basic block or extension A)."""
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


# -- typos -----------------------------------------------------------------------------------------------
_KEY_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
_ROW_SHIFT = (0.0, 0.5, 0.75, 1.25)  # the stagger of a physical keyboard


@functools.cache
def keyboard_neighbours() -> dict[str, str]:
    """Each lower-case letter or digit → the keys touching it on a QWERTY keyboard."""
    where = {key: (col + _ROW_SHIFT[row], row) for row, keys in enumerate(_KEY_ROWS) for col, key in enumerate(keys)}
    return {key: "".join(other for other, (ox, oy) in where.items()
                         if other != key and abs(oy - y) <= 1 and abs(ox - x) <= 1 and (oy != y or abs(ox - x) == 1))
            for key, (x, y) in where.items()}


@perturbation("typos")
def typos(text: str, rng: random.Random, rate: float) -> str:
    """Delete, duplicate or swap adjacent characters; Latin letters and digits may hit a neighbouring key."""
    spots = [i for i, c in enumerate(text) if not c.isspace()]
    chosen = set(rng.sample(spots, _edits(len(spots), rate)))
    neighbours = keyboard_neighbours()
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if i not in chosen:
            out.append(char)
            i += 1
            continue
        ops = ["delete", "duplicate"] if len(text) > 1 else ["duplicate"]  # never an empty text
        if i + 1 < len(text) and text[i + 1] != char and not text[i + 1].isspace():
            ops.append("swap")
        if char.lower() in neighbours:
            ops += ["keyboard", "keyboard"]  # the commonest typo on a Latin keyboard
        op = rng.choice(ops)
        if op == "duplicate":
            out += [char, char]
        elif op == "swap":
            out += [text[i + 1], char]
            i += 1
        elif op == "keyboard":
            key = rng.choice(neighbours[char.lower()])
            out.append(key.upper() if char.isupper() else key)
        i += 1
    return "".join(out) or text[:1]  # a short text whose every character was deleted keeps its first


# -- homophones ------------------------------------------------------------------------------------------
def common_chinese_chars() -> list[str]:
    """The 3,755 GB2312 level-1 characters (the common ones), taken from the codec: no list is shipped."""
    chars = []
    for lead in range(0xB0, 0xD8):
        for trail in range(0xA1, 0xFF):
            try:
                chars.append(bytes((lead, trail)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return chars


@functools.cache
def homophone_table() -> dict[str, tuple[str, ...]]:
    """Pinyin with tone (``wei4``, neutral tone ``5``) → the common characters having only that reading.

    Characters with several readings (行 hang2/xing2) are left out as replacements, so a replacement always
    reads as the character it replaces."""
    from pypinyin import Style, pinyin

    table: dict[str, list[str]] = {}
    for char in common_chinese_chars():
        readings = pinyin(char, style=Style.TONE3, heteronym=True, neutral_tone_with_five=True)[0]
        if len(readings) == 1 and readings[0][-1:].isdigit():
            table.setdefault(readings[0], []).append(char)
    return {reading: tuple(chars) for reading, chars in table.items() if len(chars) > 1}


def pinyin_in_context(text: str) -> list[str | None]:
    """Each character's reading with tone (phrase-aware, so 银行 reads hang2), None where it is not Chinese."""
    from pypinyin import Style, lazy_pinyin

    # anything pypinyin cannot read comes back one item per character, so items and characters align
    items = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True, errors=lambda run: list(run))
    if len(items) != len(text):
        return [None] * len(text)
    return [item if is_cjk(char) and item[-1:].isdigit() else None for char, item in zip(text, items, strict=True)]


@perturbation("homophones")
def homophones(text: str, rng: random.Random, rate: float) -> str:
    """Replace Chinese characters by a common character with the same pinyin and tone."""
    table = homophone_table()
    readings = pinyin_in_context(text)
    spots = [i for i, r in enumerate(readings) if r is not None and any(c != text[i] for c in table.get(r, ()))]
    chars = list(text)
    for i in rng.sample(spots, _edits(len(spots), rate)):
        chars[i] = rng.choice([c for c in table[readings[i]] if c != text[i]])  # type: ignore[index]
    return "".join(chars)


# -- traditional / simplified ----------------------------------------------------------------------------
@functools.cache
def _opencc(config: str) -> Any:
    import opencc

    return opencc.OpenCC(config)


def to_traditional(text: str) -> str:
    """Simplified → traditional Chinese (OpenCC s2t)."""
    return _opencc("s2t").convert(text)


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese (OpenCC t2s)."""
    return _opencc("t2s").convert(text)


@perturbation("traditional")
def traditional(text: str, rng: random.Random, rate: float) -> str:
    """The whole text in the other script: simplified → traditional, or traditional → simplified."""
    simplified = to_simplified(text)
    return simplified if simplified != text else to_traditional(text)


# -- punctuation -----------------------------------------------------------------------------------------
FULL_TO_HALF = {"，": ",", "。": ".", "！": "!", "？": "?", "：": ":", "；": ";", "（": "(", "）": ")", "“": '"',
                "”": '"', "、": ","}
HALF_TO_FULL = {",": "，", ".": "。", "!": "！", "?": "？", ":": "：", ";": "；", "(": "（", ")": "）", '"': "“"}
CJK_MARKS = "，。！？、~…"
LATIN_MARKS = ",.!?;"


def _is_punctuation(text: str, i: int) -> bool:
    char = text[i]
    if char not in FULL_TO_HALF and char not in HALF_TO_FULL and char not in "…~":
        return False
    return not (char in ".," and _is_number_mark(text, i))


@perturbation("punctuation")
def punctuation(text: str, rng: random.Random, rate: float) -> str:
    """Remove punctuation or swap it between full and half width; add some after a Chinese character or a
    Latin word."""
    spots = [i for i in range(len(text)) if _is_punctuation(text, i) or _may_add_mark(text, i)]
    chosen = set(rng.sample(spots, _edits(len(spots), rate)))
    out: list[str] = []
    for i, char in enumerate(text):
        if i not in chosen:
            out.append(char)
        elif _is_punctuation(text, i):
            swap = FULL_TO_HALF.get(char) or HALF_TO_FULL.get(char)
            out.append(rng.choice(["", swap]) if swap else "")
        else:
            out += [char, rng.choice(CJK_MARKS if is_cjk(char) else LATIN_MARKS)]
    return "".join(out)


def _may_add_mark(text: str, i: int) -> bool:
    """After a Chinese character, or at the end of a Latin word (never inside a word or a number)."""
    if is_cjk(text[i]):
        return True
    return text[i].isalnum() and (i + 1 == len(text) or text[i + 1].isspace())


# -- whitespace ------------------------------------------------------------------------------------------
WHITESPACE = (" ", " ", "  ", "\n", "\t", "\u3000")


@perturbation("whitespace")
def whitespace(text: str, rng: random.Random, rate: float) -> str:
    """Insert spaces, newlines, tabs or ideographic spaces: between Chinese characters, next to spaces and
    punctuation, at both ends; never inside a Latin word or a number."""
    gaps = [i for i in range(len(text) + 1) if not _inside_word(text, i)]
    chosen = set(rng.sample(gaps, _edits(len(gaps), rate)))
    pieces: list[str] = []
    for gap in range(len(text) + 1):  # gap i lies before text[i]; gap len(text) after the last character
        if gap in chosen:
            pieces.append(rng.choice(WHITESPACE))
        pieces.append(text[gap:gap + 1])
    return "".join(pieces)


def _inside_word(text: str, gap: int) -> bool:
    """Whether the gap before `text[gap]` lies inside a Latin word or a number (3.5, 1,000)."""
    if not 0 < gap < len(text):
        return False
    before, after = text[gap - 1], text[gap]
    word = [c.isalnum() and not is_cjk(c) for c in (before, after)]
    if all(word):
        return True
    return (before in ".," and _is_number_mark(text, gap - 1)) or (after in ".," and _is_number_mark(text, gap))


def _is_number_mark(text: str, i: int) -> bool:
    """A '.' or ',' between two digits (3.5, 1,000): part of a number, not punctuation."""
    return 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit()


# -- truncation ------------------------------------------------------------------------------------------
@perturbation("truncation")
def truncation(text: str, rng: random.Random, rate: float) -> str:
    """Keep only the first half of the text (at least one character)."""
    return text[:max(1, math.floor(len(text) * TRUNCATION_KEEP))]


# -- the report ------------------------------------------------------------------------------------------
@dataclass
class RobustnessReport:
    """The clean score and, per perturbation, its score, drop (clean − perturbed) and share of texts changed."""

    clean_score: float
    rows: list[dict[str, Any]]
    rate: float
    seed: int
    examples: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: clean_score, rate, seed, rows, examples."""
        return asdict(self)


def robustness_report(predict: Predict, texts: Sequence[str], y_true: Any, metric_fn: MetricFn,
                      perturbations: Sequence[str] | Mapping[str, Perturbation] | None = None, *,
                      rate: float = DEFAULT_RATE, seed: int = 0, greater_is_better: bool = True) -> RobustnessReport:
    """Score `predict` on the clean texts and on each perturbation of them.

    `perturbations`: registered names, or a mapping name → perturbation function (default: all registered).
    Rows are in the order given: {perturbation, score, drop, changed_share}; `drop` is clean − perturbed
    score (perturbed − clean when `greater_is_better` is false, e.g. for a loss), so a positive drop is
    always a loss of quality."""
    texts = [str(t) for t in texts]
    chosen: dict[str, Perturbation] = (dict(perturbations) if isinstance(perturbations, Mapping)
                                       else {name: _resolve(name)[1] for name in (perturbations or PERTURBATIONS)})
    clean_pred = predict(texts)
    clean = float(metric_fn(y_true, clean_pred))
    rows, examples = [], {}
    for name, fn in chosen.items():
        perturbed = _apply(texts, name, fn, rate, seed)
        changed = [i for i, (a, b) in enumerate(zip(texts, perturbed, strict=True)) if a != b]
        pred = _replace_rows(clean_pred, changed, predict([perturbed[i] for i in changed]) if changed else [])
        score = float(metric_fn(y_true, pred))
        drop = clean - score if greater_is_better else score - clean
        rows.append({"perturbation": name, "score": score, "drop": drop,
                     "changed_share": len(changed) / len(texts) if texts else 0.0})
        examples[name] = [{"text": texts[i], "perturbed": perturbed[i]} for i in changed[:EXAMPLES]]
    return RobustnessReport(clean_score=clean, rows=rows, rate=rate, seed=seed, examples=examples)


def _replace_rows(clean: Any, rows: list[int], new: Any) -> Any:
    """The clean predictions with `rows` replaced by `new` (same container kind as the clean ones)."""
    if isinstance(clean, np.ndarray):
        out = clean.copy()
        if rows:
            out[rows] = np.asarray(new, dtype=clean.dtype) if clean.dtype != object else list(new)
        return out
    out_list = list(clean)
    for i, value in zip(rows, new, strict=True):
        out_list[i] = value
    return out_list


def worst_drop(report: RobustnessReport) -> dict[str, Any] | None:
    """The row with the largest drop (None when the report has no rows): what a robustness gate checks."""
    return max(report.rows, key=lambda row: row["drop"], default=None)


def robustness_plot(report: RobustnessReport, *, max_drop: float | None = None, title: str | None = None) -> bytes:
    """PNG bytes: a bar of the drop per perturbation, the allowed `max_drop` as a dashed line when given."""

    rows = report.rows[::-1]  # the first perturbation on top

    def draw(ax: Any) -> None:
        drops = [row["drop"] for row in rows]
        colours = ["#e45756" if max_drop is not None and d > max_drop else "#4c78a8" for d in drops]
        ax.barh([row["perturbation"] for row in rows], drops, color=colours)
        for y, row in enumerate(rows):
            ax.annotate(f" {row['drop']:+.3f} → {row['score']:.3f} ({row['changed_share']:.0%} 改变 · changed)",
                        (max(row["drop"], 0), y), va="center", fontsize=8)
        ax.axvline(0, color="grey", linewidth=1)
        if max_drop is not None:
            ax.axvline(max_drop, color="#e45756", linestyle="--", linewidth=1,
                       label=bilingual(f"允许的下降 {max_drop:g}", f"allowed drop {max_drop:g}"))
            ax.legend(loc="best", fontsize=8)
        right = max([0.0, *drops, max_drop or 0.0])
        ax.set_xlim(min([0.0, *drops]) * 1.1, right * 1.9 + 1e-3)
        ax.set(xlabel=bilingual(f"相对未扰动得分 {report.clean_score:.3f} 的下降",
                                f"Drop from clean score {report.clean_score:.3f}"),
               title=title or bilingual(f"鲁棒性（扰动比例 {report.rate:g}，随机种子 {report.seed}）",
                                        f"Robustness (rate {report.rate:g}, seed {report.seed})"))

    return render_png(draw, size=(6.0, max(2.5, 0.45 * len(rows) + 1.5)))
