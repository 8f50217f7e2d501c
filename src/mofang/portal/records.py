"""Read models of the API: orders, jobs with their station and process records, products, datasets, reports."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select

from mofang.core.errors import NotFoundError
from mofang.evaluation.report_text import LANGUAGES as REPORT_LANGUAGES
from mofang.evaluation.report_text import report_file
from mofang.portal.auth import Caller
from mofang.products.registry import resolve
from mofang.security.scope import safe_child
from mofang.security.vault import open_vault
from mofang.store import ArtifactStore
from mofang.store.models import Job, OrderRecord, ProcessRun, ProductVersion, StationRun

TERMINAL_JOB = frozenset({"done", "rejected", "failed", "cancelled"})
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def process_view(process: ProcessRun) -> dict[str, Any]:
    seconds = ((process.finished_at - process.started_at).total_seconds()
               if process.finished_at and process.started_at else None)
    return {"name": process.name, "status": process.status, "started_at": when(process.started_at),
            "finished_at": when(process.finished_at), "seconds": seconds, "params": process.params or {},
            "metrics": process.metrics or {}, "reasons": process.reasons or [], "error": process.error}


def station_view(station: StationRun) -> dict[str, Any]:
    return {"station": station.station, "status": station.status, "started_at": when(station.started_at),
            "finished_at": when(station.finished_at), "processes": [process_view(p) for p in station.processes]}


def outcome_view(outcome: dict[str, Any] | None) -> dict[str, Any]:
    """The job's outcome without server paths: verdict, failed checks, metrics, product and version."""
    outcome = outcome or {}
    shown = {k: outcome[k] for k in ("verdict", "failed_checks", "metrics", "product", "version") if k in outcome}
    shown["has_report"] = bool(outcome.get("report"))
    return shown


def job_view(job: Job, order_id: str, *, detailed: bool = False) -> dict[str, Any]:
    view = {"job_id": job.id, "order_id": order_id, "tenant": job.tenant_id, "status": job.status,
            "error": job.error, "created_at": when(job.created_at), "started_at": when(job.started_at),
            "finished_at": when(job.finished_at), "elapsed_s": job.elapsed_s, "outcome": outcome_view(job.outcome)}
    if detailed:
        view["stations"] = [station_view(s) for s in job.stations]
    return view


def public_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The order as its customer may see it: data paths without the server's folders (an upload reads as
    `<upload id>/<file>`), database URLs without passwords."""
    shown = dict(spec)
    sources = []
    for source in spec.get("data") or []:
        source = dict(source)
        if source.get("path"):
            path = PurePosixPath(str(source["path"]))
            source["path"] = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
        if source.get("url"):
            source["url"] = re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", str(source["url"]))
        sources.append(source)
    shown["data"] = sources
    return shown


def order_view(record: OrderRecord, *, detailed: bool = False) -> dict[str, Any]:
    latest = record.jobs[-1] if record.jobs else None
    view = {"order_id": record.order_id, "tenant": record.tenant_id, "task": record.task,
            "created_at": when(record.created_at), "jobs": len(record.jobs),
            "latest_job": job_view(latest, record.order_id) if latest else None}
    if detailed:
        view["spec"] = public_spec(record.spec)
        view["job_list"] = [job_view(j, record.order_id, detailed=True) for j in record.jobs]
    return view


def job_detail(caller: Caller, job_id: int) -> dict[str, Any]:
    """A job with its stations and processes, found through the caller's scope and authorized."""
    with caller.view.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id}")
        caller.allow("job.read", job.tenant_id, what=f"job {job_id}")
        return job_view(job, job.order.order_id, detailed=True)


def version_view(version: ProductVersion) -> dict[str, Any]:
    return {"version": version.version, "job_id": version.job_id, "model_family": version.model_family,
            "metrics": version.metrics or {}, "bundle_digest": version.bundle_digest,
            "created_at": when(version.created_at)}


def order_report(caller: Caller, home: Path, order_id: str, tenant: str | None, job_id: int | None = None,
                 lang: str = "en") -> bytes:
    """An order's evaluation report (delivered or rejected) in `lang`, decrypted for the caller's tenant; the
    English report.html when the job wrote none in `lang` (a job from before reports were translated)."""
    record = caller.view.order(order_id, caller.tenant_filter(tenant))
    caller.allow("order.read", record.tenant_id, what=f"order '{order_id}'")
    jobs = [j for j in record.jobs if (j.outcome or {}).get("report") and (job_id is None or j.id == job_id)]
    if not jobs:
        raise NotFoundError(f"order '{order_id}' has no report" + (f" from job {job_id}" if job_id else ""))
    report = translated(Path(jobs[-1].outcome["report"]), lang)
    in_job = (home / "tenants" / record.tenant_id / "jobs") in report.parents
    return open_vault(caller.meta, home).read_any(record.tenant_id, report, order=record.order_id if in_job else None)


def product_version(caller: Caller, name: str, version: int | None, tenant: str | None,
                    action: str = "product.read") -> ProductVersion:
    """The version the CLI's reference would name: `version`, else the product's champion, else its latest."""
    found = resolve(caller.view, name if version is None else f"{name}@{version}", caller.tenant_filter(tenant))
    caller.allow(action, found.product.tenant_id, what=f"product '{name}'")
    return found


def product_file(caller: Caller, home: Path, version: ProductVersion, name: str) -> bytes:
    """A file of a delivered bundle (report.html, model_card.md), decrypted with its order's key (the tenant's
    for a bundle an earlier release stored)."""
    owner = version.product.tenant_id
    return open_vault(caller.meta, home).read_any(owner, Path(version.bundle_path) / name)


def product_report(caller: Caller, home: Path, version: ProductVersion, lang: str = "en") -> bytes:
    """A delivered version's evaluation report in `lang` (report.html when its bundle holds none in `lang`)."""
    path = translated(Path(version.bundle_path) / report_file("en"), lang)
    return product_file(caller, home, version, path.name)


def translated(report: Path, lang: str) -> Path:
    """The report in `lang` beside report.html (report.zh-CN.html), or report.html itself when it is absent."""
    other = report.with_name(report_file(lang)) if lang in REPORT_LANGUAGES else report
    return other if other.is_file() else report


# -- datasets: the data workshop publishes one version per job (its `publish` process) ----------------------
def datasets(caller: Caller, tenant: str | None) -> list[dict[str, Any]]:
    """Dataset versions the caller may see, newest first: digest, tenant, order, job, when, publish metrics."""
    shown = caller.tenant_filter(tenant)
    query = (select(ProcessRun, StationRun.job_id, Job.tenant_id, OrderRecord.order_id, ProcessRun.finished_at)
             .join(StationRun, StationRun.id == ProcessRun.station_run_id).join(Job, Job.id == StationRun.job_id)
             .join(OrderRecord, OrderRecord.id == Job.order_pk)
             .where(StationRun.station == "data", ProcessRun.name == "publish", ProcessRun.status == "done")
             .order_by(ProcessRun.id.desc()))
    if shown:
        query = query.where(Job.tenant_id == shown)
    seen: set[tuple[str, str]] = set()
    result = []
    with caller.view.session() as s:
        for process, job_id, owner, order_id, finished in s.execute(query):
            digest = str((process.params or {}).get("digest", ""))
            if not _DIGEST.match(digest) or (owner, digest) in seen:
                continue
            seen.add((owner, digest))
            result.append({"digest": digest, "tenant": owner, "order_id": order_id, "job_id": job_id,
                           "published_at": when(finished), "summary": (process.metrics or {})})
    return result


def dataset(caller: Caller, digest: str, tenant: str | None = None) -> dict[str, Any]:
    """One dataset version the caller may see; NotFoundError otherwise (another tenant's reads as missing)."""
    for found in datasets(caller, tenant):
        if found["digest"] == digest:
            caller.allow("order.read", found["tenant"], what=f"dataset {digest[:12]}")
            return found
    raise NotFoundError(f"no dataset {digest[:64]}")


def data_card(caller: Caller, home: Path, digest: str, tenant: str | None, name: str) -> bytes:
    """The dataset version's data card (data_card.json or data_card.html), decrypted for its tenant."""
    found = dataset(caller, digest, tenant)
    safe_child(home / "tenants", found["tenant"], "artifacts", "dataset", digest[:2], digest)  # a digest, no path
    folder = ArtifactStore(home).find_dir(found["tenant"], "dataset", digest, found["order_id"])
    path = folder / name
    if not path.is_file():
        raise NotFoundError(f"dataset {digest[:12]} has no {name}")
    return open_vault(caller.meta, home).read_any(found["tenant"], path)
