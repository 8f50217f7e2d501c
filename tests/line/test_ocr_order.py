"""Orders over folders of scanned pages run down the whole line, the pages read by OCR: a text-classification
order (PNG and image-only PDF pages, one sub-folder per class) is delivered and labels new typed text; a
retrieval-qa order answers from the scanned page that holds the answer."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mofang.cli import app
from tests.data.ocr_pages import FONT_MISSING, FONT_PATH, render_page

CLASSES = {  # two kinds of scanned page with clearly different words; pages draw 3 of 14 lines (no near-duplicates)
    "合同": ["甲方应于每月五日前支付服务费用。", "乙方负责设备的安装和日常维护。",
            "如一方违约，应向守约方支付违约金。", "本合同自双方签字盖章之日起生效。",
            "合同期满前三十日双方协商续签事宜。", "本协议一式两份，甲乙双方各执一份。",
            "争议提交上海仲裁委员会仲裁解决。", "乙方不得将本合同权利转让给第三方。",
            "付款方式为银行转账，开具增值税发票。", "甲方有权对乙方的工作进行监督检查。",
            "因不可抗力导致无法履约的，双方互不担责。", "保密条款在合同终止后继续有效。",
            "Both parties shall sign this contract.", "The contract term is three years."],
    "病历": ["患者主诉头痛三天，伴有发热咳嗽。", "血压一百四十比九十，心率正常。",
            "诊断：上呼吸道感染，建议复查。", "医生建议多饮水，注意休息，按时服药。",
            "既往无药物过敏史，无手术史。", "血常规显示白细胞计数偏高。",
            "胸部X光片未见明显异常。", "给予抗生素静脉滴注治疗五天。",
            "患者睡眠差，食欲下降，体重减轻。", "出院后每周门诊随访一次。",
            "心电图提示窦性心律，未见缺血改变。", "体温三十八度五，咽部充血。",
            "Prescription: ibuprofen twice a day.", "The patient was discharged in good condition."],
}
PAGES = 16  # per class: the line needs 30 rows to train, validate and test
ORDER = """\
id: scanned-letters
tenant: acme
task: text-classification
data:
  - path: scans
target: label
text: text
id_column: path
columns:
  deny: [title, format]
acceptance:
  metrics:
    f1_macro: ">= 0.8"
budget:
  minutes: 0.5
"""


@pytest.mark.slow
def test_an_order_over_scanned_pages_is_delivered(tmp_path: Path, home: Path) -> None:
    if not FONT_PATH.exists():
        pytest.fail(FONT_MISSING)
    rng = random.Random(11)
    for label, pool in CLASSES.items():
        folder = tmp_path / "scans" / label
        folder.mkdir(parents=True)
        for i in range(PAGES):
            page = render_page(rng.sample(pool, 3), size=rng.choice((24, 28)))
            if i % 4 == 3:
                page.convert("RGB").save(folder / f"scan{i}.pdf")  # an image-only PDF page
            else:
                page.save(folder / f"scan{i}.png")
    (tmp_path / "order.yaml").write_text(ORDER, encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(tmp_path / "order.yaml")])
    assert result.exit_code == 0, result.output

    from mofang.integration.bundle import open_bundle
    from mofang.store import MetaStore

    meta = MetaStore()
    try:
        version = meta.product_version("scanned-letters")
        assert meta.job(version.job_id).outcome["verdict"] == "accepted"
        assert version.metrics["f1_macro"] >= 0.8, version.metrics
        bundle = open_bundle(version.bundle_path, "acme", meta)
        answer = bundle.predict_records([{"text": "乙方应按合同约定支付违约金"},
                                         {"text": "患者发热咳嗽，医生建议复查"}])
        assert answer["predictions"] == ["合同", "病历"], answer
    finally:
        meta.dispose()


KNOWLEDGE = {  # scanned pages of a small knowledge base
    "挂失.png": ["银行卡丢失后请立即拨打客服电话挂失。", "挂失后七个工作日内可到网点补办新卡。"],
    "房贷.png": ["个人住房贷款最长期限为三十年。", "首付比例不低于百分之二十。"],
    "外汇.png": ["个人每年购汇额度为五万美元。", "购汇需要提供本人有效身份证件。"],
}
RETRIEVAL_ORDER = """\
id: scanned-faq
tenant: acme
task: retrieval-qa
data:
  - path: kb
target: text
acceptance:
  p95_latency_ms: 500
budget:
  minutes: 0.2
"""


@pytest.mark.slow
def test_a_retrieval_order_over_scanned_pages_answers_from_them(tmp_path: Path, home: Path) -> None:
    if not FONT_PATH.exists():
        pytest.fail(FONT_MISSING)
    (tmp_path / "kb").mkdir()
    for name, lines in KNOWLEDGE.items():
        render_page(lines).save(tmp_path / "kb" / name)
    (tmp_path / "order.yaml").write_text(RETRIEVAL_ORDER, encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(tmp_path / "order.yaml")])
    assert result.exit_code == 0, result.output

    from mofang.integration.bundle import open_bundle
    from mofang.store import MetaStore

    meta = MetaStore()
    try:
        version = meta.product_version("scanned-faq")
        bundle = open_bundle(version.bundle_path, "acme", meta)
        answer = bundle.ask("银行卡丢了怎么挂失", 2)
        assert answer["answers"][0]["source"]["file"] == "挂失.png", answer
    finally:
        meta.dispose()
