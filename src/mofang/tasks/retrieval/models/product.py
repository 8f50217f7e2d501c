"""RetrievalModel: a question-answering knowledge base behind the Candidate surface (ask, save, size, latency)."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mofang.core.errors import DataError, MofangError
from mofang.core.metrics.grounding import Checker, answer_metrics, grounding_checker
from mofang.models.saved import SavedModel
from mofang.models.transformer.runtime import require_nlp
from mofang.tasks.retrieval.models.bm25 import BM25, top_k
from mofang.tasks.retrieval.models.dense import MAX_UNK_RATIO, DenseIndex, Encoder, HFEncoder, LSAEncoder
from mofang.tasks.retrieval.models.hybrid import Fusion, tune_fusion
from mofang.tasks.retrieval.models.index import KnowledgeBase, QAColumns
from mofang.tasks.retrieval.models.metrics import (
    KS,
    RANK_METRICS,
    metric_from_ranks,
    ranks_from_scores,
    retrieval_metrics,
)
from mofang.tasks.retrieval.models.noanswer import NoAnswerThreshold, calibrate

TASK = "retrieval-qa"
QUERY_BATCH = 256  # queries scored at once: bounds memory at QUERY_BATCH × passages floats per retriever
DEPTH = 100  # ranked results kept per query when evaluating (MRR is MRR@100)
MAX_TUNING_QUERIES = 2000
CONFIDENCE_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
GROUNDING_THRESHOLD = 0.5  # share of a claim's bigrams its reference must hold (lexical alignment)
MIN_GAIN = 0.005  # a dense or fused ranking must beat the simpler one by this much on validation to be chosen

DenseSpec = str | Encoder


@dataclass
class Ranking:
    """Results for a batch of queries: passage positions and ranking scores (best first, shape n × k), and
    each query's confidence (the top result's score on the no-answer scale)."""

    index: np.ndarray
    scores: np.ndarray
    confidence: np.ndarray


class RetrievalModel(SavedModel):
    """Passages (question–answer pairs or document chunks) indexed by BM25 and dense encoders; one retriever
    or a fusion of BM25 with one dense retriever ranks them, and a calibrated threshold on the top result's
    confidence answers "no answer".

    Build with `from_pairs` / `from_documents`, pick the retriever and threshold with `tune` on validation
    questions, measure with `evaluate`; `ask` answers one question.
    """

    task = TASK

    def __init__(self, kb: KnowledgeBase, retrievers: dict[str, Any], *, columns: QAColumns | None = None,
                 name: str = TASK, skipped: dict[str, str] | None = None,
                 build_times: dict[str, float] | None = None) -> None:
        if "bm25" not in retrievers:
            raise ValueError("a retrieval model needs its BM25 retriever")
        self.kb = kb
        self.columns = columns
        self.name = name
        self.retrievers_ = dict(retrievers)
        self.skipped = dict(skipped or {})
        self.build_times = dict(build_times or {})  # seconds to index the passages, per retriever
        # until tuned on questions: BM25 alone (a dense retriever fitted on a small corpus can only
        # be trusted once validation shows it helps)
        self.first_: str = "bm25"
        self.second_: str | None = None
        self.fusion_: Fusion | None = None
        self.confidence_weight_ = 1.0
        self.no_answer_: NoAnswerThreshold | None = None
        self.reasons: list[str] = []

    # -- building --------------------------------------------------------------------------------
    @classmethod
    def from_pairs(cls, frame: pd.DataFrame, columns: QAColumns, held_out: Sequence[pd.DataFrame] = (),
                   **options: Any) -> RetrievalModel:
        """A model over question–answer rows: `frame` (train) and the `held_out` frames (valid, test),
        whose answers are indexed without their query column. Options: see `from_knowledge_base`."""
        kb = KnowledgeBase.from_pairs(frame, columns, held_out)
        return cls.from_knowledge_base(kb, columns=columns, **options)

    @classmethod
    def from_documents(cls, frame: pd.DataFrame, chunk_chars: int = 300, overlap_chars: int = 60,
                       **options: Any) -> RetrievalModel:
        """A model over document passages (a documents source read by the data workshop)."""
        kb = KnowledgeBase.from_documents(frame, chunk_chars, overlap_chars)
        return cls.from_knowledge_base(kb, **options)

    @classmethod
    def from_knowledge_base(cls, kb: KnowledgeBase, *, columns: QAColumns | None = None,
                            dense: Sequence[DenseSpec] = ("lsa", "minilm"), k1: float = 1.2, b: float = 0.75,
                            ngram_range: tuple[int, int] = (1, 2), lsa_dim: int = 256,
                            max_unk_ratio: float = MAX_UNK_RATIO, name: str = TASK) -> RetrievalModel:
        """Index `kb` with BM25 and each `dense` encoder ("lsa", "minilm", or an `Encoder`). A pre-trained
        encoder that cannot read the corpus (unreadable-token ratio above `max_unk_ratio`, measured by
        `mofang.models.transformer.coverage`) or cannot be loaded is skipped, the reason kept in `skipped`."""
        texts = kb.texts
        started = time.perf_counter()
        retrievers: dict[str, Any] = {"bm25": BM25(k1, b, ngram_range).fit(texts)}
        times = {"bm25": time.perf_counter() - started}
        skipped: dict[str, str] = {}
        for spec in dense:
            encoder = _encoder(spec, ngram_range, lsa_dim)
            if isinstance(encoder, str):
                skipped[str(spec)] = f"{spec} skipped: {encoder}"
                continue
            reason = _unreadable(encoder, texts, max_unk_ratio)
            if reason:
                skipped[encoder.name] = reason
                continue
            started = time.perf_counter()
            retrievers[encoder.name] = DenseIndex(encoder).fit(texts)
            times[encoder.name] = time.perf_counter() - started
        return cls(kb, retrievers, columns=columns, name=name, skipped=skipped, build_times=times)

    # -- what it is ------------------------------------------------------------------------------
    @property
    def family(self) -> str:
        if self.fusion_ is None or self.second_ is None:
            return self.first_ if self.first_ == "bm25" else f"dense-{self.first_}"
        return f"hybrid-{self.fusion_.method}-{self.first_}+{self.second_}"

    @property
    def params(self) -> dict[str, Any]:
        bm25: BM25 = self.retrievers_["bm25"]
        out: dict[str, Any] = {"passages": len(self.kb), "kind": self.kb.kind, "retrievers": list(self.retrievers_),
                               "bm25": {"k1": bm25.k1, "b": bm25.b, "ngram_range": list(bm25.ngram_range)},
                               "ranking": self.first_ if self.fusion_ is None else
                               {"first": self.first_, "second": self.second_, "method": self.fusion_.method,
                                "weight": self.fusion_.weight},
                               "confidence_weight": self.confidence_weight_,
                               "no_answer_threshold": self.no_answer_.threshold if self.no_answer_ else None}
        for name, retriever in self.retrievers_.items():
            if isinstance(retriever, DenseIndex):
                out[name] = {"encoder": repr(retriever.encoder), "dim": int(retriever.embeddings_.shape[1])}
        if self.skipped:
            out["skipped"] = dict(self.skipped)
        return out

    def variant(self, first: str, second: str | None = None, fusion: Fusion | None = None) -> RetrievalModel:
        """A copy sharing this model's indexes that ranks with `first` alone, or fused with `second`; it has
        no no-answer threshold (for comparing retrievers on the same split)."""
        for name in (first, second):
            if name is not None and name not in self.retrievers_:
                raise ValueError(f"no retriever {name!r} (has: {', '.join(self.retrievers_)})")
        if (second is None) != (fusion is None):
            raise ValueError("a fused ranking needs both `second` and `fusion`")
        other = copy.copy(self)
        other.first_, other.second_, other.fusion_ = first, second, fusion
        other.confidence_weight_ = fusion.weight if fusion else 1.0
        other.no_answer_, other.reasons = None, []
        return other

    # -- searching -------------------------------------------------------------------------------
    def _component_scores(self, queries: Sequence[str], names: Sequence[str]) -> dict[str, np.ndarray]:
        return {name: self.retrievers_[name].scores(queries) for name in names}

    def _rank(self, parts: dict[str, np.ndarray], first: str, second: str | None, fusion: Fusion | None,
              confidence_weight: float, k: int, exclude: Sequence[set[int]] | None = None) -> Ranking:
        a = parts[first]
        b = parts[second] if second is not None else None
        if exclude is not None:
            a = _masked(a, exclude)
            b = _masked(b, exclude) if b is not None else None
        ranking = a if fusion is None or b is None else fusion(a, b)
        if exclude is not None:
            ranking = ranking.copy()
            for row, positions in enumerate(exclude):
                ranking[row, list(positions)] = -np.inf
        index, scores = top_k(ranking, k)
        top = index[:, 0]
        rows = np.arange(len(top))
        confidence = a[rows, top] if b is None else (confidence_weight * a[rows, top]
                                                     + (1.0 - confidence_weight) * b[rows, top])
        return Ranking(index, scores, np.asarray(confidence, dtype=float))

    def search(self, queries: Sequence[str], k: int = 10, exclude: Sequence[set[int]] | None = None) -> Ranking:
        """Rank the passages for each query (in batches). `exclude` hides passages per query (used to
        simulate a question whose answer is not in the knowledge base)."""
        queries = [str(q) for q in queries]
        names = [n for n in (self.first_, self.second_ if self.fusion_ else None) if n]
        parts: list[Ranking] = []
        for start in range(0, len(queries), QUERY_BATCH):
            batch = queries[start:start + QUERY_BATCH]
            hidden = exclude[start:start + QUERY_BATCH] if exclude is not None else None
            scores = self._component_scores(batch, names)
            parts.append(self._rank(scores, self.first_, self.second_ if self.fusion_ else None, self.fusion_,
                                    self.confidence_weight_, k, hidden))
        if not parts:
            return Ranking(np.zeros((0, k), dtype=int), np.zeros((0, k)), np.zeros(0))
        return Ranking(np.concatenate([p.index for p in parts]), np.concatenate([p.scores for p in parts]),
                       np.concatenate([p.confidence for p in parts]))

    def ask(self, question: str, k: int = 5) -> dict[str, Any]:
        """The `k` best answers to one question, each with its source and ranking score, or a no-answer
        result when the top result's confidence is under the calibrated threshold."""
        if not str(question or "").strip():
            raise ValueError("the question is empty")
        ranking = self.search([question], k)
        confidence = float(ranking.confidence[0])
        threshold = self.no_answer_.threshold if self.no_answer_ else None
        if self.no_answer_ is not None and bool(self.no_answer_.rejects(confidence)):
            return {"question": question, "no_answer": True, "confidence": round(confidence, 6),
                    "threshold": threshold, "answers": []}
        answers = [{"answer": self.kb.answers[i], "source": dict(self.kb.sources[i]), "score": round(float(s), 6)}
                   for i, s in zip(ranking.index[0], ranking.scores[0], strict=True) if np.isfinite(s)]
        return {"question": question, "no_answer": False, "confidence": round(confidence, 6),
                "threshold": threshold, "answers": answers}

    # -- tuning and evaluating -------------------------------------------------------------------
    def held_out_questions(self, frame: pd.DataFrame, what: str = "held-out") -> tuple[list[str], list[set[int]]]:
        """The query texts of a held-out frame (rows with a query whose answer the base holds) and, for
        each, the passages holding its answer."""
        if self.columns is None:
            raise ValueError("this model was not built from question–answer pairs; use tune_queries/evaluate_queries")
        query, answer = self.columns.query_column, self.columns.answer
        for column in (query, answer):
            if column not in frame.columns:
                raise DataError(f"{what} data lacks column '{column}'", column=column)
        rows = frame[frame[query].map(lambda v: bool(str(v).strip()) if v is not None and v == v else False)]
        gold = self.kb.gold_for(rows[answer])
        missing = sum(1 for g in gold if not g)
        if missing == len(gold):
            raise DataError(f"no answer of the {what} rows is in the knowledge base: build the model with these "
                            "rows in held_out")
        questions = [str(q).strip() for q in rows[query]]
        return ([q for q, g in zip(questions, gold, strict=True) if g], [g for g in gold if g])

    def tune(self, valid: pd.DataFrame, out_of_domain: Sequence[str] = (), *, metric: str = "mrr",
             target_precision: float = 0.9, mask_self: bool = True, prune: bool = True,
             seed: int = 0) -> dict[str, Any]:
        """Pick the ranking (BM25, a dense retriever, or BM25 fused with one, method and weight) with the
        best validation `metric`, then calibrate the no-answer threshold. See `tune_queries`."""
        questions, gold = self.held_out_questions(valid, "validation")
        return self.tune_queries(questions, gold, out_of_domain, metric=metric, target_precision=target_precision,
                                 mask_self=mask_self, prune=prune, seed=seed)

    def tune_queries(self, questions: Sequence[str], gold: Sequence[set[int]], out_of_domain: Sequence[str] = (),
                     *, metric: str = "mrr", target_precision: float = 0.9, mask_self: bool = True,
                     prune: bool = True, seed: int = 0) -> dict[str, Any]:
        """`tune` on given questions and gold passage positions.

        The no-answer threshold is calibrated on the top-result confidence of the answerable questions
        against unanswerable ones: the `out_of_domain` questions and, with `mask_self`, the same validation
        questions asked with their own answers hidden (a question whose answer the base lacks).
        """
        if metric not in RANK_METRICS:
            raise ValueError(f"unknown tuning metric {metric!r} (expected one of: {', '.join(RANK_METRICS)})")
        questions, gold = list(questions), [set(g) for g in gold]
        if not questions:
            raise ValueError("no validation questions to tune on")
        if len(questions) > MAX_TUNING_QUERIES:
            keep = np.sort(np.random.default_rng(seed).choice(len(questions), MAX_TUNING_QUERIES, replace=False))
            questions, gold = [questions[i] for i in keep], [gold[i] for i in keep]
        parts = self._component_scores(questions, list(self.retrievers_))

        def objective(scores: np.ndarray) -> float:
            return metric_from_ranks(ranks_from_scores(scores, gold), metric)

        tried: dict[str, float] = {name: objective(scores) for name, scores in parts.items()}
        # simplest first (BM25, then a dense retriever, then a fusion); a costlier ranking (more to build,
        # store and run per question) must beat the current choice by MIN_GAIN: noise-level gains are not kept
        choice: tuple[str, str | None, Fusion | None] = ("bm25", None, None)
        best = tried["bm25"]
        for name in [n for n in parts if n != "bm25"]:
            if tried[name] > best + MIN_GAIN:
                best, choice = tried[name], (name, None, None)
        for name in [n for n in parts if n != "bm25"]:
            fused = tune_fusion(parts["bm25"], parts[name], objective)
            tried[f"hybrid bm25+{name} ({fused.fusion.describe()})"] = fused.score
            if fused.score > best + MIN_GAIN:
                best, choice = fused.score, ("bm25", name, fused.fusion)
        self.first_, self.second_, self.fusion_ = choice
        if self.fusion_ is None:
            self.second_ = None
        self.reasons = [f"ranking {self.family}: validation {metric} {best:.4f} on {len(questions)} questions, "
                        f"the simplest within {MIN_GAIN} of the best ("
                        + ", ".join(f"{k} {v:.4f}" for k, v in tried.items()) + ")"]
        self.reasons += list(self.skipped.values())

        self._calibrate(parts, questions, gold, out_of_domain, target_precision, mask_self)
        if prune:
            keep = ("bm25", self.first_, self.second_)  # BM25 stays: small, and the model's fallback
            self.retrievers_ = {n: r for n, r in self.retrievers_.items() if n in keep}
        return {"family": self.family, "metric": metric, "valid": {k: round(v, 6) for k, v in tried.items()},
                "no_answer": self.no_answer_.to_dict() if self.no_answer_ else None, "reasons": list(self.reasons)}

    def _calibrate(self, parts: dict[str, np.ndarray], questions: list[str], gold: list[set[int]],
                   out_of_domain: Sequence[str], target_precision: float, mask_self: bool) -> None:
        """Choose the confidence mix (hybrid only) and the no-answer threshold on validation questions."""
        second = self.second_ if self.fusion_ else None
        ood = [str(q) for q in out_of_domain if str(q).strip()]
        ood_parts = self._component_scores(ood, [n for n in (self.first_, second) if n]) if ood else {}
        weights = CONFIDENCE_WEIGHTS if second else (1.0,)
        best: tuple[tuple[float, ...], float, NoAnswerThreshold] | None = None
        for w in weights:
            answerable = self._rank(parts, self.first_, second, self.fusion_, w, 1).confidence
            unanswerable = []
            if mask_self:
                unanswerable.append(self._rank(parts, self.first_, second, self.fusion_, w, 1, gold).confidence)
            if ood:
                unanswerable.append(self._rank(ood_parts, self.first_, second, self.fusion_, w, 1).confidence)
            threshold = calibrate(answerable, np.concatenate(unanswerable) if unanswerable else [], target_precision)
            fusion_weight = self.fusion_.weight if self.fusion_ else 1.0
            key = (threshold.threshold is not None, np.nan_to_num(threshold.recall), np.nan_to_num(threshold.precision),
                   -abs(w - fusion_weight))
            if best is None or key > best[0]:
                best = (key, w, threshold)
        assert best is not None
        self.confidence_weight_, self.no_answer_ = best[1], best[2]
        what = ("held-out answers" if mask_self else "") + (" + " if mask_self and ood else "") + \
               (f"{len(ood)} out-of-domain questions" if ood else "")
        self.reasons.append(f"no answer ({what or 'nothing unanswerable'}): {self.no_answer_.reason}")

    def evaluate(self, test: pd.DataFrame, out_of_domain: Sequence[str] = (), *, mask_self: bool = True,
                 ks: Sequence[int] = KS, checker: Checker | None = None) -> dict[str, float | None]:
        """Test metrics: recall_at_k, mrr (MRR@100) over the test questions, no-answer precision/recall over them
        (answerable) plus the unanswerable set (`out_of_domain`, and with `mask_self` the same questions with
        their own answers hidden), and the answer metrics of `evaluate_queries`."""
        questions, gold = self.held_out_questions(test, "test")
        return self.evaluate_queries(questions, gold, out_of_domain, mask_self=mask_self, ks=ks, checker=checker)

    def evaluate_queries(self, questions: Sequence[str], gold: Sequence[set[int]],
                         out_of_domain: Sequence[str] = (), *, mask_self: bool = True,
                         ks: Sequence[int] = KS, checker: Checker | None = None) -> dict[str, float | None]:
        """`evaluate` on given questions and gold passage positions.

        Also what a user gets: `answered_rate` (answerable questions answered) and `hallucination_rate` (claims of
        the answers given, answerable and unanswerable questions alike, that the question's evidence does not
        support; None when nothing was answered), by `mofang.core.metrics.grounding.answer_metrics`. The answer
        is quoted from the passage it cites, so checking it against that passage would always pass; it is checked
        against the question's reference answer(s) instead, and an unanswerable question has no evidence in the
        base: every claim of an answer to it is unsupported. `answered` and `claims` count what was checked."""
        questions, gold = list(questions), [set(g) for g in gold]
        ranking = self.search(questions, DEPTH)
        ranked = [list(row) for row in ranking.index]
        confidences, tops = [ranking.confidence], [ranking.index[:, 0]]
        sources: list[list[str]] = [list(dict.fromkeys(self.kb.answers[i] for i in sorted(g))) for g in gold]
        if mask_self:
            masked = self.search(questions, 1, exclude=gold)
            confidences.append(masked.confidence)
            tops.append(masked.index[:, 0])
            sources += [[] for _ in questions]  # its own answer hidden: the base holds no evidence for it
        if out_of_domain:
            ood = self.search(list(out_of_domain), 1)
            confidences.append(ood.confidence)
            tops.append(ood.index[:, 0])
            sources += [[] for _ in out_of_domain]
        flags = np.concatenate(confidences)
        unanswerable = np.r_[np.zeros(len(questions), bool), np.ones(len(flags) - len(questions), bool)]
        threshold = self.no_answer_ or NoAnswerThreshold(None, 1.0, 0.0, 0.0, 0, 0, "not calibrated")
        rejected = threshold.rejects(flags)
        out: dict[str, float | None] = dict(retrieval_metrics(ranked, gold, rejected, unanswerable, ks))
        answers = [None if no else self.kb.answers[int(i)] for i, no in zip(np.concatenate(tops), rejected,
                                                                            strict=True)]
        checked = answer_metrics(answers, sources, unanswerable=unanswerable,
                                 checker=checker or grounding_checker(GROUNDING_THRESHOLD))
        out["answered_rate"], out["hallucination_rate"] = checked.answered_rate, checked.hallucination_rate
        out["questions"], out["unanswerable"] = float(len(questions)), float(unanswerable.sum())
        out["answered"], out["claims"] = float(checked.answered), float(checked.claims)
        return out

    # -- persisting and measuring ----------------------------------------------------------------
    def measure_latency(self, questions: Sequence[str] | pd.DataFrame, n: int = 200,
                        max_seconds: float = 5.0) -> dict[str, float]:
        """p50/p95 milliseconds of one-question `ask` calls (for a frame: its query column)."""
        if isinstance(questions, pd.DataFrame):
            if self.columns is None or self.columns.query_column not in questions.columns:
                raise ValueError("pass the questions as strings (this frame has no query column)")
            questions = questions[self.columns.query_column].tolist()
        texts = [str(q) for q in questions if q is not None and str(q).strip()][:n]
        if not texts:
            return {"p50_ms": float("nan"), "p95_ms": float("nan")}
        return _latency(self.ask, texts, n, max_seconds)

    def __repr__(self) -> str:
        return f"RetrievalModel(name={self.name!r}, family={self.family!r}, passages={len(self.kb)})"


def _latency(call: Callable[[str], Any], texts: list[str], n: int, max_seconds: float) -> dict[str, float]:
    call(texts[0])  # warm-up: first calls pay for lazy imports and caches
    timings: list[float] = []
    stop = time.perf_counter() + max_seconds
    for i in range(n):
        started = time.perf_counter()
        call(texts[i % len(texts)])
        timings.append((time.perf_counter() - started) * 1000.0)
        if started > stop and len(timings) >= 20:
            break
    return {"p50_ms": float(np.percentile(timings, 50)), "p95_ms": float(np.percentile(timings, 95))}


def _encoder(spec: DenseSpec, ngram_range: tuple[int, int], lsa_dim: int) -> Encoder | str:
    """The encoder a dense spec names, or the reason it cannot be used."""
    if not isinstance(spec, str):
        return spec
    if spec == "lsa":
        return LSAEncoder(dim=lsa_dim, ngram_range=ngram_range)
    if spec == "minilm":
        try:
            require_nlp()
            return HFEncoder()
        except (MofangError, FileNotFoundError) as exc:
            return f"not available: {exc}"
    raise ValueError(f"unknown dense encoder {spec!r} (expected 'lsa', 'minilm' or an Encoder)")


def _unreadable(encoder: Encoder, texts: Sequence[str], max_unk_ratio: float) -> str | None:
    """Why a pre-trained encoder cannot serve this corpus (its tokenizer cannot read it, or it does not
    load), or None."""
    if not isinstance(encoder, HFEncoder):
        return None
    try:
        coverage = encoder.coverage(texts)
    except (MofangError, OSError, ValueError) as exc:
        return f"{encoder.name} skipped: cannot load its tokenizer ({exc})"
    if not coverage.readable(max_unk_ratio):
        return coverage.skip_reason(max_unk_ratio)
    return None


def _masked(scores: np.ndarray, exclude: Sequence[set[int]]) -> np.ndarray:
    """Scores with each query's excluded passages lowered to that query's minimum (never ranked first, and
    min-max scaling unchanged)."""
    out = scores.copy()
    floor = scores.min(axis=1)
    for row, positions in enumerate(exclude):
        if positions:
            out[row, list(positions)] = floor[row]
    return out
