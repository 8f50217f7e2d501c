"""Text augmentation: edited copies with lineage, minority-only balancing, seeded edits."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from mofang.data.augment.lineage import PARENT, SYNTHETIC
from mofang.data.augment.text import TextAugment
from mofang.data.augment.text_edits import augment_text, edit_text
from mofang.data.ops import ROW, OpContext

CTX = OpContext(task="text-classification", target="label", kinds={"review": "text"}, seed=5)


def _reviews() -> pa.Table:
    good = ["非常好吃，送餐很快", "味道不错，下次还点", "服务态度很好，推荐", "价格便宜，质量不错"] * 5
    bad = ["太慢了，等了一个小时", "难吃，很失望"] * 3
    return pa.table({ROW: np.arange(1, 27), "review": good + bad, "label": ["pos"] * 20 + ["neg"] * 6})


def test_edits_change_the_text_and_keep_it_recognisable():
    rng = np.random.default_rng(0)
    assert edit_text("这家店的味道不错", "synonym", 0.5, rng) == "这家店的口味挺好"
    punctuated = edit_text("hello world", "punctuation", 0.2, rng)
    assert len(punctuated) > 11 and punctuated.replace(",", "").replace(".", "").replace("!", "").replace(
        "?", "").replace(";", "").replace(":", "") == "hello world"
    assert len(edit_text("abcdefgh", "delete", 0.25, rng)) == 6
    assert sorted(edit_text("abcdefgh", "swap", 0.1, rng)) == list("abcdefgh")
    assert augment_text("xyz", ["synonym", "swap"], 0.3, rng) != "xyz"  # no synonym: falls back to a swap


def test_minority_only_fills_the_gap_with_edited_copies():
    table = _reviews()
    out, trace = TextAugment({"minority_only": True, "factor": 5})(table, CTX)
    frame = out.to_pandas()
    synthetic = frame[frame[SYNTHETIC]]
    assert frame.label.value_counts().to_dict() == {"pos": 20, "neg": 20}
    assert (synthetic.label == "neg").all() and len(synthetic) == 14 == trace.details["added"]
    parents = frame.set_index(ROW).loc[synthetic[PARENT]]
    assert (parents.label.to_numpy() == "neg").all() and not parents[SYNTHETIC].any()
    assert (parents.review.to_numpy() != synthetic.review.to_numpy()).all()
    assert synthetic[ROW].tolist() == list(range(27, 41))
    again, _ = TextAugment({"minority_only": True, "factor": 5})(table, CTX)
    assert again.equals(out)


def test_factor_grows_every_class_and_skips_other_tasks():
    out, trace = TextAugment({"factor": 0.5, "ops": ["punctuation"]})(_reviews(), CTX)
    assert out.num_rows == 26 + 13 and trace.details["unchanged_texts"] == 0
    table = _reviews()
    out, trace = TextAugment()(table, OpContext(task="tabular-classification", target="label"))
    assert out is table and "text classification" in trace.details["note"]
