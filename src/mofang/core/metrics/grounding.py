"""Is an answer grounded in its sources? Each claim of the answer (a sentence, or a clause of a long one) is
checked against the sources, and unanswered questions are kept apart from answered ones.

Two checkers, the one used named in every result (`method`):

* `NLIChecker` ("nli:<model folder>"): an entailment model (a sequence-classification checkpoint whose labels
  name "entailment") read from a local folder, never downloaded: the folder in MOFANG_NLI_MODEL. A claim is
  supported when some source sentence (or two adjacent ones) entails it with probability >= the threshold.
* `LexicalAlignment` ("lexical-alignment", used when no NLI model is configured or it does not load): a claim
  is supported when one source sentence (or two adjacent ones) covers at least `threshold` of the claim's token
  bigrams (one token a CJK character or a word), every number of the claim is in that sentence, and the negations
  agree (the claim does not negate what the sentence states, nor state what it negates).

An empty, refused or "I don't know" answer (`is_unanswered`) is *unanswered*: it is not grounded, and it does
not lower the hallucination rate. The hallucination rate is measured over answered questions only, so when
nothing is answered it is undefined (None), and a gate on it fails instead of passing.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from mofang.core.errors import MofangError
from mofang.core.metrics.generation import _nfkc, is_unanswered, tokens

NLI_ENV = "MOFANG_NLI_MODEL"  # a local folder holding an NLI (entailment) checkpoint
LEXICAL = "lexical-alignment"
DEFAULT_THRESHOLD = 0.5

_SENTENCE = re.compile(r"[。！？!?；;\n\r]+|\.(?=\s|$)")
_CLAUSE = re.compile(r"[，,、：:]+")
MIN_CLAIM_TOKENS = 4  # shorter fragments ("好的", "是") state nothing to check, unless they hold a number
CLAUSE_TOKENS = 12  # a sentence longer than MAX_CLAIM_TOKENS is cut at commas into claims of about this length
MAX_CLAIM_TOKENS = 40
_NUMBER = re.compile(r"\d+(?:\.\d+)*")
_NEGATIONS = frozenset("不没无未非勿别莫否") | {"not", "no", "never", "none", "cannot", "nor", "without"}


# ---- claims and sentences --------------------------------------------------------------------------------------


def _prepared(text: str | None) -> str:
    """NFKC, and English "n't" spelt " not" so that a negation is a token."""
    return re.sub(r"n['’]t\b", " not", _nfkc(text), flags=re.IGNORECASE)


def sentences(text: str | None) -> list[str]:
    """The sentences of `text` (split on 。！？!?；; newlines and a full stop before a space), stripped, non-empty."""
    return [part.strip() for part in _SENTENCE.split(_prepared(text)) if tokens(part)]


def claims(answer: str | None) -> list[str]:
    """The claims of an answer: its sentences, a sentence of more than MAX_CLAIM_TOKENS tokens cut at its commas
    into clauses of about CLAUSE_TOKENS tokens; fragments of fewer than MIN_CLAIM_TOKENS tokens without a number
    are left out. An answer with tokens but no such claim is one claim as a whole (a short answer is checked
    too)."""
    out: list[str] = []
    for sentence in sentences(answer):
        if len(tokens(sentence)) <= MAX_CLAIM_TOKENS:
            out.append(sentence)
            continue
        current: list[str] = []
        for clause in (c.strip() for c in _CLAUSE.split(sentence)):
            current.append(clause)
            if len(tokens("".join(current))) >= CLAUSE_TOKENS:
                out.append("，".join(current))
                current = []
        if current:
            if out and len(tokens("".join(current))) < MIN_CLAIM_TOKENS:
                out[-1] = out[-1] + "，" + "，".join(current)
            else:
                out.append("，".join(current))
    kept = [c for c in out if len(tokens(c)) >= MIN_CLAIM_TOKENS or _NUMBER.search(c)]
    if not kept and tokens(answer):
        return [_prepared(answer).strip()]
    return kept


@dataclass(frozen=True)
class _Span:
    """A source sentence (or two adjacent ones) as the lexical check reads it."""

    text: str
    unigrams: frozenset[tuple[str, ...]]
    bigrams: frozenset[tuple[str, ...]]
    numbers: frozenset[str]
    negated: frozenset[tuple[str, ...]]  # (negation, next token) pairs
    negated_content: frozenset[tuple[str, ...]]  # what each negation negates


def _negations(toks: Sequence[str]) -> tuple[set[tuple[str, ...]], set[tuple[str, ...]]]:
    pairs: set[tuple[str, ...]] = set()
    content: set[tuple[str, ...]] = set()
    for i, tok in enumerate(toks[:-1]):
        if tok in _NEGATIONS:
            pairs.add((tok, toks[i + 1]))
            after = toks[i + 1]
            # a word is negated by itself (not valid: valid); a CJK character with the one after it (不生效: 生效)
            if len(after) > 1:
                content.add((after,))
            elif i + 2 < len(toks):
                content.add((after, toks[i + 2]))
    return pairs, content


def _span(text: str) -> _Span:
    toks = tokens(text)
    pairs, content = _negations(toks)
    return _Span(text, frozenset((t,) for t in toks), frozenset(zip(toks, toks[1:], strict=False)),
                 frozenset(_NUMBER.findall(text)), frozenset(pairs), frozenset(content))


def _spans(sources: Sequence[str]) -> list[_Span]:
    """Each source sentence, and each pair of adjacent sentences of a source (a claim may join two)."""
    out = []
    for source in sources:
        parts = sentences(source)
        out += [_span(p) for p in parts]
        out += [_span(a + "。" + b) for a, b in zip(parts, parts[1:], strict=False)]
    return out


def _align(claim: str, span: _Span) -> float:
    """The claim's bigram coverage by the span (unigrams for a claim under 3 tokens), 0.0 when a number of the
    claim is not in the span or the negations disagree."""
    toks = tokens(claim)
    if not toks:
        return 0.0
    if not set(_NUMBER.findall(claim)) <= span.numbers:
        return 0.0
    pairs, content = _negations(toks)
    if not pairs <= span.negated:
        return 0.0  # the claim negates something the source does not
    grams = [tuple(toks[i:i + 2]) for i in range(len(toks) - 1)] if len(toks) >= 3 else [(t,) for t in toks]
    claimed = {tuple(toks[i:i + 2]) for i in range(len(toks) - 1)} | {(t,) for t in toks}
    if (span.negated_content - content) & claimed:
        return 0.0  # the source negates what the claim states
    present = span.bigrams if len(toks) >= 3 else span.unigrams
    return sum(g in present for g in grams) / len(grams)


def support(claim: str, source: str | Sequence[str]) -> float:
    """The lexical support of one claim by `source` (a text or several): its best `_align` score over the source
    sentences and pairs of adjacent sentences; 0.0 for a claim without tokens."""
    spans = _spans([source] if isinstance(source, str) else list(source))
    return max((_align(_prepared(claim), s) for s in spans), default=0.0)


# ---- checkers --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grounding:
    """The grounding check of one answer: its claims, each claim's best support over the sources, whether that
    reaches the threshold, and the method that decided."""

    claims: list[str]
    scores: list[float] = field(default_factory=list)
    supported: list[bool] = field(default_factory=list)
    method: str = LEXICAL

    @property
    def hallucinations(self) -> int:
        """Number of claims no source supports."""
        return sum(not ok for ok in self.supported)

    @property
    def hallucination_rate(self) -> float | None:
        """Unsupported claims / claims (None when the answer makes no claim: nothing was checked)."""
        return self.hallucinations / len(self.claims) if self.claims else None

    @property
    def grounded(self) -> bool:
        """The answer makes at least one claim and every claim is supported."""
        return bool(self.claims) and self.hallucinations == 0


class Checker(Protocol):
    method: str
    threshold: float

    def check(self, answer: str, sources: Sequence[str]) -> Grounding: ...


class LexicalAlignment:
    """Claims supported by lexical alignment with one source sentence (see the module's docstring)."""

    method = LEXICAL

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, why: str = "") -> None:
        if not 0.0 < threshold <= 1.0:
            raise MofangError(f"grounding threshold must lie in (0, 1], got {threshold}")
        self.threshold = threshold
        self.why = why  # why no NLI model is used ("" when none was asked for)

    def check(self, answer: str, sources: Sequence[str]) -> Grounding:
        found = claims(answer)
        spans = _spans([sources] if isinstance(sources, str) else list(sources))
        scores = [max((_align(c, s) for s in spans), default=0.0) for c in found]
        return Grounding(found, scores, [s >= self.threshold for s in scores], self.method)


class NLIChecker:
    """Claims supported when an entailment model, read from a local folder only, says a source sentence (or two
    adjacent ones) entails them with probability >= `threshold`."""

    def __init__(self, path: str | Path, threshold: float = DEFAULT_THRESHOLD, batch_size: int = 32) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise MofangError(f"no NLI model folder at {folder}")
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        self.model = AutoModelForSequenceClassification.from_pretrained(str(folder), local_files_only=True).eval()
        labels = {int(i): str(name).lower() for i, name in self.model.config.id2label.items()}
        entail = [i for i, name in labels.items() if name.startswith("entail")]
        if len(entail) != 1:
            raise MofangError(f"{folder} is no NLI model: its labels {sorted(labels.values())} name no "
                              "'entailment'")
        self.entailment, self.threshold, self.batch_size = entail[0], threshold, batch_size
        self.method = f"nli:{folder.name}"
        self._torch = torch

    def entail(self, premises: Sequence[str], hypothesis: str) -> list[float]:
        """P(entailment) of `hypothesis` given each premise."""
        out: list[float] = []
        for start in range(0, len(premises), self.batch_size):
            batch = list(premises[start:start + self.batch_size])
            encoded = self.tokenizer(batch, [hypothesis] * len(batch), truncation=True, max_length=512,
                                     padding=True, return_tensors="pt")
            with self._torch.no_grad():
                logits = self.model(**encoded).logits
            out += self._torch.softmax(logits, dim=-1)[:, self.entailment].tolist()
        return out

    def check(self, answer: str, sources: Sequence[str]) -> Grounding:
        found = claims(answer)
        premises = [s.text for s in _spans([sources] if isinstance(sources, str) else list(sources))]
        scores = [max(self.entail(premises, c), default=0.0) if premises else 0.0 for c in found]
        return Grounding(found, scores, [s >= self.threshold for s in scores], self.method)


@functools.lru_cache(maxsize=4)
def _nli(path: str, threshold: float) -> NLIChecker:
    return NLIChecker(path, threshold)


def grounding_checker(threshold: float = DEFAULT_THRESHOLD, nli_path: str | Path | None = None) -> Checker:
    """The checker to use: the NLI model in `nli_path` (default: the folder MOFANG_NLI_MODEL names) when it loads
    from local files, else lexical alignment with the reason (`why`) no NLI model is used."""
    path = str(nli_path or os.environ.get(NLI_ENV) or "").strip()
    if not path:
        return LexicalAlignment(threshold, why=f"no NLI model configured ({NLI_ENV} unset)")
    try:
        return _nli(str(Path(path).expanduser().resolve()), threshold)
    except Exception as exc:  # noqa: BLE001 - any failure to load falls back, and says why
        return LexicalAlignment(threshold, why=f"the NLI model at {path} did not load ({type(exc).__name__}: {exc})")


def describe(checker: Checker) -> str:
    """One line for a report: which method checked the claims, at which threshold, and why no NLI model."""
    why = getattr(checker, "why", "")
    return f"{checker.method} (supported at >= {checker.threshold:g})" + (f"; {why}" if why else "")


def grounding(answer: str, sources: str | Sequence[str], threshold: float = DEFAULT_THRESHOLD,
              checker: Checker | None = None) -> Grounding:
    """Check each claim of `answer` against `sources` (reference answer or retrieved passages) with `checker`
    (default: lexical alignment at `threshold`)."""
    sources = [sources] if isinstance(sources, str) else list(sources)
    return (checker or LexicalAlignment(threshold)).check(answer, sources)


# ---- answered, refused, hallucinated ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerMetrics:
    """Answered-rate, no-answer recall and hallucination of a set of answers, measured together.

    * `answered_rate`: answered / answerable questions (all questions when none is flagged unanswerable).
    * `no_answer_recall`: unanswerable questions left unanswered / unanswerable questions (None: none).
    * `hallucination_rate`: unsupported claims / claims, over the *answered* questions only — an unanswered
      question is not a grounded one; None (undefined, so a gate on it fails) when nothing was answered.
      An answer to an unanswerable question is checked against that question's sources, usually none: every
      claim of it is then unsupported.
    * `grounded_rate`: answerable questions answered with every claim supported / answerable questions.
    """

    answered_rate: float | None
    no_answer_recall: float | None
    hallucination_rate: float | None
    grounded_rate: float | None
    questions: int
    unanswerable: int
    answered: int
    claims: int
    unsupported: int
    method: str
    checks: list[Grounding | None] = field(default_factory=list, repr=False)

    def metrics(self) -> dict[str, float | None]:
        return {"answered_rate": self.answered_rate, "no_answer_recall": self.no_answer_recall,
                "hallucination_rate": self.hallucination_rate, "grounded_rate": self.grounded_rate}

    def unmeasured(self) -> dict[str, str]:
        """Why a metric is None, by name (what a gate on it says when it fails as not measurable)."""
        out = {}
        if self.hallucination_rate is None:
            out["hallucination_rate"] = (f"hallucination_rate is undefined: none of the {self.questions} questions "
                                         "was answered (empty, refused or 'I don't know' answers are unanswered, "
                                         "not grounded)")
        if self.answered_rate is None:
            out["answered_rate"] = "answered_rate: no answerable question was asked"
        if self.no_answer_recall is None:
            out["no_answer_recall"] = "no_answer_recall: no unanswerable question was asked"
        return out


def answer_metrics(answers: Sequence[str | None], sources: Sequence[Sequence[str]], *,
                   unanswerable: Sequence[bool] | None = None, checker: Checker | None = None,
                   refusal_message: str | None = None) -> AnswerMetrics:
    """`AnswerMetrics` of `answers` (per question the product's answer, or None / "" when it gave none), each
    checked against its `sources` (per question a list of texts; empty: nothing supports any claim), with
    `unanswerable` flags per question (default: all answerable)."""
    if len(answers) != len(sources):
        raise MofangError(f"answer_metrics: {len(answers)} answers but {len(sources)} rows of sources")
    flags = np.zeros(len(answers), bool) if unanswerable is None else np.asarray(unanswerable, dtype=bool)
    if flags.shape != (len(answers),):
        raise MofangError(f"answer_metrics: {len(answers)} answers but {flags.size} unanswerable flags")
    checker = checker or grounding_checker()
    texts = ["" if a is None else str(a) for a in answers]
    answered = np.array([not is_unanswered(t, refusal_message) for t in texts], dtype=bool)
    checks: list[Grounding | None] = [checker.check(t, list(src)) if ok else None
                                      for t, src, ok in zip(texts, sources, answered, strict=True)]
    done = [c for c in checks if c is not None]
    total = sum(len(c.claims) for c in done)
    unsupported = sum(c.hallucinations for c in done)
    answerable = ~flags
    grounded = np.array([c is not None and c.grounded for c in checks], dtype=bool)
    return AnswerMetrics(
        answered_rate=float(answered[answerable].mean()) if answerable.any() else None,
        no_answer_recall=float((~answered[flags]).mean()) if flags.any() else None,
        hallucination_rate=unsupported / total if total else None,
        grounded_rate=float(grounded[answerable].mean()) if answerable.any() else None,
        questions=len(texts), unanswerable=int(flags.sum()), answered=int(answered.sum()), claims=total,
        unsupported=unsupported, method=checker.method, checks=checks)
