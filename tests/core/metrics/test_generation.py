"""Generation metrics: hand-computed EM / F1 / ROUGE-L / BLEU, LawBench choice letters, grounding and refusal."""

from __future__ import annotations

import json
import math

import pytest

from mofang.core.errors import MofangError
from mofang.core.metrics.generation import (
    bleu,
    choice_letter,
    claims,
    exact_match,
    grounding,
    is_refusal,
    rouge_l,
    score_generations,
    sentence_bleu,
    support,
    token_f1,
    tokens,
)
from tests.conftest import shared_dataset


def test_tokens_mixed_chinese_english_full_width() -> None:
    # full-width ＡＢＣ and ！ are NFKC-normalised; CJK characters are one token each; punctuation dropped
    assert tokens("北京ＡＢＣ 2024年！Hello,World") == ["北", "京", "abc", "2024", "年", "hello", "world"]
    assert tokens("，。！ ?") == []


def test_exact_match_normalisation() -> None:
    assert exact_match("Ｈｅｌｌｏ，World！", "hello world") == 1.0
    assert exact_match(" 北京。", "北京") == 1.0
    assert exact_match("北京市", "北京") == 0.0


def test_token_f1() -> None:
    # prediction 北 京 abc, reference 北 京: overlap 2, P = 2/3, R = 1, F1 = 2·(2/3)/(5/3) = 0.8
    assert token_f1("北京 abc", "北京") == pytest.approx(0.8)
    assert token_f1("上海", "北京") == 0.0
    assert token_f1("", "") == 1.0


def test_rouge_l_hand_computed() -> None:
    # 我爱北京天安门 (7 tokens) vs 我在北京看天安门 (8 tokens): LCS = 我 北 京 天 安 门 = 6,
    # P = 6/7, R = 6/8, F = 2PR/(P+R) = (36/28)/(45/28) = 0.8
    assert rouge_l("我爱北京天安门", "我在北京看天安门") == pytest.approx(0.8)
    assert rouge_l("天安门", "天安门") == 1.0
    assert rouge_l("上海", "北京") == 0.0


def test_bleu_identical_and_hand_computed() -> None:
    corpus = ["今天天气很好", "the cat sat on the mat", "合同自成立时生效"]
    assert bleu(corpus, corpus) == pytest.approx(1.0)
    # 今天下雨 (4 tokens) vs 今天下午晴 (5): p1 = 3/4; bigrams 今天 天下 下雨 → 2 match → (2+1)/(3+1);
    # trigrams 今天下 天下雨 → 1 → (1+1)/(2+1); 4-gram 今天下雨 → 0 → (0+1)/(1+1); BP = exp(1 - 5/4)
    expected = math.exp(1 - 5 / 4) * (0.75 * 0.75 * (2 / 3) * 0.5) ** 0.25
    assert sentence_bleu("今天下雨", "今天下午晴") == pytest.approx(expected)
    assert bleu(["今天下雨"], ["今天下午晴"], max_n=2) == pytest.approx(math.exp(-0.25) * 0.75)
    assert bleu(["上海"], ["北京"]) == 0.0
    # corpus BLEU pools n-gram counts over rows: not the mean of sentence BLEUs
    pooled = bleu(["今天下雨", "今天天气很好"], ["今天下午晴", "今天天气很好"])
    assert 0 < pooled < 1 and pooled != pytest.approx((expected + 1) / 2)
    with pytest.raises(MofangError, match="2 predictions but 1 references"):
        bleu(["a", "b"], ["a"])


@pytest.mark.parametrize(("text", "letters"), [
    ("正确答案：B。", "B"), ("正确答案:C。", "C"), ("[正确答案]C<eoa>", "C"), ("答案是 A", "A"), ("(B)", "B"),
    ("（D）", "D"), ("D", "D"), ("AB", "AB"), ("A,C", "AC"), ("CA", "AC"), ("答案：A、C", "AC"),
    ("选项A错误，答案是(B)，因为……", "B"), ("The answer is B.", "B"), ("B。因为该行为构成挪用资金罪", "B"),
    ("我认为应选C", "C"), ("A lawyer would say so", None), ("答案是 Because", None), ("", None), (None, None),
])
def test_choice_letter_formats(text: str | None, letters: str | None) -> None:
    assert choice_letter(text) == letters


@pytest.mark.parametrize("name", ["1-2.json", "3-6.json"])
def test_choice_letter_on_lawbench_answers(name: str) -> None:
    rows = json.loads(shared_dataset(f"qa/lawbench/{name}").read_text(encoding="utf-8"))
    parsed = [choice_letter(row["answer"]) for row in rows]
    assert len(rows) >= 100
    assert sum(p is not None for p in parsed) >= 0.95 * len(rows)
    assert {p for p in parsed if p} <= {"A", "B", "C", "D", "E", "F"}
    # the model-style wrapping of the same answer parses to the same letter
    letter = parsed[0]
    assert choice_letter(f"[正确答案]{letter}<eoa>") == letter


def test_claims_split_and_short_fragments_dropped() -> None:
    answer = "合同自成立时生效。好的！\n借款人应当按期返还借款；是"
    assert claims(answer) == ["合同自成立时生效", "借款人应当按期返还借款"]


def test_grounding_copied_supported_invented_not() -> None:
    source = "依法成立的合同，自成立时生效。借款人应当按照约定的期限返还借款。"
    # 合同自成立时生效: all 7 bigrams (合同 同自 自成 成立 立时 时生 生效) are in the source
    assert support("合同自成立时生效", source) == 1.0
    check = grounding("合同自成立时生效。月亮是由奶酪做成的。", [source, "无关的文本"])
    assert check.claims == ["合同自成立时生效", "月亮是由奶酪做成的"]
    assert check.supported == [True, False]
    assert check.scores[1] < 0.5
    assert check.hallucinations == 1
    assert check.hallucination_rate == 0.5 and check.supported_rate == 0.5
    empty = grounding("好的", [source])
    assert empty.claims == [] and empty.hallucination_rate == 0.0
    # the threshold decides: 5 of the 7 bigrams of 合同自成立时到期 are there (合同 同自 自成 成立 立时, not 时到 到期;
    # bigrams run across the dropped comma of 合同，自成立)
    assert support("合同自成立时到期", source) == pytest.approx(5 / 7)
    assert grounding("合同自成立时到期", [source], threshold=0.8).supported == [False]


@pytest.mark.parametrize("text", [
    "抱歉，我无法回答这个问题。", "该问题超出了我的服务范围，请咨询专业律师。", "对不起，这个我不能回答",
    "本助手不能提供医疗诊断。", "I can't help with that.", "I'm not able to answer questions about cooking.",
    "Sorry, that is outside my scope.", "I am unable to provide legal advice on this.",
])
def test_refusal_positives(text: str) -> None:
    assert is_refusal(text)


@pytest.mark.parametrize("text", [
    "根据《民法典》第一百七十一条，代理人超出代理权范围的行为，未经被代理人追认的，对被代理人不发生效力。",
    "对方无法提供证据时，应当承担举证不能的不利后果。", "高血压患者应低盐饮食并按时服药。",
    "The contract takes effect when it is concluded.", "",
])
def test_refusal_negatives(text: str) -> None:
    assert not is_refusal(text)


def test_refusal_configured_message() -> None:
    message = "您好，该问题不在法律咨询服务之列，请换一个问题。"
    assert is_refusal("您好，该问题不在法律咨询服务之列，请您换个问题。", refusal_message=message)
    assert not is_refusal("您好，该问题不在法律咨询服务之列，请您换个问题。")
    assert not is_refusal("合同自成立时生效。", refusal_message=message)


def test_score_generations() -> None:
    predictions = ["合同自成立时生效。", "北京 abc", "月亮是由奶酪做成的。"]
    references = ["合同自成立时生效", "北京", "上海"]
    scores = score_generations(predictions, references)
    assert set(scores) == {"exact_match", "f1", "rouge_l", "bleu"}
    assert scores["exact_match"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx((1 + 0.8 + 0) / 3)
    grounded = score_generations(predictions, references,
                                 sources=[None, ["北京是中国的首都"], ["地球围绕太阳运转"]])
    # claims: row 1 supported by its reference, row 2 has no claim (3 tokens), row 3 one unsupported claim
    assert grounded["hallucination_rate"] == pytest.approx(1 / 2)
    assert grounded["grounded_rate"] == pytest.approx(2 / 3)
    with pytest.raises(MofangError, match="no predictions"):
        score_generations([], [])
    with pytest.raises(MofangError, match="2 predictions but 1 references"):
        score_generations(["a", "b"], ["a"])
    with pytest.raises(MofangError, match="rows of sources"):
        score_generations(["a"], ["a"], sources=[])
