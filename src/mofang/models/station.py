"""The model workshop station: plan the time split, train every family within budget, select a winner."""

from __future__ import annotations

import json
import time
from typing import Any

import joblib
import pandas as pd

from mofang.core.errors import MofangError
from mofang.core.metrics.predictive import compute_metrics, is_better
from mofang.devices.capacity import Needs
from mofang.models.anomaly.workshop import plan_anomaly, select_anomaly, train_anomaly
from mofang.models.candidate import Candidate
from mofang.models.ensemble import TOLERANCE, EnsembleCandidate, greedy_blend
from mofang.models.limits import limits_broken, within_limits
from mofang.models.llm.workshop import plan_llm, select_llm, train_llm
from mofang.models.metric import primary_metric
from mofang.models.registry import get_trainer, trainers_for, unavailable
from mofang.models.timeseries.workshop import plan_forecast, select_forecast, train_forecast
from mofang.models.trainers.base import THRESHOLD_METRICS, tune_threshold
from mofang.orders.schema import Order
from mofang.products.market_base import market_candidates
from mofang.station.context import StationContext
from mofang.station.contract import Station

# the transformer goes before the TF-IDF families: time it does not use (no GPU, no checkpoint that reads
# the text) flows on to them instead of being lost at the end
FAMILY_ORDER = ("dummy", "linear", "lightgbm", "transformer", "tfidf-linear", "jieba-linear", "lsa-linear",
                "tfidf-lightgbm")
# shares of the training time; families without one (lightgbm, transformer) split the rest, and time a
# family leaves unused flows to the ones after it
SHARES = {"dummy": 0.05, "linear": 0.20, "tfidf-linear": 0.25, "jieba-linear": 0.15, "lsa-linear": 0.12,
          "tfidf-lightgbm": 0.16}
LATENCY_S = 2.0  # at most this long measuring one candidate's latency
BLEND_TASKS = ("text-classification",)  # tasks whose candidates may be blended into a soft-voting ensemble
RETRIEVAL_QA = "retrieval-qa"
ANOMALY_DETECTION = "anomaly-detection"
TIME_SERIES_FORECAST = "time-series-forecast"
INSTRUCTION_TUNING = "instruction-tuning"
DENSE = ("lsa", "minilm")  # dense encoders a retrieval model tries besides BM25 (minilm skipped on Chinese)
LSA_COST = 8.0  # an LSA index took ~7× as long as BM25 on the same passages (7.6k medical Q/A pairs, 2 cores)
NO_ANSWER_PRECISION = 0.9  # target precision of "no answer" when the order does not gate on it
# what training needs by task, where it differs from the tabular default (`ModelWorkshop.resources`): a language
# model is fine-tuned on torch threads with its optimizer state in memory; text may fine-tune a small transformer
NEEDS_BY_TASK = {INSTRUCTION_TUNING: Needs(cpus=2, memory_gb=6), "text-classification": Needs(cpus=2, memory_gb=3),
                 RETRIEVAL_QA: Needs(cpus=1, memory_gb=2), ANOMALY_DETECTION: Needs(cpus=1, memory_gb=1),
                 TIME_SERIES_FORECAST: Needs(cpus=1, memory_gb=1)}


class ModelWorkshop(Station):
    name = "model"
    inputs = ("dataset", "train", "valid")
    outputs = ("candidates", "winner")
    processes = ("plan", "train", "select")
    resources = Needs(cpus=1, memory_gb=2)  # tabular: boosted trees and linear models on the order's table
    latency_calls = 200  # one-row predict calls timed per candidate (fewer in tests)

    @classmethod
    def needs_for(cls, order: Order) -> Needs:
        """Training needs by the order's task (a language model needs the most)."""
        return NEEDS_BY_TASK.get(order.task.value, cls.resources)

    # -- plan ------------------------------------------------------------------------------------
    def plan(self, ctx: StationContext) -> str:
        dataset = ctx.load("dataset")
        if dataset["task"] == RETRIEVAL_QA:
            return self._plan_retrieval(ctx, dataset)
        if dataset["task"] == ANOMALY_DETECTION:
            return plan_anomaly(ctx, dataset)
        if dataset["task"] == TIME_SERIES_FORECAST:
            return plan_forecast(ctx, dataset)
        if dataset["task"] == INSTRUCTION_TUNING:
            return plan_llm(ctx, dataset)
        families = _ordered(trainers_for(dataset["task"]))
        metric, direction = primary_metric(ctx.order, dataset.get("classes"))
        budget, remaining = ctx.budget_s, ctx.remaining_s()
        reserve = max(6.0, 0.10 * budget)  # evaluation + report + packaging took 2–4 s on 30k rows
        reserve += _after_gate_reserve(ctx.order, dataset, budget)
        measuring = sum(min(LATENCY_S, get_trainer(dataset["task"], f).latency_reserve_s) for f in families)
        train_s = max(0.0, remaining - reserve - measuring)
        fixed = {f: SHARES[f] for f in families if f in SHARES}
        rest = [f for f in families if f not in SHARES]
        shares = {**fixed, **{f: (1.0 - sum(fixed.values())) / max(1, len(rest)) for f in rest}}
        total_share = sum(shares.values()) or 1.0
        shares = {f: s / total_share for f, s in shares.items()}
        plan = {"task": dataset["task"], "families": families, "primary_metric": metric,
                "direction": direction, "budget_s": round(budget, 2), "remaining_s": round(remaining, 2),
                "reserve_s": round(reserve, 2), "train_s": round(train_s, 2),
                "train_until_elapsed_s": round(ctx.elapsed_s() + train_s, 2),
                "shares": {f: round(s, 3) for f, s in shares.items()},
                "seconds": {f: round(s * train_s, 2) for f, s in shares.items()}}
        ctx.param(**{k: plan[k] for k in ("families", "primary_metric", "train_s", "reserve_s")})
        split = ", ".join(f"{f} {plan['seconds'][f]:.0f}s" for f in families)
        reasons = [f"optimise {metric} ({direction} is better): "
                   + ("the order's first acceptance metric" if ctx.order.acceptance.metrics
                      else f"the default for {dataset['task']}"),
                   f"time split of {train_s:.0f}s training ({remaining:.0f}s left of {budget:.0f}s, "
                   f"{reserve:.0f}s kept for evaluation, packaging and delivery, {measuring:.0f}s for "
                   f"latency measurement): {split}"]
        if train_s < 1.0:
            reasons.append("the budget is nearly spent: each family gets one quick trial")
        for module, why in (unavailable().items() if dataset["task"].startswith("text-") else ()):
            reasons.append(f"families of {module} are not available here ({why})")
        for text in reasons:
            ctx.reason(text)
        plan["reasons"] = reasons
        ctx.save("plan", plan)
        return f"{len(families)} families on {metric}: {split}"

    # -- train -----------------------------------------------------------------------------------
    def train(self, ctx: StationContext) -> str:
        plan, dataset = ctx.load("plan"), ctx.load("dataset")
        if dataset["task"] == RETRIEVAL_QA:
            return self._train_retrieval(ctx, plan, dataset)
        if dataset["task"] == ANOMALY_DETECTION:
            return train_anomaly(ctx, plan, dataset)
        if dataset["task"] == TIME_SERIES_FORECAST:
            return train_forecast(ctx, plan, dataset)
        if dataset["task"] == INSTRUCTION_TUNING:
            return train_llm(ctx, plan, dataset)
        train, valid = ctx.load("train"), ctx.load("valid")
        folder = ctx.path("models")
        folder.mkdir(parents=True, exist_ok=True)
        metric = (plan["primary_metric"], plan["direction"])
        started = time.monotonic()
        total = max(plan["train_s"], 1e-6)
        families = plan["families"]
        records: list[dict[str, Any]] = []
        for index, family in enumerate(families):
            info_path = folder / f"{family}.json"
            if info_path.exists() and (folder / f"{family}.joblib").exists():
                records.append(json.loads(info_path.read_text(encoding="utf-8")))
                ctx.reason(f"{family}: already trained in an earlier run, kept")
                continue
            left = plan["train_until_elapsed_s"] - ctx.elapsed_s()
            weight = plan["shares"][family] / sum(plan["shares"][f] for f in families[index:])
            budget_s = max(0.0, left * weight)
            record = self._train_one(ctx, family, train, valid, dataset, budget_s, metric, started, total)
            if record is not None:
                info_path.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
                records.append(record)
        records += market_candidates(ctx, dataset, valid)  # `base_model: market:NAME@V` competes as it is
        if not records:
            raise MofangError("no candidate family could be trained; see the reasons of this process")
        ctx.save("candidates", records)
        ctx.metric(**{f"{r['name']}_{metric[0]}": r["valid_metrics"].get(metric[0]) for r in records})
        return "; ".join(f"{r['name']} {metric[0]} {_fmt(r['valid_metrics'].get(metric[0]))}"
                         f" ({r['trials']} trials, {r['fit_seconds']:.1f}s)" for r in records)

    def _train_one(self, ctx: StationContext, family: str, train: pd.DataFrame, valid: pd.DataFrame,
                   dataset: dict[str, Any], budget_s: float, metric: tuple[str, str], started: float,
                   total: float) -> dict[str, Any] | None:
        def on_trial(n: int, _elapsed: float, best: float | None) -> None:
            ctx.advance(time.monotonic() - started, total,
                        note=f"{family} trial {n} · best {metric[0]} {_fmt(best)}")

        try:
            candidate, info = get_trainer(dataset["task"], family).fit(
                train, valid, dataset, budget_s, seed=ctx.order.seed, on_trial=on_trial, metric=metric,
                decision_metric=decision_metric(ctx.order), order=ctx.order)
        except (MofangError, ValueError) as exc:
            ctx.reason(f"{family}: not trained — {exc}")
            return None
        path = candidate.save(ctx.path("models") / f"{family}.joblib")
        blendable = {k: info.pop(k) for k in ("valid_proba", "valid_truth") if k in info}
        rows = valid.drop(columns=[dataset["target"]]).head(self.latency_calls)
        latency = candidate.measure_latency(rows, n=self.latency_calls, max_seconds=LATENCY_S)
        note = (f"{family}: {info['trials']} trials in {info['fit_seconds']:.1f}s of {budget_s:.1f}s "
                f"budget, best valid {metric[0]} {_fmt(info['valid_metrics'].get(metric[0]))}"
                + (f" ({info['stopped']})" if info.get("stopped") else "")
                + (f"; {info['cross_validated']}" if info.get("cross_validated") else "")
                + (f"; {info['sampled']}" if info.get("sampled") else "")
                + (f"; {info['refit']}" if info.get("refit") else ""))
        if candidate.threshold_ is not None and candidate.is_multi_label:
            note += (f"; a label is answered when its probability reaches {candidate.threshold_:.3g} "
                     f"(tuned for {decision_metric(ctx.order) or metric[0]} on valid)")
        elif candidate.threshold_ is not None:
            note += (f"; decision threshold {candidate.threshold_:.3g} on P({candidate.classes_[1]}) "
                     f"tuned for {decision_metric(ctx.order)} on valid")
        ctx.reason(note)
        record = {"name": candidate.name, "family": family, "params": candidate.params,
                  "valid_metrics": info["valid_metrics"], "fit_seconds": info["fit_seconds"],
                  "budget_s": round(budget_s, 2), "trials": info["trials"], "model_path": str(path),
                  "size_mb": round(Candidate.size_mb(path), 4), "p50_ms": round(latency["p50_ms"], 3),
                  "p95_ms": round(latency["p95_ms"], 3), "note": note,
                  "single_fit_s": info.get("single_fit_s")}
        if info.get("selection_metrics"):
            record["selection_metrics"] = info["selection_metrics"]
        if len(blendable) == 2 and dataset["task"] in BLEND_TASKS:
            blend_path = ctx.path("models") / f"{family}.valid.joblib"
            joblib.dump({"proba": blendable["valid_proba"], "truth": blendable["valid_truth"]}, blend_path)
            record["valid_proba_path"] = str(blend_path)
        return record

    # -- select ----------------------------------------------------------------------------------
    def select(self, ctx: StationContext) -> str:
        plan, candidates = ctx.load("plan"), ctx.load("candidates")
        if plan.get("task") == RETRIEVAL_QA:
            return self._select_retrieval(ctx, plan, candidates)
        if plan.get("task") == ANOMALY_DETECTION:
            return select_anomaly(ctx, plan, candidates)
        if plan.get("task") == TIME_SERIES_FORECAST:
            return select_forecast(ctx, plan, candidates)
        if plan.get("task") == INSTRUCTION_TUNING:
            return select_llm(ctx, plan, candidates)
        candidates = [r for r in candidates if r["family"] != "ensemble"]  # one from an interrupted select
        metric, direction = plan["primary_metric"], plan["direction"]
        acceptance = ctx.order.acceptance
        limits = within_limits(candidates, acceptance)
        pool = limits.pool
        best = pool[0]
        for record in pool[1:]:
            if is_better(selection_score(record, metric), selection_score(best, metric), direction):
                best = record
        blended = self._blend(ctx, pool, best, metric, direction)
        if blended is not None:
            candidates.append(blended)
            ctx.save("candidates", candidates)
            why = limits_broken(blended, acceptance)
            if why:
                ctx.reason(f"{blended['name']} not picked: {why}")
            else:
                best = blended
        score = best["valid_metrics"].get(metric)
        how = (f"cross-validated {metric} {_fmt(selection_score(best, metric))} (valid {_fmt(score)})"
               if best.get("selection_metrics") else f"{metric} {_fmt(score)} on valid")
        ranked = any(r.get("selection_metrics") for r in pool)
        reason = (f"picked {best['name']}: best {how}, {best['size_mb']:.3g} MB, p95 {best['p95_ms']:.1f} ms"
                  + ("; candidates ranked by their cross-validated score where they have one, else by valid"
                     if ranked else "")) + limits.note
        ctx.reason(reason)
        winner = {"name": best["name"], "family": best["family"], "model_path": best["model_path"],
                  "primary_metric": metric, "direction": direction, "valid_score": score, "reason": reason}
        ctx.metric(winner=best["name"], valid_score=score)
        ctx.save("winner", winner)
        return reason


    def _blend(self, ctx: StationContext, pool: list[dict[str, Any]], best: dict[str, Any], metric: str,
               direction: str) -> dict[str, Any] | None:
        """A soft-voting ensemble of the candidates when it lowers the validation log loss without
        trailing the best single candidate's `metric` by more than the tolerance; its record, or None."""
        probas, truth = {}, None
        for record in pool:
            if record["family"] == "dummy" or not record.get("valid_proba_path"):
                continue
            saved = joblib.load(record["valid_proba_path"])
            truth = saved["truth"] if truth is None else truth
            if len(saved["truth"]) == len(truth):
                probas[record["name"]] = saved["proba"]
        if len(probas) < 2 or truth is None:
            return None
        dataset = ctx.load("dataset")
        blend = greedy_blend(probas, truth, dataset["classes"], dataset["task"])
        if blend is None:
            ctx.reason("no blend of candidates lowers the validation log loss of the best one")
            return None
        by_name = {r["name"]: r for r in pool}
        members = [Candidate.load(by_name[name]["model_path"]) for name in blend.members]
        ensemble = EnsembleCandidate(members, name="ensemble")
        name = f"ensemble({'+'.join(blend.members)})"
        metrics = blend.metrics
        threshold_metric = decision_metric(ctx.order)
        if threshold_metric and len(ensemble.classes_ or []) == 2:
            ensemble.threshold_ = tune_threshold(blend.proba[:, 1], truth, ensemble.classes_, threshold_metric)
            labels = ensemble.labels(blend.proba)
            metrics = compute_metrics(dataset["task"], truth, labels, blend.proba, ensemble.classes_)
        value, single = metrics.get(metric), selection_score(best, metric)
        slack = TOLERANCE if direction == "higher" else -TOLERANCE
        if value is None or (single is not None and is_better(single - slack, value, direction)):
            ctx.reason(f"{name}: valid log loss {_fmt(metrics.get('log_loss'))} is lower, but {metric} "
                       f"{_fmt(value)} trails {best['name']}'s {_fmt(single)} by more than {TOLERANCE}: not used")
            return None
        path = ensemble.save(ctx.path("models") / "ensemble.joblib")
        rows = ctx.load("valid").drop(columns=[dataset["target"]]).head(self.latency_calls)
        latency = ensemble.measure_latency(rows, n=self.latency_calls, max_seconds=LATENCY_S)
        losses = ", ".join(f"{n} {_fmt(by_name[n]['valid_metrics'].get('log_loss'))}" for n in blend.members)
        note = (f"{name}: the mean of {len(members)} candidates' probabilities lowers the validation log loss to "
                f"{_fmt(metrics.get('log_loss'))} (members: {losses}); valid {metric} {_fmt(value)}")
        ctx.reason(note)
        return {"name": name, "family": "ensemble", "params": ensemble.params, "valid_metrics": metrics,
                "fit_seconds": round(sum(by_name[n]["fit_seconds"] for n in blend.members), 3), "budget_s": 0.0,
                "single_fit_s": sum(by_name[n].get("single_fit_s") or 0.0 for n in blend.members),
                "trials": 0, "model_path": str(path), "size_mb": round(Candidate.size_mb(path), 4),
                "p50_ms": round(latency["p50_ms"], 3), "p95_ms": round(latency["p95_ms"], 3), "note": note}


    # -- retrieval-qa: one knowledge base, its internal candidates (bm25, dense, hybrid) ------------------
    def _plan_retrieval(self, ctx: StationContext, dataset: dict[str, Any]) -> str:
        from mofang.models.retrieval.metrics import RANK_METRICS

        metric, direction = primary_metric(ctx.order) if ctx.order.acceptance.metrics else ("mrr", "higher")
        tune_metric = metric if metric in RANK_METRICS else "mrr"
        budget, remaining = ctx.budget_s, ctx.remaining_s()
        reserve = max(6.0, 0.10 * budget)
        train_s = max(0.0, remaining - reserve - 3 * LATENCY_S)
        mode = dataset["retrieval"]["mode"]
        reasons = [f"select by {metric} ({direction} is better): "
                   + ("the order's first acceptance metric" if ctx.order.acceptance.metrics
                      else "the default for retrieval-qa")]
        if tune_metric != metric:
            reasons.append(f"rankings are tuned on validation {tune_metric} ({metric} is not a ranking metric)")
        rows = sum(dataset["rows"].values())
        reasons.append(f"one knowledge base of {rows:,} "
                       + ("document records" if mode == "documents" else "question–answer pairs (valid and test "
                          "answers indexed too, their questions held out)")
                       + f"; candidates bm25, dense-lsa, dense-minilm and their hybrids within {train_s:.0f}s "
                       f"({remaining:.0f}s left of {budget:.0f}s, {reserve:.0f}s kept for evaluation and delivery)")
        if mode == "documents":
            reasons.append("documents without questions: BM25 only (no validation questions to tune a dense "
                           "retriever, a fusion or a no-answer threshold on)")
        plan = {"task": RETRIEVAL_QA, "families": ["retrieval"], "primary_metric": metric, "direction": direction,
                "tune_metric": tune_metric, "mode": mode, "budget_s": round(budget, 2),
                "remaining_s": round(remaining, 2), "reserve_s": round(reserve, 2), "train_s": round(train_s, 2),
                "train_until_elapsed_s": round(ctx.elapsed_s() + train_s, 2), "shares": {"retrieval": 1.0},
                "seconds": {"retrieval": round(train_s, 2)}, "reasons": reasons}
        for text in reasons:
            ctx.reason(text)
        ctx.param(**{k: plan[k] for k in ("families", "primary_metric", "tune_metric", "train_s", "reserve_s")})
        ctx.save("plan", plan)
        return f"retrieval on {metric}: {train_s:.0f}s to index and tune"

    def _train_retrieval(self, ctx: StationContext, plan: dict[str, Any], dataset: dict[str, Any]) -> str:
        from mofang.models.retrieval import QAColumns, RetrievalModel

        info, order = dataset["retrieval"], ctx.order
        train, valid, test = ctx.load("train"), ctx.load("valid"), ctx.load("test")
        folder = ctx.path("models")
        folder.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        ctx.advance(0, 3, "indexing with BM25")
        if info["mode"] == "documents":
            model = RetrievalModel.from_documents(train, dense=(), name=order.id)
        else:
            columns = QAColumns.for_order(info["text"], dataset["target"], info["id_column"], sources=info["sources"])
            model = RetrievalModel.from_pairs(train, columns, held_out=[valid, test], dense=(), name=order.id)
            self._add_dense(ctx, model, plan)
        ctx.advance(1, 3, "tuning on validation questions")
        variants: dict[str, Any] = {"bm25": model.variant("bm25")}
        if info["mode"] == "documents":
            model.reasons = ["ranking bm25: documents without questions (nothing to tune on)"]
            questions, gold = [], []
        else:
            report = model.tune(valid, metric=plan["tune_metric"], target_precision=_no_answer_target(order),
                                prune=False, seed=order.seed)
            questions, gold = model.held_out_questions(valid, "validation")
            variants.update(_retrieval_variants(model, questions, gold, plan["tune_metric"]))
            if model.family not in variants:  # tuned on a sample of the questions: its fusion replaces ours
                variants = {k: v for k, v in variants.items() if not (k.startswith("hybrid-")
                                                                      and k.endswith(f"+{model.second_}"))}
                variants[model.family] = model
            for reason in report["reasons"]:
                ctx.reason(reason)
        chosen = model.family
        ctx.advance(2, 3, "measuring candidates")
        records = []
        for name, variant in variants.items():
            if name == chosen:
                variant = model
            elif questions:
                _calibrate(variant, questions, gold, _no_answer_target(order))
            pruned = _pruned(variant)
            path = pruned.save(folder / f"{_slug(name)}.joblib")
            metrics = (pruned.evaluate(valid) if questions else _no_metrics())
            for count in ("questions", "unanswerable"):
                metrics.pop(count, None)
            sample = valid if questions else _document_questions(pruned)
            latency = pruned.measure_latency(sample, n=self.latency_calls, max_seconds=LATENCY_S)
            used = [n for n in (pruned.first_, pruned.second_) if n]
            note = (f"{name}: valid {plan['tune_metric']} {_fmt(metrics.get(plan['tune_metric']))}, recall@1 "
                    f"{_fmt(metrics.get('recall_at_1'))}, recall@5 {_fmt(metrics.get('recall_at_5'))}; indexed "
                    f"{len(model.kb):,} passages in {sum(model.build_times.get(n, 0.0) for n in used):.1f}s"
                    + (f"; no answer {pruned.no_answer_.reason}" if pruned.no_answer_ else ""))
            ctx.reason(note)
            records.append({"name": name, "family": "retrieval", "params": _jsonable_params(pruned.params),
                            "valid_metrics": metrics, "fit_seconds": round(sum(model.build_times.get(n, 0.0)
                                                                               for n in used), 3),
                            "budget_s": plan["train_s"], "trials": 1 if pruned.fusion_ is None else 33,
                            "model_path": str(path), "size_mb": round(RetrievalModel.size_mb(path), 4),
                            "p50_ms": round(latency["p50_ms"], 3), "p95_ms": round(latency["p95_ms"], 3),
                            "note": note, "tuned_choice": name == chosen})
        for name, reason in model.skipped.items():
            ctx.reason(reason)
            records.append({"name": f"dense-{name}", "family": "retrieval", "skipped": reason, "params": {},
                            "valid_metrics": {}, "fit_seconds": 0.0, "budget_s": plan["train_s"], "trials": 0,
                            "model_path": None, "size_mb": None, "p50_ms": None, "p95_ms": None, "note": reason})
        ctx.advance(3, 3, "done")
        ctx.save("candidates", records)
        metric = plan["tune_metric"]
        ctx.metric(**{f"{r['name']}_{metric}": r["valid_metrics"].get(metric) for r in records if not r.get("skipped")})
        return (f"{len(model.kb):,} passages; " + "; ".join(
            f"{r['name']} {metric} {_fmt(r['valid_metrics'].get(metric))}" for r in records if not r.get("skipped"))
            + f" ({time.monotonic() - started:.1f}s)")

    def _add_dense(self, ctx: StationContext, model: Any, plan: dict[str, Any]) -> None:
        """Index the dense encoders the budget allows (an LSA index costs about LSA_COST × BM25's time); a
        skipped one keeps its reason in `model.skipped`, as the library does for unreadable encoders."""
        from mofang.models.retrieval.dense import DenseIndex
        from mofang.models.retrieval.product import _encoder, _unreadable

        texts = model.kb.texts
        for spec in DENSE:
            left = plan["train_until_elapsed_s"] - ctx.elapsed_s()
            needed = LSA_COST * model.build_times["bm25"] if spec == "lsa" else 2 * LSA_COST * model.build_times["bm25"]
            if left < needed:
                model.skipped[spec] = (f"{spec} skipped: about {needed:.0f}s to index {len(texts):,} passages, "
                                       f"{max(0.0, left):.0f}s of the training budget left")
                continue
            ctx.advance(0, 3, f"indexing with {spec}")
            encoder = _encoder(spec, (1, 2), 256)
            if isinstance(encoder, str):
                model.skipped[spec] = f"{spec} skipped: {encoder}"
                continue
            reason = _unreadable(encoder, texts, 0.10)
            if reason:
                model.skipped[encoder.name] = reason
                continue
            begun = time.perf_counter()
            model.retrievers_[encoder.name] = DenseIndex(encoder).fit(texts)
            model.build_times[encoder.name] = time.perf_counter() - begun

    def _select_retrieval(self, ctx: StationContext, plan: dict[str, Any], candidates: list[dict[str, Any]]) -> str:
        metric, direction = plan["primary_metric"], plan["direction"]
        acceptance = ctx.order.acceptance
        built = [r for r in candidates if not r.get("skipped")]
        limits = within_limits(built, acceptance)
        pool = limits.pool
        tuned = next((r for r in pool if r.get("tuned_choice")), None)
        if plan.get("mode") == "documents":
            best, why_best = pool[0], "BM25 over the documents (no questions to tune or compare rankings on)"
        elif tuned is not None and (metric == plan["tune_metric"] or len(pool) == 1):
            best = tuned  # validation already chose it: the simplest ranking within MIN_GAIN of the best
            why_best = f"the ranking tuned on valid {plan['tune_metric']} (the simplest within noise of the best)"
        else:
            best = pool[0]
            for record in pool[1:]:
                if is_better(record["valid_metrics"].get(metric), best["valid_metrics"].get(metric), direction):
                    best = record
            why_best = f"best {metric} on valid"
        score = best["valid_metrics"].get(metric)
        reason = (f"picked {best['name']}: {why_best}, {metric} {_fmt(score)}, {best['size_mb']:.3g} MB, "
                  f"p95 {best['p95_ms']:.1f} ms per question") + limits.note
        ctx.reason(reason)
        winner = {"name": best["name"], "family": "retrieval", "model_path": best["model_path"],
                  "primary_metric": metric, "direction": direction, "valid_score": score, "reason": reason}
        ctx.metric(winner=best["name"], valid_score=score)
        ctx.save("winner", winner)
        return reason


def _no_answer_target(order: Any) -> float:
    """The no-answer precision the threshold is calibrated for: the order's bar on no_answer_precision when it
    sets one (a little above, for the test split), else NO_ANSWER_PRECISION."""
    criterion = order.acceptance.metrics.get("no_answer_precision")
    if criterion is None or criterion.op not in (">=", ">"):
        return NO_ANSWER_PRECISION
    return float(min(1.0, max(NO_ANSWER_PRECISION, criterion.value + 0.02)))


def _retrieval_variants(model: Any, questions: list[str], gold: list[set[int]], metric: str) -> dict[str, Any]:
    """Each dense retriever alone and the best fusion of BM25 with it on validation `metric`, by family name."""
    from mofang.models.retrieval import tune_fusion
    from mofang.models.retrieval.metrics import metric_from_ranks, ranks_from_scores

    out: dict[str, Any] = {}
    dense = [n for n in model.retrievers_ if n != "bm25"]
    if not dense:
        return out
    bm25 = model.retrievers_["bm25"].scores(questions)
    for name in dense:
        single = model.variant(name)
        out[single.family] = single
        scores = model.retrievers_[name].scores(questions)
        choice = tune_fusion(bm25, scores, lambda s: metric_from_ranks(ranks_from_scores(s, gold), metric))
        fused = model.variant("bm25", name, choice.fusion)
        out[fused.family] = fused
    return out


def _calibrate(model: Any, questions: list[str], gold: list[set[int]], target_precision: float) -> None:
    """A variant's own no-answer threshold on the validation questions (as `RetrievalModel.tune` does)."""
    names = [n for n in (model.first_, model.second_ if model.fusion_ else None) if n]
    parts = model._component_scores(questions, names)
    model._calibrate(parts, questions, gold, (), target_precision, True)


def _pruned(model: Any) -> Any:
    """A copy that keeps BM25 (the fallback) and the retrievers its ranking uses."""
    import copy

    keep = ("bm25", model.first_, model.second_ if model.fusion_ else None)
    out = copy.copy(model)
    out.retrievers_ = {n: r for n, r in model.retrievers_.items() if n in keep}
    return out


def _document_questions(model: Any, n: int = 200) -> list[str]:
    """Stand-in questions for timing a documents model: the first characters of its passages."""
    return [text[:30] for text in model.kb.texts[:n]]


def _no_metrics() -> dict[str, Any]:
    return {m: None for m in ("recall_at_1", "recall_at_5", "recall_at_10", "mrr", "no_answer_precision",
                              "no_answer_recall")}


def _jsonable_params(params: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(params, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _slug(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _after_gate_reserve(order: Any, dataset: dict[str, Any], budget: float) -> float:
    """Seconds kept for the evaluation center's work after the gate: the refit on all rows when the order asks
    for it, the learning curve of a text order with few labels."""
    from mofang.evaluation.learning import wanted

    extra = 0.0
    if order.deployment.refit_on_all_rows and dataset["task"] in ("tabular-classification", "text-classification"):
        extra += max(3.0, 0.05 * budget)
    labelled = sum((dataset.get("rows") or {}).values())
    if dataset["task"] == "text-classification" and wanted(labelled, 0, bool(dataset.get("multi_label"))):
        extra += max(3.0, 0.05 * budget)
    return extra


def _ordered(families: dict[str, Any]) -> list[str]:
    known = [f for f in FAMILY_ORDER if f in families]
    return known + sorted(f for f in families if f not in known)


def selection_score(record: dict[str, Any], metric: str) -> float | None:
    """What the pick ranks a candidate by: its cross-validated score when its family cross-validated its
    trials (few labelled rows), else its valid score."""
    return (record.get("selection_metrics") or record["valid_metrics"]).get(metric)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def decision_metric(order: Any) -> str | None:
    """The order's first threshold-dependent acceptance metric (f1_macro, accuracy, ...), for which a
    binary model's decision threshold is tuned on valid; None keeps the most probable class."""
    return next((m for m in order.acceptance.metrics if m in THRESHOLD_METRICS), None)
