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


def names_in(text: str) -> list[str]:
    return [s.text for s in find_spans(text, ["person_name"])]


@pytest.mark.parametrize("text, expected", [
    ("行业研究中心主任郭田勇则对此表示谨慎。", ["郭田勇"]),            # title before, greedy given name
    ("联系人:戴星宇联系电话:空", ["戴星宇"]),
    ("丛明远，40岁男性天文学家。", ["丛明远"]),                      # opens a sentence, then a comma
    ("演员何泽胜、刘姝辰、王丽萍等出席。", ["何泽胜", "刘姝辰", "王丽萍"]),  # an enumeration
    ("由张雪梅医生负责诊治。张雪梅为其开具了药。", ["张雪梅", "张雪梅"]),  # a second mention without a cue
])
def test_names_by_cue_list_and_recurrence(text: str, expected: list[str]) -> None:
    assert names_in(text) == expected


@pytest.mark.parametrize("text", [
    "今天很高兴，周末大家都方便。",      # common words that start with a surname character
    "黄金价格上涨，王国的故事。",
    "杭州表示将继续推进改革。",          # a city before a speech verb is no person
    "李先生说他会来。",                  # a surname with a title is not a full name
])
def test_not_names(text: str) -> None:
    assert names_in(text) == []


def test_a_recurring_name_is_not_found_inside_a_longer_one() -> None:
    assert names_in("张明医生说，张明远来了。") == ["张明"]


@pytest.mark.parametrize("text, expected", [
    ("地址：广州白云区京溪街。", "广州白云区京溪街"),
    ("他家住广州白云区。", "广州白云区"),
    ("事发于长沙黄兴路步行街附近。", "长沙黄兴路步行街"),  # the pedestrian street is part of the place
    ("地址：深圳市南山区科技园路88号", "深圳市南山区科技园路88号"),
])
def test_city_with_district_or_road_is_an_address(text: str, expected: str) -> None:
    assert [s.text for s in find_spans(text, ["address"])] == [expected]


@pytest.mark.parametrize("text", [
    "杭州市",                          # one city: the 州 of 杭州 is no second part
    "他在深圳市公安局工作。",            # the place opens an organization's name
    "丰台区住保办相关负责人说",
    "青岛啤酒涨停",
])
def test_places_that_are_not_addresses(text: str) -> None:
    assert find_spans(text, ["address"]) == []
