"""Generation metrics: EM / F1 by hand, ROUGE-L (`rouge-score`) and BLEU (`sacrebleu`) against their libraries'
documented values and hand-checked Chinese cases, LawBench choice letters, refusal and unanswered answers."""

from __future__ import annotations

import json
import math

import pytest

from mofang.core.errors import MofangError
from mofang.core.metrics.generation import (
    bleu,
    bleu_tokenizer,
    choice_letter,
    exact_match,
    is_refusal,
    is_unanswered,
    rouge_l,
    score_generations,
    sentence_bleu,
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


def test_rouge_l_is_rouge_score_on_its_readme_example_and_chinese_by_character() -> None:
    # rouge-score's README: score('The quick brown fox jumps over the lazy dog', 'The quick brown dog jumps on the
    # log.') gives rougeL precision 0.625, recall 0.5556, F 0.5882 (LCS "the quick brown jumps the": 5 of 8 / 9)
    assert rouge_l("The quick brown dog jumps on the log.", "The quick brown fox jumps over the lazy dog") \
        == pytest.approx(0.58823529, abs=1e-8)
    # rouge-score's own tokenizer keeps [a-z0-9] only and scores Chinese 0; ours splits it into characters:
    # 我爱北京天安门 (7) vs 我在北京看天安门 (8): LCS 我 北 京 天 安 门 = 6, P = 6/7, R = 6/8, F = 0.8
    assert rouge_l("我爱北京天安门", "我在北京看天安门") == pytest.approx(0.8)
    assert rouge_l("天安门", "天安门") == 1.0 and rouge_l("上海", "北京") == 0.0 and rouge_l("", "") == 1.0
    assert rouge_l("北京2024年", "北京 2024") == pytest.approx(2 * 1 * 0.75 / 1.75)  # 北 京 2024 年 vs 北 京 2024


def test_bleu_is_sacrebleu_on_its_readme_example() -> None:
    # sacrebleu's README: BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)
    hypotheses = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
    references = [["The dog bit the man.", "The dog had bit the man."],
                  ["It was not unexpected.", "No one was surprised."],
                  ["The man bit him first.", "The man had bitten the dog."]]
    assert bleu(hypotheses, references) == pytest.approx(0.4853, abs=5e-5)
    assert bleu_tokenizer(hypotheses) == "13a" and bleu_tokenizer(["今天下雨"]) == "zh"
    # rows may have different numbers of references
    assert 0 < bleu(hypotheses, [references[0], references[1][:1], references[2]]) < 1


def test_bleu_chinese_hand_checked() -> None:
    corpus = ["今天天气很好", "the cat sat on the mat", "合同自成立时生效"]
    assert bleu(corpus, corpus) == pytest.approx(1.0)
    # "zh" tokenizes 今天下雨 as 今 天 下 雨 (4) against 今 天 下 午 晴 (5): p1 = 3/4, p2 = 2/3 (今天 天下), p3 = 1/2
    # (今天下), p4 = 0/1 smoothed by sacrebleu's "exp" method to 1/(2·1); BP = exp(1 - 5/4)
    expected = math.exp(1 - 5 / 4) * (0.75 * (2 / 3) * 0.5 * 0.5) ** 0.25
    assert sentence_bleu("今天下雨", "今天下午晴") == pytest.approx(expected)
    assert bleu(["今天下雨"], ["今天下午晴"]) == pytest.approx(expected)
    assert bleu(["今天下雨"], ["今天下午晴"], max_n=2) == pytest.approx(math.exp(-0.25) * (0.75 * 2 / 3) ** 0.5)
    assert bleu(["上海"], ["北京"]) == 0.0 and bleu([""], ["北京"]) == 0.0
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


@pytest.mark.parametrize("text", [
    "", "   ", "。。。", "我不知道。", "I don't know.", "不清楚", "抱歉，我无法回答这个问题。",
    "抱歉，知识库中没有与这个问题足够接近的答案。您可以换个说法再问，或联系人工客服。",
    "Sorry, the knowledge base has no answer close enough to this question.",
])
def test_unanswered(text: str) -> None:
    assert is_unanswered(text)


def test_answered_and_the_products_own_refusal_message() -> None:
    assert not is_unanswered("合同自成立时生效。") and not is_unanswered("对方无法提供证据时，应当承担不利后果。")
    assert not is_unanswered("法律没有规定的，适用习惯。")
    message = "您好，该问题不在法律咨询服务之列，请换一个问题。"
    assert is_unanswered("您好，该问题不在法律咨询服务之列，请您换个问题。", refusal_message=message)


def test_score_generations() -> None:
    predictions = ["合同自成立时生效。", "北京 abc", "月亮是由奶酪做成的。"]
    references = ["合同自成立时生效", "北京", "上海"]
    scores = score_generations(predictions, references)
    assert set(scores) == {"exact_match", "f1", "rouge_l", "bleu"}
    assert scores["exact_match"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx((1 + 0.8 + 0) / 3)
    assert scores["rouge_l"] == pytest.approx((1 + 0.8 + 0) / 3)  # 北 京 abc vs 北 京: P 2/3, R 1
    grounded = score_generations(predictions, references,
                                 sources=[None, ["北京是中国的首都"], ["地球围绕太阳运转"]])
    # row 1 supported by its reference; row 2 (北京 abc, too short for a claim) is one claim as a whole, its
    # unigrams 北 京 abc two thirds in the source; row 3 one unsupported claim
    assert grounded["answered_rate"] == 1.0
    assert grounded["hallucination_rate"] == pytest.approx(1 / 3)
    assert grounded["grounded_rate"] == pytest.approx(2 / 3)
    with pytest.raises(MofangError, match="no predictions"):
        score_generations([], [])
    with pytest.raises(MofangError, match="2 predictions but 1 references"):
        score_generations(["a", "b"], ["a"])
    with pytest.raises(MofangError, match="rows of sources"):
        score_generations(["a"], ["a"], sources=[])


def test_answering_nothing_is_not_hallucination_free() -> None:
    references = ["合同自成立时生效", "借款人应当按期返还借款"]
    silent = score_generations(["", "我不知道"], references, sources=[None, None])
    assert silent["answered_rate"] == 0.0 and silent["grounded_rate"] == 0.0
    assert silent["hallucination_rate"] is None  # undefined, not 0: a gate on it cannot pass
    half = score_generations(["合同自成立时生效。", "抱歉，我无法回答。"], references, sources=[None, None])
    assert half["answered_rate"] == 0.5 and half["hallucination_rate"] == 0.0 and half["grounded_rate"] == 0.5
