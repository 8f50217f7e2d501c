"""The line runner: runs a job's stations in order, records every process, resumes after a crash."""

from __future__ import annotations

import contextlib
import gc
import json
import time
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import select

from mofang.core import interrupts
from mofang.core.errors import MofangError, NotFoundError
from mofang.line.live import LiveRecord
from mofang.orders.schema import Order
from mofang.security.scratch import seal_job_folder, unseal_job_folder
from mofang.station.context import ProcessRecord, StationContext
from mofang.station.contract import Station
from mofang.station.progress import Progress, SilentProgress
from mofang.store import ArtifactStore, MetaStore
from mofang.store.models import Job, ProcessRun, StationRun, utcnow

RESUMABLE = {"queued", "running", "interrupted", "failed"}


class JobFailed(MofangError):
    """A job stopped with an error; the message names the station and process."""


def stations_for(order: Order) -> list[Station]:
    """The standard line for the order's task."""
    # the units are imported when a line is built, so importing the runner (a worker starting) stays light
    from mofang.data import DataWorkshop
    from mofang.evaluation import EvaluationCenter
    from mofang.integration import IntegrationWorkshop
    from mofang.models import ModelWorkshop
    from mofang.products import DeliveryStation

    return [DataWorkshop(), ModelWorkshop(), EvaluationCenter(), IntegrationWorkshop(), DeliveryStation()]


def run(job_id: int, *, meta: MetaStore, artifacts: ArtifactStore | None = None,
        progress: Progress | None = None, stations: Sequence[Station] | None = None) -> Job:
    """Run (or resume) a job to its end; return the finished job record.

    Done processes are skipped, so calling this again on an interrupted or failed job resumes it at
    its first unfinished process. Raises JobFailed if a process fails, KeyboardInterrupt if stopped.
    """
    job = meta.job(job_id)
    if job.status not in RESUMABLE:
        raise MofangError(f"job {job_id} is {job.status}; only queued, interrupted or failed jobs run")
    with _earlier_objects_frozen():
        return _run(job, meta=meta, artifacts=artifacts or ArtifactStore(), progress=progress or SilentProgress(),
                    stations=stations)


@contextlib.contextmanager
def _earlier_objects_frozen() -> Iterator[None]:
    """Objects alive when a job starts (imported libraries, loaded models, caches) are left out of the garbage
    collector's scans while it runs, and handed back after it. A process that has loaded torch, transformers and
    a tokenizer holds ~0.9M objects: a full collection then took 0.53 s instead of 0.12 s, and a 45-second tabular
    job run after the LLM tests in one process fitted fewer trials and missed its gate."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _run(job: Job, *, meta: MetaStore, artifacts: ArtifactStore, progress: Progress,
         stations: Sequence[Station] | None) -> Job:
    job_id = job.id
    order = Order.model_validate(job.spec)
    line = list(stations) if stations is not None else stations_for(order)
    ctx = StationContext(job_id=job_id, order=order, meta=meta, artifacts=artifacts, progress=progress,
                         budget_used_s=job.elapsed_s or 0.0)
    meta.set_job(job_id, status="running", error=None)
    unseal_job_folder(ctx.vault, ctx.tenant, order.id, ctx.workdir)  # a resumed job reads its scratch again
    try:
        for station in line:
            _run_station(station, ctx, meta, progress)
    except KeyboardInterrupt:
        meta.set_job(job_id, status="interrupted", elapsed_s=ctx.elapsed_s(),
                     error=f"interrupted; run `mofang resume {job_id}` to go on")
        raise
    except Exception as exc:
        where = f"{ctx.station} · {ctx.process}"
        message = str(exc) if isinstance(exc, MofangError) else f"{type(exc).__name__}: {exc}"
        meta.set_job(job_id, status="failed", elapsed_s=ctx.elapsed_s(), error=f"{where}: {message}")
        raise JobFailed(f"job {job_id} failed at {where}: {message}") from exc
    finally:  # whatever the ending, no plaintext scratch stays behind (`resume` unseals it)
        seal_job_folder(ctx.vault, ctx.tenant, order.id, ctx.workdir)
    final = "rejected" if ctx.outcome().get("verdict") == "rejected" else "done"
    meta.set_job(job_id, status=final, elapsed_s=ctx.elapsed_s())
    return meta.job(job_id)


def _run_station(station: Station, ctx: StationContext, meta: MetaStore, progress: Progress) -> None:
    ctx.station = station.name
    station_run_id, station_status = _station_record(meta, ctx.job_id, station.name)
    if station_status in {"done", "skipped"}:
        return
    started = time.monotonic()
    progress.station_started(station.name, station.processes)
    _set_station(meta, station_run_id, status="running", started_at=utcnow())
    reason = station.skip(ctx)
    if reason:
        _set_station(meta, station_run_id, status="skipped", finished_at=utcnow())
        progress.process_finished(station.name, "*", "skipped", 0.0, reason)
        progress.station_finished(station.name, "skipped", time.monotonic() - started)
        return
    missing = [name for name in station.inputs if not ctx.has(name)]
    if missing:
        raise MofangError(f"station '{station.name}' needs {missing}, which no earlier station produced")
    try:
        for process in station.processes:
            _run_process(station, process, station_run_id, ctx, meta, progress)
    except BaseException:
        _set_station(meta, station_run_id, status="failed")
        progress.station_finished(station.name, "failed", time.monotonic() - started)
        raise
    absent = [name for name in station.outputs if not ctx.has(name)]
    if absent:
        raise MofangError(f"station '{station.name}' finished without writing {absent}")
    _set_station(meta, station_run_id, status="done", finished_at=utcnow())
    progress.station_finished(station.name, "done", time.monotonic() - started)


def _run_process(station: Station, process: str, station_run_id: int, ctx: StationContext,
                 meta: MetaStore, progress: Progress) -> None:
    interrupts.check()  # a Ctrl-C that something below swallowed stops the job here, before the next process
    with meta.session() as s:
        record = s.scalar(select(ProcessRun).where(ProcessRun.station_run_id == station_run_id,
                                                   ProcessRun.name == process))
        if record is None:
            record = ProcessRun(station_run_id=station_run_id, name=process)
            s.add(record)
        if record.status == "done":
            progress.process_finished(station.name, process, "resumed", 0.0, "done in an earlier run")
            return
        record.status, record.started_at, record.error = "running", utcnow(), None
        s.flush()
        process_id = record.id
    ctx.process, ctx.record = process, ProcessRecord()
    progress.process_started(station.name, process)
    started = time.monotonic()
    ctx.progress = LiveRecord(progress, meta, process_id, ctx.record)  # its progress, readable by the portal
    try:
        summary = station.process_for(process, ctx.order)(ctx) or ""
    except KeyboardInterrupt:
        _finish_process(meta, process_id, ctx.record, "interrupted", "interrupted")
        progress.process_finished(station.name, process, "interrupted", time.monotonic() - started, "")
        raise
    except Exception as exc:
        detail = str(exc) if isinstance(exc, MofangError) else traceback.format_exc(limit=6)
        _finish_process(meta, process_id, ctx.record, "failed", detail)
        progress.process_finished(station.name, process, "failed", time.monotonic() - started, str(exc))
        raise
    finally:
        ctx.progress = progress
    _finish_process(meta, process_id, ctx.record, "done", None)
    meta.set_job(ctx.job_id, elapsed_s=ctx.elapsed_s())
    progress.process_finished(station.name, process, "done", time.monotonic() - started, summary)


def _finish_process(meta: MetaStore, process_id: int, rec: ProcessRecord, status: str,
                    error: str | None) -> None:
    with meta.session() as s:
        row = s.get(ProcessRun, process_id)
        if row is None:
            raise NotFoundError(f"process run {process_id} vanished")
        row.status, row.finished_at, row.error = status, utcnow(), error
        row.params, row.metrics, row.reasons = _jsonable(rec.params), _jsonable(rec.metrics), rec.reasons
        if rec.live:
            row.metrics = {**row.metrics, "live": _jsonable(rec.live)}
        row.inputs, row.outputs = rec.inputs, rec.outputs


def _station_record(meta: MetaStore, job_id: int, name: str) -> tuple[int, str]:
    with meta.session() as s:
        row = s.scalar(select(StationRun).where(StationRun.job_id == job_id, StationRun.station == name))
        if row is None:
            row = StationRun(job_id=job_id, station=name, status="pending")
            s.add(row)
            s.flush()
        return row.id, row.status


def _set_station(meta: MetaStore, station_run_id: int, **fields: object) -> None:
    with meta.session() as s:
        row = s.get(StationRun, station_run_id)
        for key, value in fields.items():
            setattr(row, key, value)


def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    """Turn numpy scalars and other odd values into plain JSON values."""
    plain: dict[str, Any] = json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
    return plain
