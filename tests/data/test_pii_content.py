"""Personal data found by content: columns of names whatever their header, and names and places in free text by
jieba's part-of-speech tags."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pytest

from mofang.data.ops.base import OpContext
from mofang.data.pii import find_pii, find_spans
from mofang.data.pii.ops import DesensitizePii
from mofang.data.pii.scan import scan_table
from mofang.data.pii.tagged import looks_like_name

NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨秀英", "黄磊", "赵丽", "吴敏", "徐强", "孙心怡", "马晓东", "朱红梅",
         "胡建国", "欧阳娜娜", "郭靖", "何欢", "白雨晴", "林峰", "周志强"]
BORROWERS = ["李建华", "王秀兰", "张国强", "刘桂英", "陈志明", "杨丽娟", "赵永刚", "黄淑芬", "周海燕", "吴晓东"]
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "南京", "武汉", "成都", "西安", "金华", "黄山", "常州", "温州",
          "苏州", "长沙", "郑州", "宁波", "青岛", "大连", "厦门"]
PRODUCTS = ["华为手机", "小米手环", "方便面", "安全带", "文具盒", "牛奶", "毛巾", "花生", "石榴", "马桶", "钟表",
            "金条", "汤圆", "叶子", "宋体", "红牛", "王老吉", "李宁", "海尔冰箱", "格力空调"]
KEY = b"tenant-a-key"


@pytest.mark.parametrize("header, values", [("客户", NAMES), ("借款人", BORROWERS), ("col_7", NAMES)])
def test_a_column_of_names_is_found_whatever_its_header(header: str, values: list[str]) -> None:
    finding = find_pii(header, pd.Series(values * 3 + [None]))
    assert finding is not None and finding.kind == "person_name" and finding.share >= 0.9
    assert not finding.by_header and "of values" in finding.description


@pytest.mark.parametrize("header, values", [
    ("城市", CITIES), ("商品", PRODUCTS), ("是否逾期", ["是", "否"] * 20), ("性别", ["男", "女"] * 20),
    ("省份", ["河北", "山西", "辽宁", "吉林", "江苏", "浙江", "安徽", "福建", "江西", "山东"]),
    ("部门", ["财务部", "人事部", "市场部", "销售部", "技术部", "研发部"]),
    ("品牌", ["海尔", "美的", "格力", "长虹", "康佳", "创维", "联想", "华为", "中兴", "小米"]),
    ("商圈", ["张江", "陆家嘴", "徐家汇", "五角场", "中关村", "望京", "国贸", "三里屯", "西单", "王府井", "天河城"]),
    ("游戏", ["王者荣耀", "和平精英", "原神", "阴阳师", "梦幻西游", "大话西游", "英雄联盟", "穿越火线", "地下城"]),
    ("客户", ["张伟", "张伟", None]),  # one distinct value is too little to judge by
])
def test_categorical_columns_are_not_names(header: str, values: list[str | None]) -> None:
    assert find_pii(header, pd.Series(values, dtype=object)) is None


@pytest.mark.parametrize("value, expected", [
    ("张伟", True), ("欧阳娜娜", True), ("杨秀英", True), ("马丽医生", True), ("白雨晴", True),
    ("黄山", False), ("金华", False), ("高兴", False), ("黄金", False), ("王国", False), ("毛巾", False),
    ("安全带", False),
    ("华为手机", False), ("是", False), ("Zhang", False), ("张伟说他会来", False),
])
def test_looks_like_name(value: str, expected: bool) -> None:
    assert looks_like_name(value) is expected


def table() -> pa.Table:
    n = len(BORROWERS)
    return pa.table({"__row__": list(range(1, n + 1)), "客户": NAMES[:n], "借款人": BORROWERS,
                     "城市": CITIES[:n], "金额": [1000.0 * i for i in range(n)]})


def context() -> OpContext:
    return OpContext(kinds={"客户": "categorical", "借款人": "categorical", "城市": "categorical",
                            "金额": "numeric"}, secret=KEY)


def test_desensitize_replaces_name_columns_by_content() -> None:
    out, trace = DesensitizePii()(table(), context())
    for column in ("客户", "借款人"):
        assert all(v.startswith("NAME_") for v in out.column(column).to_pylist())
        assert trace.details["pii"][column]["kinds"]["person_name"]["action"] == "pseudonym"
    assert out.column("城市").to_pylist() == CITIES[:len(BORROWERS)]
    dumped = json.dumps(trace.as_dict(), ensure_ascii=False)
    assert not any(name in dumped for name in NAMES[:len(BORROWERS)] + BORROWERS)


def test_masking_keeps_the_surname_only() -> None:
    out, _ = DesensitizePii({"policy": {"person_name": "mask"}})(table(), context())
    assert out.column("借款人").to_pylist()[:2] == ["李**", "王**"]


def test_scan_masks_a_name_column_found_by_content() -> None:
    report = scan_table(table().to_pandas())
    assert report["借款人"]["kind"] == "person_name" and report["借款人"]["examples"][0] == "李**"
    assert "城市" not in report and "李建华" not in json.dumps(report, ensure_ascii=False)


def spans(text: str) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in find_spans(text) if s.kind in ("person_name", "address")]


@pytest.mark.parametrize("text, expected", [
    ("借款人孙心怡于今年三月逾期。", [("person_name", "孙心怡")]),                 # cue and name the tagger knows
    ("据悉，曹鹏飞昨日已向法院起诉。", [("person_name", "曹鹏飞")]),               # a name the dictionary lacks
    ("中信证券分析师孙稳存认为通胀可控。", [("person_name", "孙稳存")]),
    ("他现在住在上海浦东新区张江镇。", [("address", "上海浦东新区张江镇")]),
    ("快递送到北京银座广场3号楼。", [("address", "北京银座广场3号楼")]),         # a building's own name between
    ("王芳来自成都，目前在北京工作。", [("person_name", "王芳"), ("address", "成都"), ("address", "北京")]),
])
def test_free_text_names_and_places(text: str, expected: list[tuple[str, str]]) -> None:
    assert spans(text) == expected


@pytest.mark.parametrize("text", [
    "花旗银行今天公布了季度业绩。",        # a dictionary word tagged nr, not a person
    "北京队主场迎战上海队。",              # places that open an organization's name
    "中国经济今年增长平稳。",              # a bare country with no one living or going there
    "我们明天去买安全带和毛巾。",
    "商家说下次补偿。",                    # a pattern's name that the dictionary knows as another word
    "谢谢师傅的服务。",                    # a very common word: not even a cue (师傅) makes it a name
    "汤里有只虫。",                        # an unknown word whose "given name" is a place word (里)
])
def test_free_text_without_names_or_addresses(text: str) -> None:
    assert spans(text) == []


def test_a_pattern_name_is_cut_where_the_next_word_begins() -> None:
    assert spans("联系人王芳来自成都。") == [("person_name", "王芳"), ("address", "成都")]  # not 王芳来


def test_the_tagger_can_be_left_out() -> None:
    assert spans("据悉，曹鹏飞昨日已向法院起诉。") == [("person_name", "曹鹏飞")]
    assert [s for s in find_spans("据悉，曹鹏飞昨日已向法院起诉。", tagger=False) if s.kind == "person_name"] == []


@pytest.mark.parametrize("text, expected", [
    ("他的主治医生张华为他开具了阿司匹林。", [("person_name", "张华")]),          # a role before the name
    ("主治医生李瑞华为其开具了布洛芬。", [("person_name", "李瑞华")]),           # not cut before 华为 (为其 follows)
    ("联系人为王建国，电话另告。", [("person_name", "王建国")]),                  # cue, then 为
    ("王刚（45岁）被送往医院。", [("person_name", "王刚")]),                      # a name then its age
    ("李娜，52岁，现居杭州。", [("person_name", "李娜"), ("address", "杭州")]),
    ("目前由柯敏医生负责诊治。", [("person_name", "柯敏")]),                      # 由 is a preposition, not a surname
])
def test_names_by_role_age_and_title(text: str, expected: list[tuple[str, str]]) -> None:
    assert spans(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("我在上海读书，周末回杭州的家。", [("address", "上海"), ("address", "杭州")]),  # Chinese places named alone
    ("北京的冬天很冷。", [("address", "北京")]),
    ("成都是四川的省会。", [("address", "成都"), ("address", "四川")]),
    ("他常年旅居新加坡。", [("address", "新加坡")]),                              # a foreign place after a locative
    ("工厂位于智利北部。", [("address", "智利北部")]),                            # a part of a place goes with it
    ("四川省泸州市龙马潭区高坝街道", [("address", "四川省泸州市龙马潭区高坝街道")]),
])
def test_places_named_in_a_sentence(text: str, expected: list[tuple[str, str]]) -> None:
    assert spans(text) == expected


@pytest.mark.parametrize("text", [
    "上海银行公布了年报。",              # a place that opens a firm's name
    "北京时间今晚八点开赛。",            # ... or a phrase
    "丰台区住保办相关负责人说",          # ... or a government office's
    "中国队获得冠军。",
    "《方世玉》是一部老电影。",          # a title names a work, not a person
    "《我的青春在延安》今晚播出。",
    "记者从荣田路施工现场获悉。",        # a road, a market, a plaza named after someone
    "徐东古玩城今天开张。",
    "林达海渔广场本周开业。",
    "杨律师表示不服。",                  # a surname and a title is no full name
])
def test_no_name_or_address_in_firms_titles_and_named_places(text: str) -> None:
    assert spans(text) == []


def test_a_whole_value_that_is_a_city_is_no_address() -> None:
    assert spans("北京") == [] and spans("上海市") == []


def test_a_customer_column_of_names_is_masked_through_the_workshop() -> None:
    customers = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨秀英", "黄磊", "赵丽", "吴敏", "徐强"]
    data = pa.table({"__row__": list(range(1, 11)), "客户": customers, "金额": [100.0 * i for i in range(10)]})
    ctx = OpContext(kinds={"客户": "categorical", "金额": "numeric"}, secret=KEY)
    out, trace = DesensitizePii({"policy": {"person_name": "mask"}})(data, ctx)
    assert out.column("客户").to_pylist() == [c[0] + "*" * (len(c) - 1) for c in customers]
    assert trace.details["pii"]["客户"]["kinds"]["person_name"]["action"] == "mask"
    assert find_pii("客户", pd.Series(customers)).kind == "person_name"
