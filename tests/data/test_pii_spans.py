"""Span detection per kind: positives, and negatives (longer digit runs, bad checksums, no context)."""

from __future__ import annotations

import json

import pytest

from mofang.data.pii import find_spans, find_spans_many, valid_uscc
from tests.conftest import shared_dataset
from tests.data.helpers import id_card

ID = id_card("11010519491231002")


def kinds(text: str) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in find_spans(text)]


@pytest.mark.parametrize("text, kind, value", [
    (f"身份证号{ID}。", "id_card", ID),
    ("手机：+86 138-1234-5678，", "mobile", "+86 138-1234-5678"),
    ("电话010-62132837转", "landline", "010-62132837"),
    ("卡号6222 0212 3456 7897 0（工行）", "bank_card", None),
    ("邮箱zhang.san@example.cn或", "email", "zhang.san@example.cn"),
    ("信用代码91350100M000100Y43，", "uscc", "91350100M000100Y43"),
    ("护照号码：G12345678", "passport", "G12345678"),
    ("车牌京AD12345违停", "licence_plate", "京AD12345"),
    ("登录IP 192.168.1.10 异常", "ip", "192.168.1.10"),
    ("加QQ：123456789", "qq", "123456789"),
    ("微信号：zhang_san88，", "wechat", "zhang_san88"),
    ("联系人：王小明，电话", "person_name", "王小明"),
    ("住在黑龙江省哈尔滨市南岗区中山路123号。", "address", "黑龙江省哈尔滨市南岗区中山路123号"),
])
def test_each_kind_is_found(text: str, kind: str, value: str | None) -> None:
    found = [s for s in find_spans(text) if s.kind == kind]
    if kind == "bank_card":  # build a Luhn-valid card for the placeholder
        from mofang.data.pii import luhn_valid
        body = "622202123456789"
        card = body + next(d for d in "0123456789" if luhn_valid(body + d))
        found = [s for s in find_spans(f"卡号{card[:4]} {card[4:8]} {card[8:12]} {card[12:]}（工行）")
                 if s.kind == "bank_card"]
        value = f"{card[:4]} {card[4:8]} {card[8:12]} {card[12:]}"
    assert [s.text for s in found] == [value]
    assert text.find(value) < 0 or found[0].start == text.find(value)


@pytest.mark.parametrize("text", [
    f"编号9{ID}1",                     # an ID inside a longer digit run
    ID[:-1] + ("0" if ID[-1] != "0" else "1"),  # bad checksum
    "订单号213812345678901",            # a mobile inside a longer number
    "流水6222021234567890",             # fails Luhn
    "统一社会信用代码91350100M000100Y44",  # bad credit-code checksum
    "共123456789人参加",                 # digits without a QQ cue
    "张先生",                           # a surname and a title, no given name
    "北京",                             # one place, not an address
])
def test_near_misses_are_not_pii(text: str) -> None:
    assert kinds(text) == []


def test_overlaps_prefer_the_longer_validated_span() -> None:
    assert kinds(f"13812345678@qq.com {ID}") == [("email", "13812345678@qq.com"), ("id_card", ID)]


def test_many_values_match_one_by_one() -> None:
    texts = ["手机13812345678", None, "", f"身份证{ID}，邮箱a@b.com"]
    assert find_spans_many(texts) == [find_spans(t or "") for t in texts]


def test_credit_code_checksum() -> None:
    assert valid_uscc("91350100M000100Y43") and not valid_uscc("91350100M000100Y42")


def test_real_bdci_recall_on_mobile_and_email() -> None:
    path = shared_dataset("pii/bdci2020_privacy_entities.jsonl")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    rows = [r for r in lines if any(e["category"] in ("mobile", "email") for e in r["entities"])][:200]
    found = find_spans_many([r["text"] for r in rows])
    for category, kind in (("mobile", "mobile"), ("email", "email")):
        gold = {(i, e["start"], e["end"]) for i, r in enumerate(rows) for e in r["entities"]
                if e["category"] == category and (kind != "mobile" or e["text"].isdigit() and len(e["text"]) == 11)}
        hits = {(i, s.start, s.end) for i, spans in enumerate(found) for s in spans if s.kind == kind}
        assert len(gold) >= 20
        assert len(gold & hits) / len(gold) >= 0.95, kind
