"""Grounding: claims split from an answer, each checked against its sources by lexical alignment (coverage,
numbers, negation) or a local NLI model; unanswered answers kept apart; answered-rate, no-answer recall and
hallucination measured together."""

from __future__ import annotations

import pytest

from mofang.core.errors import MofangError
from mofang.core.metrics.grounding import (
    LEXICAL,
    NLI_ENV,
    LexicalAlignment,
    NLIChecker,
    answer_metrics,
    claims,
    describe,
    grounding,
    grounding_checker,
    support,
)

SOURCE = "依法成立的合同，自成立时生效。借款人应当按照约定的期限返还借款。"


def test_claims_split_short_fragments_dropped_long_sentences_cut_at_commas() -> None:
    assert claims("合同自成立时生效。好的！\n借款人应当按期返还借款；是") == [
        "合同自成立时生效", "借款人应当按期返还借款"]
    assert claims("Contracts take effect when concluded. Yes. The borrower repays on time!") == [
        "Contracts take effect when concluded", "The borrower repays on time"]
    assert claims("好的") == ["好的"]  # a short answer is one claim as a whole: it is checked too
    assert claims("") == [] and claims("。！") == []
    assert claims("共3。") == ["共3"]  # a number is a claim however short
    long = "，".join(["借款人应当按照约定的期限返还借款"] * 4)  # 60 tokens in one sentence
    parts = claims(long)
    assert len(parts) == 4 and all(p == "借款人应当按照约定的期限返还借款" for p in parts)


def test_lexical_alignment_coverage_numbers_and_negation() -> None:
    assert support("合同自成立时生效", SOURCE) == 1.0  # all 7 bigrams in the first sentence
    # 5 of the 7 bigrams (not 时到, 到期): supported at 0.5, not at 0.8
    assert support("合同自成立时到期", SOURCE) == pytest.approx(5 / 7)
    assert grounding("合同自成立时到期", SOURCE, threshold=0.8).supported == [False]
    assert grounding("合同自成立时到期", SOURCE, threshold=0.5).supported == [True]
    # a negation the source lacks, or a statement the source negates, is not supported whatever the overlap
    assert support("合同自成立时不生效", SOURCE) == 0.0
    assert support("合同自成立时生效", "合同自成立时不生效。") == 0.0
    assert support("The contract is not valid", "The contract is valid.") == 0.0
    assert support("The contract isn't valid", "The contract is not valid.") == 1.0
    # every number of the claim must be in the aligned sentence
    assert support("借款人应当在30日内返还借款", "借款人应当在30日内返还借款。") == 1.0
    assert support("借款人应当在60日内返还借款", "借款人应当在30日内返还借款。") == 0.0
    # a claim is aligned with one sentence (or two adjacent ones), not with words scattered over the source
    scattered = "合同成立。借款人返还。期限约定。"
    assert support("借款人应当按照约定的期限返还借款", scattered) < 0.5


def test_grounding_copied_supported_invented_not() -> None:
    check = grounding("合同自成立时生效。月亮是由奶酪做成的。", [SOURCE, "无关的文本"])
    assert check.claims == ["合同自成立时生效", "月亮是由奶酪做成的"]
    assert check.supported == [True, False] and check.scores[1] < 0.5
    assert check.hallucinations == 1 and check.hallucination_rate == 0.5 and not check.grounded
    assert check.method == LEXICAL
    assert grounding("", [SOURCE]).hallucination_rate is None and not grounding("", [SOURCE]).grounded
    assert grounding("合同自成立时生效", []).supported == [False]  # no source supports nothing
    with pytest.raises(MofangError, match="threshold"):
        LexicalAlignment(0.0)


def test_answer_metrics_keep_unanswered_apart() -> None:
    answers = ["合同自成立时生效。", "月亮是由奶酪做成的。", None, "我不知道", "借款人应当按照约定的期限返还借款。", ""]
    sources = [[SOURCE], [SOURCE], [SOURCE], [SOURCE], [], []]
    unanswerable = [False, False, False, False, True, True]
    measured = answer_metrics(answers, sources, unanswerable=unanswerable, checker=LexicalAlignment())
    # answerable: 2 of 4 answered, 1 grounded; unanswerable: 1 of 2 refused, the other answered without evidence
    assert measured.answered_rate == 0.5 and measured.grounded_rate == 0.25 and measured.no_answer_recall == 0.5
    assert (measured.answered, measured.claims, measured.unsupported) == (3, 3, 2)
    assert measured.hallucination_rate == pytest.approx(2 / 3) and measured.method == LEXICAL
    assert measured.unmeasured() == {}
    silent = answer_metrics(["", "抱歉，我无法回答。"], [[SOURCE], []], unanswerable=[False, True])
    assert silent.metrics() == {"answered_rate": 0.0, "no_answer_recall": 1.0, "hallucination_rate": None,
                                "grounded_rate": 0.0}
    assert "none of the 2 questions was answered" in silent.unmeasured()["hallucination_rate"]
    with pytest.raises(MofangError, match="2 answers but 1 rows"):
        answer_metrics(["a", "b"], [[]])


def test_checker_is_lexical_without_a_loadable_nli_model(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv(NLI_ENV, raising=False)
    checker = grounding_checker(0.6)
    assert checker.method == LEXICAL and checker.threshold == 0.6
    assert describe(checker) == f"{LEXICAL} (supported at >= 0.6); no NLI model configured ({NLI_ENV} unset)"
    monkeypatch.setenv(NLI_ENV, str(tmp_path / "missing"))
    fallback = grounding_checker()
    assert fallback.method == LEXICAL and "did not load" in describe(fallback) and "missing" in describe(fallback)


def _tiny_nli(folder) -> None:
    """A real (randomly initialised, tiny) BERT sequence classifier with NLI labels, saved for offline loading."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch")
    folder.mkdir()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
             *"合同自成立时生效借款人应当按照约定的期限返还月亮是由奶酪做成"]
    (folder / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
    transformers.BertTokenizer(str(folder / "vocab.txt")).save_pretrained(str(folder))
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32, max_position_embeddings=128,
                                     num_labels=3, id2label={0: "ENTAILMENT", 1: "NEUTRAL", 2: "CONTRADICTION"},
                                     label2id={"ENTAILMENT": 0, "NEUTRAL": 1, "CONTRADICTION": 2})
    transformers.BertForSequenceClassification(config).save_pretrained(str(folder))


def test_a_local_nli_model_is_used_and_named(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    _tiny_nli(tmp_path / "tiny-nli")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv(NLI_ENV, str(tmp_path / "tiny-nli"))
    checker = grounding_checker(0.5)
    assert isinstance(checker, NLIChecker) and checker.method == "nli:tiny-nli"
    check = checker.check("合同自成立时生效。月亮是由奶酪做成的。", [SOURCE])
    assert check.method == "nli:tiny-nli" and len(check.scores) == 2
    assert all(0.0 <= s <= 1.0 for s in check.scores)
    assert check.supported == [s >= 0.5 for s in check.scores]
    measured = answer_metrics(["合同自成立时生效。"], [[SOURCE]], checker=checker)
    assert measured.method == "nli:tiny-nli" and measured.answered_rate == 1.0
