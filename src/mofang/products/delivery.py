"""Delivery: register an accepted bundle as a new product version in the product registry."""

from __future__ import annotations

from mofang.products.registry import on_delivered
from mofang.security.audit import MODEL_DELIVERED, AuditLog
from mofang.station import Station, StationContext


class DeliveryStation(Station):
    """Stores the bundle content-addressed and registers it as the product's next version.
    A product that failed its acceptance gate is not delivered."""

    name = "delivery"
    inputs = ("bundle", "evaluation")
    outputs = ("delivery",)
    processes = ("register",)

    def skip(self, ctx: StationContext) -> str | None:
        evaluation = ctx.load("evaluation")
        if evaluation["verdict"] != "accepted":
            failed = [c["name"] for c in evaluation["gate"]["checks"] if not c["passed"]]
            return f"not delivered: acceptance gate failed ({', '.join(failed)})"
        return None

    def register(self, ctx: StationContext) -> str:
        bundle, evaluation = ctx.load("bundle"), ctx.load("evaluation")
        from pathlib import Path

        digest, stored = ctx.artifacts.put_dir(ctx.tenant, "bundle", Path(bundle["path"]), ctx.vault,
                                              order=ctx.order.id)
        winner = ctx.load("winner")
        version = ctx.meta.add_product_version(
            ctx.tenant, ctx.order.id, ctx.order.task, ctx.job_id, str(stored), digest,
            winner["family"], evaluation["metrics"])

        alias = on_delivered(ctx.meta, tenant=ctx.tenant, product=ctx.order.id, version=version, job_id=ctx.job_id,
                             spec=ctx.order.model_dump(mode="json"), dataset_digest=ctx.load("dataset")["digest"])
        ctx.reason(f"delivered {ctx.order.id}@{version} as {alias}: gate passed on every check")

        AuditLog(ctx.meta).record(MODEL_DELIVERED, actor="line", tenant=ctx.tenant, object=f"{ctx.order.id}@{version}",
                                  details={"job": ctx.job_id, "bundle_digest": digest, "family": winner["family"]})
        ctx.save("delivery", {"product": ctx.order.id, "version": version, "bundle": str(stored),
                              "digest": digest})
        ctx.set_outcome(product=ctx.order.id, version=version, alias=alias, bundle=str(stored),
                        report=str(stored / "report.html"))
        return f"{ctx.order.id}@{version} → {stored}"
