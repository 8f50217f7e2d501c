"""The model workshop station: plan the time split, train every family within budget, select a winner."""

from __future__ import annotations

import json
import math
import time
from importlib.metadata import entry_points
from typing import Any

import joblib
import numpy as np
import pandas as pd

from mofang.core.errors import MofangError
from mofang.core.metrics.predictive import compute_metrics, is_better
from mofang.core.resources import Needs
from mofang.core.tasks import spec as task_spec
from mofang.models.candidate import Candidate
from mofang.models.ensemble import TOLERANCE, EnsembleCandidate, caruana, greedy_blend, oof_scorer
from mofang.models.limits import limits_broken, within_limits
from mofang.models.metric import primary_metric
from mofang.models.registry import get_trainer, trainers_for, unavailable
from mofang.models.reproducible import (
    DATA_SHARE,
    HARD_CAP,
    THREADS,
    PlanOverrun,
    is_reproducible,
    planned_trials,
    seed_everything,
    trial_cost_s,
)
from mofang.models.trainers.base import THRESHOLD_METRICS, edge_target, tune_threshold
from mofang.orders.schema import Order
from mofang.station.context import StationContext
from mofang.station.contract import Station

EVALUATION_RESERVE = "evaluation.reserve"  # the task hook: seconds its evaluation needs after the gate
# ready-made candidates that compete with the trained families (the marketplace's `base_model: market:NAME@V`):
# functions (ctx, dataset, valid) → candidate records, registered under this entry point group
CANDIDATE_SOURCES = "mofang.candidate_sources"

# the transformer goes before the TF-IDF families: time it does not use (no GPU, no checkpoint that reads
# the text) flows on to them instead of being lost at the end; on tables the families with few trials or a
# fixed cost go first, the boosted trees (the strongest on most tables, with no trial cap) last, LightGBM the
# very last: every second left unused before it is its
FAMILY_ORDER = ("dummy", "linear", "knn", "randomforest", "extratrees", "mlp", "catboost", "xgboost", "lightgbm",
                "transformer", "tfidf-linear", "jieba-linear", "lsa-linear", "tfidf-lightgbm")
# shares of the training time; families without one (lightgbm, transformer, the tables' other boosted trees)
# split the rest, and time a family leaves unused flows to the ones after it
SHARES = {"dummy": 0.05, "linear": 0.08, "knn": 0.05, "randomforest": 0.07, "extratrees": 0.07, "mlp": 0.10,
          "tfidf-linear": 0.25, "jieba-linear": 0.15, "lsa-linear": 0.12, "tfidf-lightgbm": 0.16}
LATENCY_S = 2.0  # at most this long measuring one candidate's latency


class ModelWorkshop(Station):
    name = "model"
    inputs = ("dataset", "train", "valid")
    outputs = ("candidates", "winner")
    processes = ("plan", "train", "select")
    resources = Needs(cpus=1, memory_gb=2)  # tabular: boosted trees and linear models on the order's table
    latency_calls = 200  # one-row predict calls timed per candidate (fewer in tests)

    @classmethod
    def needs_for(cls, order: Order) -> Needs:
        """Training needs by the order's task (`TaskSpec.needs`: a language model needs the most), else the
        station's own (tabular)."""
        return task_spec(order.task).needs or cls.resources

    # -- plan ------------------------------------------------------------------------------------
    def plan(self, ctx: StationContext) -> str:
        dataset = ctx.load("dataset")
        found = trainers_for(dataset["task"])
        families = _ordered(found)
        not_exported = [f for f in families if found[f].mode in ("tree", "linear") and not found[f].exports_onnx
                        and f != "dummy"]  # the baseline stays: what every other candidate must beat
        if edge_target(ctx.order) and not_exported and len(not_exported) < len(families):
            families = [f for f in families if f not in not_exported]
            ctx.reason(f"the order is delivered to the edge: only families with an ONNX export train, single models "
                       f"without bagging or ensembles ({', '.join(not_exported)} left out)")
        metric, direction = primary_metric(ctx.order, dataset.get("classes"))
        budget, remaining = ctx.budget_s, ctx.remaining_s()
        if is_reproducible(ctx.order):  # sized from the budget alone, never from how long the data station took
            remaining = budget * (1.0 - DATA_SHARE)
        reserve = max(6.0, 0.10 * budget)  # evaluation + report + packaging took 2–4 s on 30k rows
        reserve += _after_gate_reserve(ctx.order, dataset, budget)
        # a family's latency is measured right after it trains, so the time it takes comes out of the later
        # families' shares by itself: only the last family's and an ensemble's are kept out of the training time
        measuring = (min(LATENCY_S, get_trainer(dataset["task"], families[-1]).latency_reserve_s)
                     + (LATENCY_S if len(families) > 2 else 0.0)) if families else 0.0
        train_s = max(0.0, remaining - reserve - measuring)
        rework_s = ctx.order.rework.reserve * train_s if reworks(ctx.order) else 0.0
        train_s -= rework_s
        fixed = {f: SHARES[f] for f in families if f in SHARES}
        rest = [f for f in families if f not in SHARES]
        shares = {**fixed, **{f: (1.0 - sum(fixed.values())) / max(1, len(rest)) for f in rest}}
        total_share = sum(shares.values()) or 1.0
        shares = {f: s / total_share for f, s in shares.items()}
        plan = {"task": dataset["task"], "families": families, "primary_metric": metric,
                "direction": direction, "budget_s": round(budget, 2), "remaining_s": round(remaining, 2),
                "reserve_s": round(reserve, 2), "train_s": round(train_s, 2), "rework_s": round(rework_s, 2),
                "train_until_elapsed_s": round(ctx.elapsed_s() + train_s, 2),
                "shares": {f: round(s, 3) for f, s in shares.items()},
                "seconds": {f: round(s * train_s, 2) for f, s in shares.items()}}
        if is_reproducible(ctx.order):
            plan.update(self.fixed_plan(ctx, dataset, families, plan["seconds"]))
        ctx.param(**{k: plan[k] for k in ("families", "primary_metric", "train_s", "reserve_s")})
        split = ", ".join(f"{f} {plan['seconds'][f]:.0f}s" for f in families)
        if plan.get("trials"):
            split += " — fixed plan: " + ", ".join(f"{f} {plan['trials'][f]} trials" for f in families)
        reasons = [f"optimise {metric} ({direction} is better): "
                   + ("the order's first acceptance metric" if ctx.order.acceptance.metrics
                      else f"the default for {dataset['task']}"),
                   f"time split of {train_s:.0f}s training ({remaining:.0f}s left of {budget:.0f}s, "
                   f"{reserve:.0f}s kept for evaluation, packaging and delivery, {measuring:.0f}s for "
                   f"latency measurement): {split}"]
        if rework_s:
            reasons.append(f"{rework_s:.0f}s ({ctx.order.rework.reserve:.0%} of the training time) kept for up to "
                           f"{ctx.order.rework.rounds} rework rounds should the winner fail its gate; unused when "
                           "it passes")
        if train_s < 1.0:
            reasons.append("the budget is nearly spent: each family gets one quick trial")
        if plan.get("trials"):
            reasons.append(f"reproducible build: each family runs its fixed number of trials (its seconds over a "
                           f"conservative cost per trial on {plan['train_rows']:,} rows), never stopped by the clock; "
                           f"seed {ctx.order.seed}, {THREADS} thread per library; a family past {HARD_CAP:g}× its "
                           "seconds (at least 10 s past them) fails the job rather than change the result")
        for module, why in unavailable(dataset["task"]).items():
            reasons.append(f"families of {module} are not available here ({why})")
        for text in reasons:
            ctx.reason(text)
        plan["reasons"] = reasons
        ctx.save("plan", plan)
        return f"{len(families)} families on {metric}: {split}"

    @staticmethod
    def fixed_plan(ctx: StationContext, dataset: dict[str, Any], families: list[str],
                    seconds: dict[str, float]) -> dict[str, Any]:
        """A reproducible build's plan: per family the fixed number of trials its seconds afford at a conservative
        cost per trial (less the fits after the search: bagging folds, a refit), decided before any training."""
        rows = len(ctx.load("train"))
        columns = len(dataset.get("features") or [])
        trials, costs = {}, {}
        for family in families:
            trainer = get_trainer(dataset["task"], family)
            extra = (1 if trainer.oob_bagging else trainer.bag_folds) + (1 if trainer.refit_on_valid else 0)
            trials[family] = planned_trials(family, seconds[family], rows, columns, trainer.max_trials, extra)
            costs[family] = round(trial_cost_s(family, rows, columns), 3)
        return {"reproducible": True, "trials": trials, "trial_cost_s": costs, "train_rows": rows,
                "seed": ctx.order.seed, "threads": THREADS}

    # -- train -----------------------------------------------------------------------------------
    def train(self, ctx: StationContext) -> str:
        plan, dataset = ctx.load("plan"), ctx.load("dataset")
        train, valid = ctx.load("train"), ctx.load("valid")
        folder = ctx.path("models")
        folder.mkdir(parents=True, exist_ok=True)
        metric = (plan["primary_metric"], plan["direction"])
        started = time.monotonic()
        total = max(plan["train_s"], 1e-6)
        families = plan["families"]
        records: list[dict[str, Any]] = []
        board = _Board(ctx, metric, total, families)
        fixed = plan.get("trials") if is_reproducible(ctx.order) else None
        if fixed:
            seed_everything(ctx.order.seed)
        for index, family in enumerate(families):
            info_path = folder / f"{family}.json"
            if info_path.exists() and (folder / f"{family}.joblib").exists():
                records.append(json.loads(info_path.read_text(encoding="utf-8")))
                ctx.reason(f"{family}: already trained in an earlier run, kept")
                board.finished(family, records[-1])
                continue
            left = plan["train_until_elapsed_s"] - ctx.elapsed_s()
            weight = plan["shares"][family] / sum(plan["shares"][f] for f in families[index:])
            budget_s = max(0.0, left * weight)
            if fixed:  # the plan's seconds (the hard cap's base), whatever the families before it took
                budget_s = plan["seconds"][family]
                seed_everything(ctx.order.seed)  # each family starts from the same global state
            board.family(family, state="training")
            record = self.train_family(ctx, family, train, valid, dataset, budget_s, metric, started, total,
                                     trials=fixed.get(family) if fixed else None)
            board.finished(family, record)
            if record is not None:
                info_path.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
                records.append(record)
        records += ready_made_candidates(ctx, dataset, valid)  # `base_model: market:NAME@V` competes as it is
        if not records:
            raise MofangError("no candidate family could be trained; see the reasons of this process")
        ctx.save("candidates", records)
        ctx.metric(**{f"{r['name']}_{metric[0]}": r["valid_metrics"].get(metric[0]) for r in records})
        return "; ".join(f"{r['name']} {metric[0]} {fmt(r['valid_metrics'].get(metric[0]))}"
                         f" ({r['trials']} trials, {r['fit_seconds']:.1f}s)" for r in records)

    def train_family(self, ctx: StationContext, family: str, train: pd.DataFrame, valid: pd.DataFrame,
                   dataset: dict[str, Any], budget_s: float, metric: tuple[str, str], started: float,
                   total: float, trials: int | None = None, *, name: str | None = None,
                   decision: str | None = None, balanced: bool = False,
                   seed: int | None = None) -> dict[str, Any] | None:
        """One family searched within `budget_s` and saved as a candidate record. A rework round names the
        candidate (`name`, e.g. "lightgbm-r1"), tunes its threshold for the metric that failed (`decision`),
        may weigh the classes evenly in every trial (`balanced`) and searches from another `seed`."""
        name = name or family
        decision = decision or decision_metric(ctx.order)

        def on_trial(n: int, _elapsed: float, best: float | None) -> None:
            _Board.trial(ctx, name, n, best)
            ctx.advance(time.monotonic() - started, total,
                        note=f"{name} trial {n} · best {metric[0]} {fmt(best)}")

        trainer = get_trainer(dataset["task"], family)
        trainer.planned_trials = trials
        trainer.force_balanced = balanced
        try:
            candidate, info = trainer.fit(
                train, valid, dataset, budget_s, seed=ctx.order.seed if seed is None else seed, on_trial=on_trial,
                metric=metric, decision_metric=decision, order=ctx.order)
        except PlanOverrun:
            raise  # a reproducible build does not drop a family: a different result is not silently delivered
        except (MofangError, ValueError) as exc:
            ctx.reason(f"{name}: not trained — {exc}")
            return None
        candidate.name = name
        path = candidate.save(ctx.path("models") / f"{name}.joblib")
        blendable = {k: info.pop(k) for k in ("valid_proba", "valid_truth") if k in info}
        oof = {k: info.pop(k) for k in ("oof_pred", "oof_truth") if k in info}
        rows = valid.drop(columns=[dataset["target"]]).head(self.latency_calls)
        latency = candidate.measure_latency(rows, n=self.latency_calls, max_seconds=LATENCY_S)
        note = (f"{name}: {info['trials']} trials in {info['fit_seconds']:.1f}s of {budget_s:.1f}s "
                f"budget, best valid {metric[0]} {fmt(info['valid_metrics'].get(metric[0]))}"
                + (f" ({info['stopped']})" if info.get("stopped") else "")
                + (f"; {info['cross_validated']}" if info.get("cross_validated") else "")
                + (f"; {info['sampled']}" if info.get("sampled") else "")
                + (f"; {info['refit']}" if info.get("refit") else "")
                + (f"; {info['bagged']}" if info.get("bagged") else ""))
        if candidate.threshold_ is not None and candidate.is_multi_label:
            note += (f"; a label is answered when its probability reaches {candidate.threshold_:.3g} "
                     f"(tuned for {decision or metric[0]} on valid)")
        elif candidate.threshold_ is not None:
            note += "; " + threshold_note(candidate.threshold_, candidate.classes_, candidate.params, decision)
        ctx.reason(note)
        record = {"name": candidate.name, "family": family, "params": candidate.params,
                  "valid_metrics": info["valid_metrics"], "fit_seconds": info["fit_seconds"],
                  "budget_s": round(budget_s, 2), "trials": info["trials"], "model_path": str(path),
                  "size_mb": round(Candidate.size_mb(path), 4), "p50_ms": round(latency["p50_ms"], 3),
                  "p95_ms": round(latency["p95_ms"], 3), "note": note,
                  "single_fit_s": info.get("single_fit_s")}
        if info.get("selection_metrics"):
            record["selection_metrics"] = info["selection_metrics"]
        if len(blendable) == 2 and task_spec(dataset["task"]).blend:
            blend_path = ctx.path("models") / f"{name}.valid.joblib"
            joblib.dump({"proba": blendable["valid_proba"], "truth": blendable["valid_truth"]}, blend_path)
            record["valid_proba_path"] = str(blend_path)
        if len(oof) == 2:  # out-of-fold predictions over train + valid: what the ensemble is chosen on
            oof_path = ctx.path("models") / f"{name}.oof.joblib"
            joblib.dump({"pred": oof["oof_pred"], "truth": oof["oof_truth"]}, oof_path)
            record["oof_path"] = str(oof_path)
        return record

    # -- select ----------------------------------------------------------------------------------
    def select(self, ctx: StationContext) -> str:
        plan, candidates = ctx.load("plan"), ctx.load("candidates")
        candidates = [r for r in candidates if r["family"] != "ensemble"]  # one from an interrupted select
        metric, direction = plan["primary_metric"], plan["direction"]
        acceptance = ctx.order.acceptance
        timed = not is_reproducible(ctx.order)  # a reproducible build picks nothing by a clock reading
        if not timed and acceptance.p95_latency_ms is not None:
            ctx.reason("reproducible build: no candidate is left out for its latency measured on validation (a clock "
                       "reading differs from run to run); the gate checks p95 on test")
        limits = within_limits(candidates, acceptance, latency=timed)
        pool = limits.pool
        best = pool[0]
        for record in pool[1:]:
            if is_better(selection_score(record, metric), selection_score(best, metric), direction):
                best = record
        bagged = [r for r in pool if r.get("oof_path")] if not edge_target(ctx.order) else []
        blended = (self._caruana(ctx, bagged, best, metric, direction) if len(bagged) >= 2
                   else self._blend(ctx, pool, best, metric, direction))
        if blended is not None:
            candidates.append(blended)
            ctx.save("candidates", candidates)
            why = limits_broken(blended, acceptance, latency=timed)
            if why:
                ctx.reason(f"{blended['name']} not picked: {why}")
            else:
                best = blended
        score = best["valid_metrics"].get(metric)
        how = (f"cross-validated {metric} {fmt(selection_score(best, metric))} (valid {fmt(score)})"
               if best.get("selection_metrics") else f"{metric} {fmt(score)} on valid")
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
            ctx.reason(f"{name}: valid log loss {fmt(metrics.get('log_loss'))} is lower, but {metric} "
                       f"{fmt(value)} trails {best['name']}'s {fmt(single)} by more than {TOLERANCE}: not used")
            return None
        path = ensemble.save(ctx.path("models") / "ensemble.joblib")
        rows = ctx.load("valid").drop(columns=[dataset["target"]]).head(self.latency_calls)
        latency = ensemble.measure_latency(rows, n=self.latency_calls, max_seconds=LATENCY_S)
        losses = ", ".join(f"{n} {fmt(by_name[n]['valid_metrics'].get('log_loss'))}" for n in blend.members)
        note = (f"{name}: the mean of {len(members)} candidates' probabilities lowers the validation log loss to "
                f"{fmt(metrics.get('log_loss'))} (members: {losses}); valid {metric} {fmt(value)}")
        ctx.reason(note)
        return {"name": name, "family": "ensemble", "params": ensemble.params, "valid_metrics": metrics,
                "fit_seconds": round(sum(by_name[n]["fit_seconds"] for n in blend.members), 3), "budget_s": 0.0,
                "single_fit_s": sum(by_name[n].get("single_fit_s") or 0.0 for n in blend.members),
                "trials": 0, "model_path": str(path), "size_mb": round(Candidate.size_mb(path), 4),
                "p50_ms": round(latency["p50_ms"], 3), "p95_ms": round(latency["p95_ms"], 3), "note": note}


    def _caruana(self, ctx: StationContext, pool: list[dict[str, Any]], best: dict[str, Any], metric: str,
                 direction: str) -> dict[str, Any] | None:
        """A weighted ensemble of the bagged candidates chosen by Caruana's greedy selection on their
        out-of-fold predictions (over the same train + valid rows); its record when it scores better out of
        fold than the best single candidate, else None (the reason recorded)."""
        dataset = ctx.load("dataset")
        task, classes = dataset["task"], dataset.get("classes")
        predictions, truth = {}, None
        for record in pool:
            saved = joblib.load(record["oof_path"])
            if truth is None:
                truth = saved["truth"]
            if len(saved["truth"]) == len(truth) and np.array_equal(saved["truth"], truth):
                predictions[record["name"]] = saved["pred"]
        if len(predictions) < 2 or truth is None:
            return None
        scorer = oof_scorer(task, metric, direction, truth, classes)
        found = caruana(predictions, scorer.score, scorer.direction)
        if found is None:
            ctx.reason(f"ensemble: no weighted mix of {len(predictions)} bagged candidates beats the best one "
                       f"out of fold on {scorer.name}")
            return None
        by_name = {r["name"]: r for r in pool}
        members = [Candidate.load(by_name[name]["model_path"]) for name in found.weights]
        ensemble = EnsembleCandidate(members, name="ensemble", weights=list(found.weights.values()))
        name = "ensemble(" + "+".join(f"{n} {w:.2f}" for n, w in found.weights.items()) + ")"
        threshold_metric = decision_metric(ctx.order) or next(
            (m.params["threshold_metric"] for m in members if m.params.get("threshold_metric")), None)
        if classes:
            if threshold_metric and len(classes) == 2:
                ensemble.threshold_ = tune_threshold(found.prediction[:, 1], truth, classes, threshold_metric)
                ensemble.params.update(decision_threshold=ensemble.threshold_, threshold_metric=threshold_metric,
                                       threshold_rows=f"out-of-fold ({len(truth):,} rows of train + valid)")
                at_half = np.asarray(classes, dtype=object)[(found.prediction[:, 1] >= 0.5).astype(int)]
                ensemble.params["threshold_effect"] = {
                    "metric": threshold_metric,
                    "at_threshold": compute_metrics(task, truth, ensemble.labels(found.prediction), found.prediction,
                                                    classes).get(threshold_metric),
                    "at_0.5": compute_metrics(task, truth, at_half, found.prediction, classes).get(threshold_metric)}
                balance = next((m.params["class_balance"] for m in members if m.params.get("class_balance")), None)
                if balance:
                    ensemble.params["class_balance"] = balance
            metrics = compute_metrics(task, truth, ensemble.labels(found.prediction), found.prediction, classes)
        else:
            metrics = compute_metrics(task, truth, found.prediction)
        value, single = metrics.get(metric), selection_score(best, metric)
        if value is None or (single is not None and not is_better(value, single, direction)):
            ctx.reason(f"{name}: out-of-fold {metric} {fmt(value)} does not beat {best['name']}'s {fmt(single)}: "
                       "not used")
            return None
        path = ensemble.save(ctx.path("models") / "ensemble.joblib")
        rows = ctx.load("valid").drop(columns=[dataset["target"]]).head(self.latency_calls)
        latency = ensemble.measure_latency(rows, n=self.latency_calls, max_seconds=LATENCY_S)
        note = (f"{name}: Caruana's greedy selection with replacement on out-of-fold {scorer.name} over "
                f"{len(truth):,} rows of train + valid, {len(found.weights)} of {len(predictions)} bagged "
                f"candidates; out-of-fold {metric} {fmt(value)} (best single {best['name']} {fmt(single)})")
        if ensemble.threshold_ is not None:
            note += "; " + threshold_note(ensemble.threshold_, classes, ensemble.params, decision_metric(ctx.order))
        ctx.reason(note)
        return {"name": name, "family": "ensemble", "params": ensemble.params, "valid_metrics": metrics,
                "selection_metrics": metrics,
                "fit_seconds": round(sum(by_name[n]["fit_seconds"] for n in found.weights), 3), "budget_s": 0.0,
                "single_fit_s": sum(by_name[n].get("single_fit_s") or 0.0 for n in found.weights),
                "trials": 0, "model_path": str(path), "size_mb": round(Candidate.size_mb(path), 4),
                "p50_ms": round(latency["p50_ms"], 3), "p95_ms": round(latency["p95_ms"], 3), "note": note}


def threshold_note(threshold: float, classes: list[str] | None, params: dict[str, Any],
                   order_metric: str | None) -> str:
    """How a binary decision threshold was chosen: the metric, the rows, the class balance."""
    metric = params.get("threshold_metric") or order_metric
    why = "" if order_metric else " (the order names no threshold metric; the target is imbalanced)"
    text = (f"decision threshold {threshold:.3g} on P({(classes or ['', ''])[1]}) tuned for {metric}{why} on "
            f"{params.get('threshold_rows', 'valid')}")
    effect = params.get("threshold_effect")
    if effect and effect.get("at_threshold") is not None and effect.get("at_0.5") is not None:
        text += (f" ({effect['metric']} {effect['at_threshold']:.4f} there vs {effect['at_0.5']:.4f} at 0.5, out of "
                 "fold)")
    balance = params.get("class_balance")
    if balance:
        text += "; class balance " + ", ".join(f"{c} {share:.1%}" for c, share in balance.items())
    return text


def ready_made_candidates(ctx: StationContext, dataset: dict[str, Any], valid: Any) -> list[dict[str, Any]]:
    """Candidates from every registered source (`mofang.candidate_sources`), scored on the order's validation
    rows like the trained families; a source that has nothing for this order returns nothing."""
    records: list[dict[str, Any]] = []
    for source in sorted(entry_points(group=CANDIDATE_SOURCES), key=lambda found: found.name):
        records += source.load()(ctx, dataset, valid)
    return records


def _after_gate_reserve(order: Any, dataset: dict[str, Any], budget: float) -> float:
    """Seconds kept for the evaluation center's work after the gate: the refit on all rows when the order asks
    for it and its task refits (`TaskSpec.refit`), and what the task's `evaluation.reserve` hook asks for (the
    text task's learning curve when labels are few)."""
    task = task_spec(dataset["task"])
    extra = 0.0
    if order.deployment.refit_on_all_rows and task.refit:
        extra += max(3.0, 0.05 * budget)
    reserve = task.hook(EVALUATION_RESERVE)
    if reserve is not None:
        extra += float(reserve(order, dataset, budget))
    return extra


def _ordered(families: dict[str, Any]) -> list[str]:
    known = [f for f in FAMILY_ORDER if f in families]
    return known + sorted(f for f in families if f not in known)


def selection_score(record: dict[str, Any], metric: str) -> float | None:
    """What the pick ranks a candidate by: its cross-validated score when its family cross-validated its
    trials (few labelled rows), else its valid score."""
    return (record.get("selection_metrics") or record["valid_metrics"]).get(metric)


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def reworks(order: Any) -> bool:
    """Whether a failed gate of this order goes back to the workshop: rework rounds asked and a gate to fail."""
    return order.rework.rounds > 0 and order.acceptance.criteria > 0


def decision_metric(order: Any) -> str | None:
    """The order's first threshold-dependent acceptance metric (f1_macro, accuracy, ...), for which a
    binary model's decision threshold is tuned on valid; None keeps the most probable class."""
    return next((m for m in order.acceptance.metrics if m in THRESHOLD_METRICS), None)


class _Board:
    """The live leaderboard of one training: per family its state, trials and best validation score so far
    (`ctx.live`, streamed by the portal while the process runs)."""

    def __init__(self, ctx: StationContext, metric: tuple[str, str], budget_s: float, families: list[str]) -> None:
        self.ctx = ctx
        ctx.live(metric=metric[0], direction=metric[1], budget_s=round(budget_s, 2),
                 families={f: {"state": "waiting", "trials": 0, "best": None} for f in families})

    def family(self, family: str, **fields: Any) -> None:
        families = dict(self.ctx.record.live.get("families") or {})
        families[family] = {**families.get(family, {}), **fields}
        self.ctx.live(families=families)

    def finished(self, family: str, record: dict[str, Any] | None) -> None:
        if record is None:
            self.family(family, state="failed")
            return
        metric = self.ctx.record.live.get("metric", "")
        self.family(family, state="done", trials=record.get("trials", 0),
                    best=_finite(record.get("valid_metrics", {}).get(metric)))

    @staticmethod
    def trial(ctx: StationContext, family: str, trials: int, best: float | None) -> None:
        families = dict(ctx.record.live.get("families") or {})
        families[family] = {**families.get(family, {}), "state": "training", "trials": trials, "best": _finite(best)}
        ctx.live(families=families)


def _finite(value: Any) -> float | None:
    """A score as JSON may hold it: None for a missing or non-finite one."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None

