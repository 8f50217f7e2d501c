"""Rework rounds: a winner that fails its gate goes back to the model workshop with a plan made from what failed.

Each round is its own recorded process of the evaluation center (`rework_1` … `rework_3`, as many as the order's
`rework.rounds`). A round plans its actions from the checks that failed:

- a metric miss: a decision threshold that meets the missed criteria on out-of-fold or validation answers
  (binary classification, threshold-dependent metrics), class weights, more search of the best families from
  another seed, the families no earlier round trained;
- a size or latency miss: the candidates already trained that meet the limits as measured, and the linear family
  (the smallest and fastest);
- a robustness miss: the training rows cleaned (exact duplicates, likely mislabelled rows) and the winner's family
  trained again on them.

The round's winner is chosen on validation (which criteria its validation figures meet, aimed above the bar by the
gap the previous winner showed between validation and test, then the primary metric), never on test; only that
winner is gated on test. A passing winner replaces the job's winner, and the report lists every round."""

from __future__ import annotations

import time
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from mofang.core.metrics.predictive import compute_metrics, is_better
from mofang.core.tasks import spec as task_spec
from mofang.data.quality.confident import find_label_issues
from mofang.evaluation.gates import record_gate
from mofang.evaluation.measure import gate_result, robustness_for
from mofang.evaluation.scoring import score_candidate
from mofang.models.candidate import Candidate
from mofang.models.ensemble import EnsembleCandidate
from mofang.models.features import FeaturePipeline
from mofang.models.limits import limits_broken
from mofang.models.registry import trainers_for
from mofang.models.reproducible import is_reproducible
from mofang.models.station import ModelWorkshop, fmt, reworks, selection_score
from mofang.models.trainers.base import THRESHOLD_METRICS
from mofang.orders.schema import Criterion
from mofang.station.context import StationContext

ROUNDS = ("rework_1", "rework_2", "rework_3")  # the processes; the order's rework.rounds says how many run
MIN_TRAIN_S = 1.5  # a round with less time left trains nothing (its cheap actions still run)
MAX_CLEANED_SHARE = 0.05  # a robustness round drops at most this share of the training rows as mislabelled
SEED_STEP = 1000  # round n searches from seed + n × SEED_STEP
LIMITS = ("p95_latency_ms", "max_model_mb")


def rework_round(ctx: StationContext, number: int) -> str:
    """Rework round `number` (1-based) of a job whose gate failed; its summary."""
    order = ctx.order
    if number > order.rework.rounds:
        return f"not asked (rework.rounds: {order.rework.rounds})"
    if not reworks(order):
        return "not asked: the order has no gate to fail"
    spec = task_spec(order.task)
    own = [p for p in ("model.train", "evaluation.gate") if p in spec.overrides]
    if own:
        return (f"not available: {order.task} has its own {' and '.join(own)}; its verdict stands as gated "
                "(no rework plan for it yet)")
    gate = ctx.load("gate")
    rounds: list[dict[str, Any]] = ctx.load("rework") if ctx.has("rework") else []
    if gate["passed"]:
        return "not needed: the gate passed" + (f" in round {rounds[-1]['round']}" if rounds else "")
    started = time.monotonic()
    dataset, leaderboard, winner = ctx.load("dataset"), ctx.load("leaderboard"), ctx.load("winner")
    candidates = ctx.load("candidates")
    failed = [c for c in gate["checks"] if not c["passed"]]
    if rounds and rounds[-1].get("checks"):  # what the last round's winner still failed is what to work on
        failed = [c for c in rounds[-1]["checks"] if not c["passed"]]
    aims = _aims(order, leaderboard, winner, ctx.load("test"), dataset)
    actions = plan_actions(order, dataset, failed, candidates, winner, number)
    ctx.reason(f"rework round {number}: the gate failed ({'; '.join(c['message'] for c in failed)}); plan: "
               + "; ".join(f"{a['kind']} — {a['why']}" for a in actions))
    seconds = _round_seconds(ctx, number)
    records = _carry_out(ctx, actions, dataset, candidates, winner, number, seconds, aims)
    if not records:
        note = "no action produced a candidate (see the reasons)"
        entry: dict[str, Any] = {"round": number, "failed": [c["message"] for c in failed], "actions": actions,
                                 "winner": None, "passed": False, "seconds": round(time.monotonic() - started, 2),
                                 "note": note}
        ctx.save("rework", [*rounds, entry])
        ctx.reason(f"rework round {number}: no candidate; the verdict stands")
        return "no candidate: " + note
    chosen = pick_on_valid(records, order, winner["primary_metric"], winner["direction"], aims)
    fresh = [r for r in records if r["name"] not in {c["name"] for c in candidates}]
    ctx.save("candidates", [*candidates, *fresh])
    test = ctx.load("test")
    scored = [{**r, "test_metrics": score_candidate(Candidate.load(r["model_path"]), test, dataset["target"]),
               "round": number} for r in fresh]
    board = [*leaderboard, *scored]
    ctx.save("leaderboard", board)
    new_winner = {"name": chosen["name"], "family": chosen["family"], "model_path": chosen["model_path"],
                  "primary_metric": winner["primary_metric"], "direction": winner["direction"],
                  "valid_score": chosen["valid_metrics"].get(winner["primary_metric"]),
                  "reason": f"rework round {number}: picked {chosen['name']} on validation "
                            f"({_valid_note(chosen, aims)})"}
    result, robustness = gate_result(ctx, new_winner, board)
    entry = {"round": number, "failed": [c["message"] for c in failed], "actions": actions,
             "candidates": [{"name": r["name"], "valid": r["valid_metrics"].get(winner["primary_metric"])}
                            for r in records],
             "winner": chosen["name"], "passed": result["passed"],
             "checks": [{"name": c["name"], "passed": c["passed"], "message": c["message"]} for c in result["checks"]],
             "seconds": round(time.monotonic() - started, 2)}
    ctx.save("rework", [*rounds, entry])
    ctx.metric(**{f"rework_{number}_passed": result["passed"]})
    if not result["passed"]:
        still = [c["name"] for c in result["checks"] if not c["passed"]]
        ctx.reason(f"rework round {number}: {chosen['name']} still fails {', '.join(still)}")
        return f"round {number}: {chosen['name']} fails {', '.join(still)}"
    robustness = robustness if robustness is not None else robustness_for(ctx, new_winner)
    if robustness is not None:  # the report shows the delivered model's measure
        ctx.save("robustness", robustness)
    ctx.save("winner", new_winner)
    record_gate(ctx, result)
    ctx.reason(new_winner["reason"] + "; it passes the gate")
    return f"round {number}: {chosen['name']} passes the gate"


def plan_actions(order: Any, dataset: dict[str, Any], failed: list[dict[str, Any]], candidates: list[dict[str, Any]],
                 winner: dict[str, Any], number: int) -> list[dict[str, Any]]:
    """What a round does about the failed checks, each action with its reason."""
    metric = winner["primary_metric"]
    names = {c["name"] for c in failed}
    missed = [n for n in names if n in order.acceptance.metrics]
    classes = dataset.get("classes") or []
    single_label = bool(classes) and not dataset.get("multi_label")
    families = trainers_for(dataset["task"])
    trained = [r for r in candidates if r["family"] in families and r["family"] != "dummy"]
    ranked = sorted(trained, key=lambda r: _rank(selection_score(r, metric), winner["direction"]))
    best_families = list(dict.fromkeys(r["family"] for r in ranked))
    actions: list[dict[str, Any]] = []
    if missed:
        threshold_missed = [m for m in missed if m in THRESHOLD_METRICS]
        if threshold_missed and single_label and len(classes) == 2:  # every threshold metric kept at its bar
            kept = [m for m in order.acceptance.metrics if m in THRESHOLD_METRICS]
            whose = f"{winner['name']} and of" if number == 1 else "of"
            actions.append({"kind": "threshold", "metrics": kept, "families": [],
                            "why": f"move the decision threshold {whose} each model this round trains until "
                                   f"{', '.join(kept)} reach their aims on held-out answers"})
        balanced = [f for f in best_families if families[f].searches_balance][:1]
        if single_label and balanced:
            actions.append({"kind": "class_weights", "families": balanced,
                            "why": f"{balanced[0]} with the classes weighed evenly in every trial "
                                   f"({', '.join(missed)} missed)"})
        more = best_families[:2] if number == 1 else best_families[:1]
        if more:
            actions.append({"kind": "more_search", "families": more,
                            "why": f"search {', '.join(more)} again from seed {order.seed + number * SEED_STEP}"})
        untried = [f for f in families if f not in {r["family"] for r in candidates} and f != "dummy"]
        if untried:
            actions.append({"kind": "other_families", "families": untried[:2],
                            "why": f"families no earlier round trained: {', '.join(untried[:2])}"})
    if names & set(LIMITS):
        small = ["linear"] if "linear" in families else []
        actions.append({"kind": "smaller_model", "families": small,
                        "why": "the trained candidates that meet the size and latency limits as measured"
                               + (", and the linear family (the smallest and fastest)" if small else "")})
    if "max_robustness_drop" in names and best_families:
        actions.append({"kind": "data_fixes", "families": best_families[:1],
                        "why": f"{best_families[0]} trained again on rows without exact duplicates and without "
                               f"likely mislabelled rows (at most {MAX_CLEANED_SHARE:.0%})"})
    return actions


def pick_on_valid(records: list[dict[str, Any]], order: Any, metric: str, direction: str,
                  aims: dict[str, Criterion]) -> dict[str, Any]:
    """The round's winner on validation: the most criteria met (metrics at their aims, size and latency as
    measured), then the best primary metric."""
    def met(record: dict[str, Any]) -> int:
        count = 0
        for name, aim in aims.items():
            value = (record.get("selection_metrics") or {}).get(name, record["valid_metrics"].get(name))
            count += value is not None and aim.holds(float(value))
        return count + (not limits_broken(record, order.acceptance))

    best = records[0]
    for record in records[1:]:
        if met(record) > met(best) or (met(record) == met(best) and is_better(
                selection_score(record, metric), selection_score(best, metric), direction)):
            best = record
    return best


# -- internals ------------------------------------------------------------------------------------
def _aims(order: Any, leaderboard: list[dict[str, Any]], winner: dict[str, Any], test: pd.DataFrame,
          dataset: dict[str, Any]) -> dict[str, Criterion]:
    """Each metric criterion as a bar for validation figures: raised (lowered, for a lower-is-better metric) by
    the larger of the gap between the failed winner's validation and test figures (a new pick shows it too) and
    half a standard error of a share measured on the test split's rarest class (what test noise alone moves)."""
    row = next((r for r in leaderboard if r["name"] == winner["name"]), {})
    rarest = len(test)
    if dataset.get("classes") and not dataset.get("multi_label"):
        counts = test[dataset["target"]].astype(str).value_counts()
        rarest = int(counts.min()) if len(counts) else len(test)
    aims = {}
    for name, criterion in order.acceptance.metrics.items():
        valid = (row.get("selection_metrics") or {}).get(name, (row.get("valid_metrics") or {}).get(name))
        observed = (row.get("test_metrics") or {}).get(name)
        gap = abs(float(valid) - float(observed)) if valid is not None and observed is not None else 0.0
        bar = float(criterion.value)
        noise = 0.5 * float(np.sqrt(bar * (1 - bar) / max(1, rarest))) if 0 < bar < 1 else 0.0
        higher = criterion.op in (">=", ">")
        margin = max(gap, noise)
        aims[name] = Criterion(op=criterion.op, value=round(bar + (margin if higher else -margin), 4))
    return aims


def _round_seconds(ctx: StationContext, number: int) -> float:
    """This round's share of the time kept for rework: what is left of the budget past the evaluation's own
    reserve, spread over the rounds still to come."""
    plan = ctx.load("plan")
    if is_reproducible(ctx.order):  # sized from the plan, never from the clock: a rerun does the same rounds
        return float(plan.get("rework_s") or 0.0) / max(1, ctx.order.rework.rounds)
    left = ctx.remaining_s() - 0.5 * float(plan.get("reserve_s") or 0.0)
    return max(0.0, left / (ctx.order.rework.rounds - number + 1))


def _carry_out(ctx: StationContext, actions: list[dict[str, Any]], dataset: dict[str, Any],
               candidates: list[dict[str, Any]], winner: dict[str, Any], number: int, seconds: float,
               aims: dict[str, Criterion]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    training = [(a, f) for a in actions for f in a["families"]]
    share = seconds / max(1, len(training))
    train, valid = ctx.load("train"), ctx.load("valid")
    workshop = ModelWorkshop()
    metric = (winner["primary_metric"], winner["direction"])
    missed = [a for a in actions if a["kind"] == "threshold"]
    decision = missed[0]["metrics"][0] if missed else None
    trials = _planned_trials(ctx, dataset, training, share)
    moved = next((a["metrics"] for a in actions if a["kind"] == "threshold"), None)
    for action in actions:
        if action["kind"] == "threshold":
            if number == 1:
                record = _threshold(ctx, winner["name"], candidates, valid, dataset["target"], moved or [], aims,
                                    number)
                if record is not None:
                    records.append(record)
            continue
        if action["kind"] == "smaller_model":
            records += [r for r in candidates if not limits_broken(r, ctx.order.acceptance)]
        rows = train
        if action["kind"] == "data_fixes":
            rows, note = cleaned_rows(train, dataset, ctx.order.seed)
            action["note"] = note
            ctx.reason(f"rework round {number}: {note}")
        for family in action["families"]:
            if share < MIN_TRAIN_S and not trials:
                ctx.reason(f"rework round {number}: {family} not trained ({share:.1f}s of the budget left for it)")
                continue
            suffix = {"class_weights": "-balanced", "data_fixes": "-cleaned", "smaller_model": "-small",
                      "more_search": "-search"}.get(action["kind"], "")
            record = workshop.train_family(
                ctx, family, rows, valid, dataset, share, metric, time.monotonic(), max(seconds, 1e-6),
                trials=trials.get(family) if trials else None, name=f"{family}-r{number}{suffix}",
                decision=decision, balanced=action["kind"] == "class_weights",
                seed=ctx.order.seed + number * SEED_STEP)
            if record is not None:
                records.append(record)
                if moved:
                    known = [*candidates, *records]
                    record = _threshold(ctx, record["name"], known, valid, dataset["target"], moved, aims, number)
                    if record is not None:
                        records.append(record)
    return records


def _planned_trials(ctx: StationContext, dataset: dict[str, Any], training: list[tuple[dict[str, Any], str]],
                    share: float) -> dict[str, int]:
    """A reproducible build's fixed trials per family for this round (sized from its seconds, never the clock)."""
    if not is_reproducible(ctx.order) or not training:
        return {}
    families = list(dict.fromkeys(f for _, f in training))
    return dict(ModelWorkshop.fixed_plan(ctx, dataset, families, {f: share for f in families})["trials"])


def _threshold(ctx: StationContext, source_name: str, candidates: list[dict[str, Any]], valid: pd.DataFrame,
               target: str, metrics: list[str], aims: dict[str, Criterion], number: int) -> dict[str, Any] | None:
    """The candidate `source_name` with the decision threshold that meets the threshold metrics' aims on held-out
    answers (out of fold for bagged models and ensembles of them, else validation), the primary metric kept as
    high as it can be; None when the answers are not there."""
    by_name = {r["name"]: r for r in candidates}
    source = by_name[source_name]
    candidate = Candidate.load(source["model_path"])
    if not candidate.is_classifier or candidate.is_multi_label or len(candidate.classes_ or []) != 2:
        return None
    primary = ctx.load("plan")["primary_metric"]
    held = _held_out_answers(candidate, source, by_name, valid, target)
    if held is None:
        ctx.reason(f"rework round {number}: no held-out answers of {source_name} to move its threshold on")
        return None
    proba, truth, rows = held
    classes = list(candidate.classes_ or [])
    labels = np.asarray(classes, dtype=object)
    best, best_key = None, None
    for threshold in np.unique(np.round(np.quantile(proba[:, 1], np.linspace(0.01, 0.99, 99)), 5)):
        predicted = labels[(proba[:, 1] >= threshold).astype(int)]
        scores = compute_metrics(candidate.task, truth, predicted, proba, classes)
        slack = [(scores.get(m) or 0.0) - aims[m].value for m in metrics]
        key = (min(slack) >= 0, scores.get(primary) or 0.0 if min(slack) >= 0 else min(slack))
        if best_key is None or key > best_key:
            best, best_key = float(threshold), key
    if best is None:
        return None
    candidate.threshold_ = best
    candidate.params.update(decision_threshold=best, threshold_metric="+".join(metrics),
                            threshold_rows=rows, rework=f"round {number}: threshold moved for {', '.join(metrics)}")
    base = source_name.split("(")[0]
    trained_now = f"-r{number}-" in base or base.endswith(f"-r{number}")  # a model this round trained
    name = f"{base}-threshold" if trained_now else f"{base}-r{number}-threshold"
    taken = {r["name"] for r in candidates}
    name = next(f"{name}-{i}" if i else name for i in range(len(taken) + 1) if (f"{name}-{i}" if i else name)
                not in taken)
    candidate.name = name
    path = candidate.save(ctx.path("models") / f"{name}.joblib")
    predicted = labels[(proba[:, 1] >= best).astype(int)]
    valid_metrics = compute_metrics(candidate.task, truth, predicted, proba, classes)
    note = (f"{name}: {source_name} answering P({classes[1]}) ≥ {best:.4g} (chosen on {rows}): "
            + ", ".join(f"{m} {fmt(valid_metrics.get(m))} (aim {aims[m]})" for m in metrics))
    ctx.reason(note)
    return {"name": name, "family": candidate.family, "params": candidate.params, "valid_metrics": valid_metrics,
            "selection_metrics": valid_metrics, "fit_seconds": 0.0, "budget_s": 0.0, "trials": 0,
            "model_path": str(path), "size_mb": round(Candidate.size_mb(path), 4),
            "p50_ms": source.get("p50_ms", 0.0), "p95_ms": source.get("p95_ms", 0.0), "note": note,
            "single_fit_s": source.get("single_fit_s")}


def _held_out_answers(candidate: Candidate, record: dict[str, Any], by_name: dict[str, dict[str, Any]],
                      valid: pd.DataFrame, target: str) -> tuple[np.ndarray, np.ndarray, str] | None:
    """(probabilities, truth, where from) of answers the model did not train on."""
    if record.get("oof_path"):
        saved = joblib.load(record["oof_path"])
        truth = np.asarray(saved["truth"], dtype=object)
        return saved["pred"], truth, f"out-of-fold answers ({len(truth):,} rows)"
    if isinstance(candidate, EnsembleCandidate):
        parts = [by_name.get(m.name, {}).get("oof_path") for m in candidate.members_]
        if parts and all(parts):
            saved = [joblib.load(p) for p in parts]
            weights = candidate.weights_ or [1.0] * len(saved)
            proba = np.average([s["pred"] for s in saved], axis=0, weights=weights)
            truth = np.asarray(saved[0]["truth"], dtype=object)
            return proba, truth, f"the members' out-of-fold answers ({len(truth):,} rows)"
        if any(m.params.get("bagged") for m in candidate.members_):
            return None
    elif candidate.params.get("bagged") or candidate.params.get("refit_rows"):
        return None  # validation rows were trained on
    rows = valid[valid[target].notna()]
    if rows.empty:
        return None
    return (candidate.predict_proba(rows.drop(columns=[target])), candidate.truth(rows[target]),
            f"valid ({len(rows):,} rows)")


def cleaned_rows(train: pd.DataFrame, dataset: dict[str, Any], seed: int) -> tuple[pd.DataFrame, str]:
    """Training rows without exact duplicates and, for classification, without the rows confident learning finds
    most likely mislabelled (out-of-fold answers of a quick linear model; at most MAX_CLEANED_SHARE of the rows)."""
    target = dataset["target"]
    before = len(train)
    rows = train.drop_duplicates().reset_index(drop=True)
    duplicates = before - len(rows)
    dropped = 0
    classes = dataset.get("classes")
    labelled = rows[rows[target].notna()]
    if classes and not dataset.get("multi_label") and len(labelled) >= 50:
        y = pd.Categorical(labelled[target].astype(str), categories=classes).codes
        counts = np.bincount(y[y >= 0], minlength=len(classes))
        if (counts[counts > 0] >= 5).all() and (counts > 0).sum() >= 2:
            features = [f for f in dataset["features"] if f["kind"] in ("numeric", "categorical", "boolean")]
            X = FeaturePipeline(features, "linear").fit(labelled).transform(labelled)
            folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
            proba = cross_val_predict(LogisticRegression(max_iter=300), X, y, cv=folds, method="predict_proba")
            full = np.zeros((len(y), len(classes)))
            full[:, sorted(set(y))] = proba
            issues = find_label_issues(y, full)
            suspects = issues.positions[: int(MAX_CLEANED_SHARE * len(labelled))]
            dropped = len(suspects)
            rows = rows.drop(index=labelled.index[suspects]).reset_index(drop=True)
    note = (f"training rows cleaned: {duplicates:,} exact duplicates and {dropped:,} likely mislabelled rows "
            f"removed ({before:,} → {len(rows):,})")
    return rows, note


def _rank(score: float | None, direction: str) -> float:
    if score is None:
        return float("inf")
    return -score if direction == "higher" else score


def _valid_note(record: dict[str, Any], aims: dict[str, Criterion]) -> str:
    parts = []
    for name, aim in aims.items():
        value = (record.get("selection_metrics") or {}).get(name, record["valid_metrics"].get(name))
        parts.append(f"{name} {fmt(value)} vs aim {aim}")
    return ", ".join(parts) or "no metric criteria"
