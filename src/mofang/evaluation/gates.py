"""The acceptance gate: the order's criteria checked on the winner's test metrics, size and latency."""

from __future__ import annotations

from typing import Any

from mofang.orders.schema import Criterion, Order


def check_gate(order: Order, metrics: dict[str, float | None], size_mb: float | None,
               p95_ms: float | None, robustness: dict[str, Any] | None = None,
               unmeasured: dict[str, str] | None = None) -> dict[str, Any]:
    """{"passed", "checks": [{"name", "criterion", "observed", "passed", "message"}]}; a check whose
    value could not be measured fails (with the reason in `unmeasured` when the task gives one: e.g. a
    hallucination rate is undefined when nothing was answered, and a product that answers nothing must not
    pass a bar on it). `robustness` is the task's robustness measure (its worst drop is checked against
    `max_robustness_drop`)."""
    acceptance = order.acceptance
    checks = [_check(name, criterion, metrics.get(name), "", (unmeasured or {}).get(name))
              for name, criterion in acceptance.metrics.items()]
    if acceptance.p95_latency_ms is not None:
        checks.append(_check("p95_latency_ms", Criterion(op="<=", value=acceptance.p95_latency_ms),
                             p95_ms, " ms"))
    if acceptance.max_model_mb is not None:
        checks.append(_check("max_model_mb", Criterion(op="<=", value=acceptance.max_model_mb),
                             size_mb, " MB"))
    if acceptance.max_robustness_drop is not None:
        worst = (robustness or {}).get("worst")
        check = _check("max_robustness_drop", Criterion(op="<=", value=acceptance.max_robustness_drop),
                       worst["drop"] if worst else None, "")
        if worst:
            check["message"] += (f" (worst perturbation: {worst['perturbation']}, {robustness['metric']} "
                                 f"{robustness['clean_score']:.4g} → {worst['score']:.4g})")
        checks.append(check)
    return {"passed": all(c["passed"] for c in checks), "checks": checks}


def _check(name: str, criterion: Criterion, observed: float | None, unit: str,
           why: str | None = None) -> dict[str, Any]:
    measurable = observed is not None and observed == observed  # NaN is not measurable
    passed = bool(measurable and criterion.holds(float(observed)))
    if not measurable:
        message = (f"{why} (required {criterion}{unit})" if why else
                   f"{name} could not be measured on the test split (required {criterion}{unit})")
    elif passed:
        message = f"{name} {observed:.4g}{unit} meets {criterion}{unit}"
    else:
        message = f"{name} {observed:.4g}{unit} does not meet {criterion}{unit}"
    return {"name": name, "criterion": f"{criterion}{unit}", "observed": observed if measurable else None,
            "passed": passed, "message": message}


def record_gate(ctx: Any, result: dict[str, Any]) -> str:
    """Record a gate result in the job (a reason per check, the metrics, the `gate` artifact); its summary."""
    for check in result["checks"]:
        ctx.reason(("gate passed: " if check["passed"] else "gate FAILED: ") + check["message"])
    ctx.metric(gate_passed=result["passed"], size_mb=result["size_mb"], p95_ms=result["p95_ms"])
    ctx.save("gate", result)
    failed = [c["name"] for c in result["checks"] if not c["passed"]]
    return "gate passed" if result["passed"] else f"gate failed: {', '.join(failed)}"
