"""Policies (mask, keyed pseudonym, generalize, drop) and the desensitize.pii operator on Arrow tables."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from mofang.data.ops.base import OpContext, RecipeError
from mofang.data.pii.ops import DesensitizePii
from mofang.data.pii.policy import Policy, generalize, mask, pseudonym
from mofang.data.pii.scan import scan_table
from tests.data.helpers import id_card

ID = id_card("11010519491231002")
KEY, OTHER_KEY = b"tenant-a-key", b"tenant-b-key"


@pytest.mark.parametrize("kind, value, masked", [
    ("mobile", "13812345678", "138****5678"),
    ("id_card", ID, "110***********002X"),
    ("person_name", "张三", "张*"),
    ("email", "alice@x.com", "a***@x.com"),
    ("bank_card", "6222 0212 3456 7897", "6222********7897"),
])
def test_mask_formats(kind: str, value: str, masked: str) -> None:
    assert mask(kind, value) == masked


def test_pseudonym_is_keyed_stable_and_normalized() -> None:
    token = pseudonym("mobile", "13812345678", KEY)
    assert token.startswith("MOB_") and token == pseudonym("mobile", "+86 138 1234 5678", KEY)
    assert token != pseudonym("mobile", "13812345678", OTHER_KEY)
    assert token != pseudonym("mobile", "13812345679", KEY)


@pytest.mark.parametrize("kind, value, general", [
    ("id_card", ID, "北京 1940s"),
    ("address", "黑龙江省哈尔滨市南岗区中山路123号", "黑龙江省哈尔滨市"),
    ("mobile", "13812345678", "138"),
    ("bank_card", "6222021234567890123", "622202"),
])
def test_generalize(kind: str, value: str, general: str) -> None:
    assert generalize(kind, value) == general


def test_policy_rejects_unknown_kinds_and_actions() -> None:
    with pytest.raises(ValueError, match="expected: id_card"):
        Policy.with_overrides({"phone": "mask"})
    with pytest.raises(RecipeError, match="expected: mask, pseudonym"):
        DesensitizePii({"policy": {"mobile": "shred"}})


def customers(mobiles: list[str]) -> pa.Table:
    n = len(mobiles)
    return pa.table({
        "__row__": list(range(1, n + 1)),
        "手机": mobiles,
        "备注": [f"客户王小明说身份证{ID}，邮箱wang.xm@example.cn，手机{m}" for m in mobiles],
        "金额": [100.0 * i for i in range(n)],
    })


def ctx(key: bytes | None = KEY) -> OpContext:
    return OpContext(kinds={"手机": "categorical", "备注": "text", "金额": "numeric"}, secret=key)


def test_operator_replaces_columns_and_spans_and_keeps_joins() -> None:
    left, _ = DesensitizePii()(customers(["13812345678", "13912345678"]), ctx())
    right, trace = DesensitizePii()(customers(["139 1234 5678", "13700000000"]), ctx())
    assert left.column("手机")[1].as_py() == right.column("手机")[0].as_py()  # joinable across tables
    assert left.column("手机")[0].as_py().startswith("MOB_")
    note = left.column("备注")[0].as_py()
    assert note == "客户王**说身份证110***********002X，邮箱w***@example.cn，手机138****5678"
    assert left.column("金额").to_pylist() == [0.0, 100.0]
    assert trace.changed == {"手机": 2, "备注": 2}
    report = trace.details["pii"]
    assert report["手机"]["kinds"]["mobile"]["action"] == "pseudonym"
    assert report["备注"]["kinds"]["id_card"] == {"found": 2, "action": "mask", "examples": ["110***********002X"]}


def test_trace_holds_no_raw_pii() -> None:
    table = customers(["13812345678", "13912345678"])
    _, trace = DesensitizePii({"policy": {"person_name": "pseudonym"}})(table, ctx())
    dumped = json.dumps(trace.as_dict(), ensure_ascii=False)
    for raw in ("13812345678", "13912345678", ID, "wang.xm@example.cn", "王小明"):
        assert raw not in dumped


def test_drop_removes_a_pii_column_and_generalize_keeps_prefixes() -> None:
    out, _ = DesensitizePii({"policy": {"mobile": "drop", "id_card": "generalize"}})(
        customers(["13812345678"]), ctx())
    assert "手机" not in out.column_names
    assert out.column("备注")[0].as_py() == "客户王**说身份证北京 1940s，邮箱w***@example.cn，手机"


def test_pseudonyms_need_the_tenant_key() -> None:
    with pytest.raises(RecipeError, match="no tenant key"):
        DesensitizePii()(customers(["13812345678"]), ctx(None))
    masked, _ = DesensitizePii({"policy": {k: "mask" for k in ("mobile", "id_card", "landline", "bank_card", "email",
                                "uscc", "passport", "licence_plate", "qq", "wechat", "person_name")}})(
        customers(["13812345678"]), ctx(None))
    assert masked.column("手机")[0].as_py() == "138****5678"


def test_scan_table_counts_without_raw_values() -> None:
    report = scan_table(customers(["13812345678", "13912345678"]).to_pandas())
    assert report["手机"]["kind"] == "mobile" and report["手机"]["found"] == 2
    assert report["备注"]["kinds"]["email"]["found"] == 2
    assert "13812345678" not in json.dumps(report, ensure_ascii=False)
