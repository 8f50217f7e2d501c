"""The integration workshop's `edge_bundle` process: build the signed edge archive into the bundle folder,
or record why the product has none (an edge-target order is refused instead)."""

from __future__ import annotations

from pathlib import Path

from mofang.core.errors import MofangError
from mofang.integration.bundle import load_bundle
from mofang.integration.edge import EDGE_ARCHIVE, build_edge_archive
from mofang.integration.preprocess import NotExportable
from mofang.security.signing import load_factory_key
from mofang.station import StationContext


def no_edge_bundle(ctx: StationContext, why: str) -> str:
    """A product without an edge archive: an error when the order's deployment target is the edge, else the
    reason recorded and the process summary."""
    if ctx.order.deployment.target == "edge":
        raise MofangError(f"the order asks for deployment.target edge, but {why}")
    ctx.reason(f"no edge bundle: {why}")
    return f"skipped: {why}"


def edge_bundle(ctx: StationContext) -> str:
    """Export, parity-check, quantize (edge target) and sign the edge archive of the packaged bundle."""
    draft = ctx.load("bundle_draft")
    folder = Path(draft["path"])
    edge_target = ctx.order.deployment.target == "edge"
    bundle = load_bundle(folder)
    about = {"product": ctx.order.id, "tenant": ctx.tenant, "job_id": ctx.job_id,
             "task": ctx.order.task, "family": bundle.metadata.get("family")}
    try:
        record = build_edge_archive(bundle, ctx.load("test") if not bundle.is_retrieval else None,
                                    (folder / "model_card.md").read_text("utf-8"), folder / EDGE_ARCHIVE,
                                    load_factory_key(ctx.artifacts.home), quantize=edge_target, about=about,
                                    on_step=ctx.advance)
    except NotExportable as exc:
        (folder / EDGE_ARCHIVE).unlink(missing_ok=True)
        return no_edge_bundle(ctx, str(exc))
    parity = record["parity"]
    ctx.metric(edge_parity_max_abs_diff=parity["max_abs_diff"], edge_parity_rows=parity["rows"],
               edge_parity_label_agreement=parity["agreement"], edge_archive_mb=record["archive_mb"])
    ctx.reason(f"edge bundle: {record['quantization']}; parity on {parity['rows']} test rows, "
               f"max |Δ| {parity['max_abs_diff']:.2e} (tolerance {parity['tolerance']:g}), "
               f"{parity['agreement']:.1%} of labels agree")
    files = list(draft.get("files", []))
    if EDGE_ARCHIVE not in files:
        draft["files"] = [*files, EDGE_ARCHIVE]
        ctx.save("bundle_draft", draft)
    return (f"{EDGE_ARCHIVE} ({record['archive_mb']:.2f} MB), parity max |Δ| {parity['max_abs_diff']:.1e} "
            f"on {parity['rows']} rows")
