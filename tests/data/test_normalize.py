"""Text normalization: the string-array functions and the normalize.* operators."""

from __future__ import annotations

import pyarrow as pa
import pytest

from mofang.data.ops import ROW, OpContext, RecipeError
from mofang.data.text import (
    TextNormalization,
    collapse_whitespace,
    fullwidth_to_halfwidth,
    normalize_text,
    remove_control_chars,
    strip_html,
    traditional_to_simplified,
)
from mofang.data.text.ops import NormalizeText, StripHtml, TraditionalToSimplified


def test_fullwidth_letters_digits_space_become_ascii_and_chinese_punctuation_is_kept_by_default():
    values = pa.array(["ＡＢＣ　ｘｙｚ１２３＠＃", "好吃，送餐快！（赞）", None])
    assert fullwidth_to_halfwidth(values).to_pylist() == ["ABC xyz123@#", "好吃，送餐快！（赞）", None]
    assert fullwidth_to_halfwidth(values, punctuation=True).to_pylist()[1] == "好吃,送餐快!(赞)"
    assert normalize_text(pa.array(["好吃。真的？"]), TextNormalization(fullwidth=False, punctuation=True)
                          ).to_pylist() == ["好吃.真的?"]


def test_control_chars_go_tabs_and_newlines_stay_and_whitespace_collapses():
    values = pa.array(["a\x00b\x07c\u200b", "x\r\ny\tz", "  two   spaces\u3000\xa0end ", "line\n\n  next", ""])
    assert remove_control_chars(values).to_pylist() == ["abc", "x\ny\tz", "  two   spaces\u3000\xa0end ",
                                                        "line\n\n  next", ""]
    assert collapse_whitespace(values).to_pylist() == ["a\x00b\x07c\u200b", "x\ny z", "two spaces end",
                                                       "line\nnext", ""]


def test_html_tags_entities_and_script_are_removed_and_plain_text_untouched():
    values = pa.array(["<p>价格&lt;100&amp;包邮</p><script>var a = '<b>';</script><style>p{}</style>好评",
                       "<div>一</div><div>二</div>", "a < b & c", "no markup", None])
    assert strip_html(values).to_pylist() == ["价格<100&包邮\n好评", "一\n二", "a < b & c", "no markup", None]


def test_traditional_to_simplified_only_changes_traditional_text():
    values = pa.array(["這個軟體很好用", "这个软件很好用", "頭髮", None])
    assert traditional_to_simplified(values).to_pylist() == ["这个软体很好用", "这个软件很好用", "头发", None]


def test_lowercase_is_optional_and_latin_only():
    values = pa.array(["ＨＥＬＬＯ World 你好"])
    assert normalize_text(values).to_pylist() == ["HELLO World 你好"]
    assert normalize_text(values, TextNormalization(lowercase=True)).to_pylist() == ["hello world 你好"]


def _table() -> tuple[pa.Table, OpContext]:
    table = pa.table({ROW: [1, 2, 3], "review": ["ＯＫ　好", "fine", None], "code": ["Ａ１", "B2", "C3"],
                      "score": [1, 2, 3]})
    return table, OpContext(kinds={"review": "text", "code": "categorical", "score": "numeric"})


def test_normalize_text_operator_counts_changed_cells_per_string_column():
    table, ctx = _table()
    out, trace = NormalizeText()(table, ctx)
    assert out.column("review").to_pylist() == ["OK 好", "fine", None]
    assert out.column("code").to_pylist() == ["A1", "B2", "C3"]  # categories are normalized too
    assert out.column("score").to_pylist() == [1, 2, 3]
    assert trace.changed == {"review": 1, "code": 1}
    assert trace.details["examples"]["review"] == [{"before": "ＯＫ　好", "after": "OK 好"}]
    out, trace = NormalizeText({"columns": ["review"]})(table, ctx)
    assert out.column("code").to_pylist()[0] == "Ａ１" and trace.changed == {"review": 1}


def test_normalize_operators_reject_bad_params_and_non_text_columns():
    table, ctx = _table()
    with pytest.raises(RecipeError, match="fullwidth"):
        NormalizeText({"fulwidth": True})
    with pytest.raises(RecipeError, match="not text"):
        NormalizeText({"columns": ["score"]})(table, ctx)


def test_single_purpose_operators_work_batch_by_batch():
    table = pa.table({ROW: list(range(1, 7)), "t": ["<b>粗</b>", "說話", "plain", "<i>斜</i>&nbsp;", "體", "x"]})
    ctx = OpContext(kinds={"t": "text"}, batch_rows=2)
    html_out, html_trace = StripHtml()(table, ctx)
    assert html_out.column("t").to_pylist() == ["粗", "說話", "plain", "斜", "體", "x"]
    assert html_trace.changed == {"t": 2}
    t2s_out, t2s_trace = TraditionalToSimplified()(html_out, ctx)
    assert t2s_out.column("t").to_pylist() == ["粗", "说话", "plain", "斜", "体", "x"]
    assert t2s_trace.changed == {"t": 2} and t2s_out.num_rows == 6
