"""Text quality: length, repetition, garbage and language per text; flagging and dropping by limits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from mofang.data.ops import ROW, OpContext
from mofang.data.quality.text_filter import TextQuality
from mofang.data.quality.text_metrics import char_lengths, garbage_ratios, histogram, languages, repetition_ratios
from tests.conftest import shared_dataset

TEXTS = pa.array(["这个iPhone很好用！", "I love this phone.", "锟斤拷锟斤拷\ufffd\x01", "没有送水没有送水没有送水",
                  "a\nb\na\na", "Привет мир", "", None])


def test_metrics_per_text():
    assert char_lengths(TEXTS)[:3].tolist() == [12, 18, 8] and np.isnan(char_lengths(TEXTS)[-1])
    garbage = garbage_ratios(TEXTS)
    assert garbage[0] == garbage[1] == garbage[3] == 0 and garbage[2] == 1.0 and garbage[6] == 0
    assert 0 < garbage_ratios(pa.array(["Ã©tÃ© caf\ue000"]))[0] < 1  # Latin-1 mojibake and private use
    assert languages(TEXTS).tolist() == ["zh", "en", "zh", "zh", "en", "other", "other", None]
    repetition = repetition_ratios(TEXTS)
    assert repetition[3] > 0.5 and repetition[4] == 0.5 and repetition[0] == repetition[1] == 0


def test_histogram_bins_are_json_ready():
    counts = histogram(np.array([1.0, 2.0, 50.0, np.nan]), log=True, bins=5)
    assert sum(counts["counts"]) == 3 and counts["edges"][0] == 0 and len(counts["edges"]) == len(counts["counts"]) + 1


def test_flag_keeps_rows_and_drop_removes_them_with_reasons():
    table = pa.table({ROW: np.arange(1, 9), "review": TEXTS, "label": ["1"] * 8})
    ctx = OpContext(task="text-classification", target="label", kinds={"review": "text", "label": "categorical"})
    params = {"min_chars": 2, "max_garbage": 0.3, "max_repetition": 0.4, "languages": ["zh", "en"]}
    out, trace = TextQuality(params)(table, ctx)
    assert out is table and trace.details["flagged"] == 5
    assert {r["row"] for r in trace.details["flagged_rows"]} == {3, 4, 5, 6, 7}
    out, trace = TextQuality({**params, "action": "drop"})(table, ctx)
    assert out.column(ROW).to_pylist() == [1, 2, 8]  # a missing text is left to the missing-value tools
    reasons = {d["row"]: d["reason"] for d in trace.dropped_rows}
    assert "max_garbage" in reasons[3] and "max_repetition" in reasons[4] and "language other" in reasons[6]
    assert trace.details["columns"]["review"]["languages"] == {"zh": 3, "en": 2, "mixed": 0, "other": 2}


def test_skips_without_text_columns():
    table = pa.table({ROW: [1], "x": [1.0]})
    out, trace = TextQuality()(table, OpContext(kinds={"x": "numeric"}))
    assert out is table and trace.details["note"] == "no text columns"


def test_real_reviews_are_mostly_clean_chinese():
    frame = pd.read_csv(shared_dataset("text-classification/online_shopping_10_cats.csv")).head(5000)
    table = pa.table({ROW: np.arange(1, len(frame) + 1), "review": frame.review.astype(object).where(
        frame.review.notna(), None).tolist()})
    _, trace = TextQuality({"max_garbage": 0.5})(table, OpContext(kinds={"review": "text"}))
    column = trace.details["columns"]["review"]
    assert column["languages"]["zh"] > 0.9 * len(frame)
    assert sum(column["length"]["counts"]) == len(frame) - table.column("review").null_count
    assert trace.details["flagged"] < 0.02 * len(frame)
