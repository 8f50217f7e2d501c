"""StationContext: what a process sees — the order, the job's artifacts, its record and progress."""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from mofang.orders.schema import Order
from mofang.security.vault import open_vault
from mofang.station.progress import Progress
from mofang.store import ArtifactStore, MetaStore


@dataclass
class ProcessRecord:
    """What one process did: its parameters, metrics, reasons and artifact digests."""

    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    live: dict[str, Any] = field(default_factory=dict)  # shown while it runs, kept as metrics["live"]


class StationContext:
    """The view a station has of its job. Processes pass data to later ones through named artifacts
    saved in the job folder, so a resumed job finds everything an earlier run finished."""

    def __init__(self, *, job_id: int, order: Order, meta: MetaStore, artifacts: ArtifactStore,
                 progress: Progress, budget_used_s: float) -> None:
        self.job_id = job_id
        self.order = order
        self.tenant = order.tenant
        self.meta = meta
        self.artifacts = artifacts
        self.progress = progress
        self.workdir = artifacts.job_dir(order.tenant, job_id)
        self.vault = open_vault(meta, artifacts.home)
        self._budget_used_s = budget_used_s
        self._run_started = time.monotonic()
        self.record = ProcessRecord()
        self.station = ""
        self.process = ""

    # -- time ------------------------------------------------------------------------------------
    @property
    def budget_s(self) -> float:
        return self.order.budget.minutes * 60.0

    def elapsed_s(self) -> float:
        """Seconds this job has run, across resumes."""
        return self._budget_used_s + (time.monotonic() - self._run_started)

    def remaining_s(self) -> float:
        return max(0.0, self.budget_s - self.elapsed_s())

    # -- artifacts -------------------------------------------------------------------------------
    def path(self, name: str) -> Path:
        """A path in the job folder for a file or folder this process writes."""
        return self.workdir / name

    def save(self, name: str, obj: Any) -> str:
        """Persist a DataFrame (parquet), a dict/list (json) or any object (joblib), encrypted with the
        order's data key; return the digest of its plaintext."""
        buffer = io.BytesIO()
        if isinstance(obj, pd.DataFrame):
            suffix = ".parquet"
            obj.to_parquet(buffer, index=False)
        elif isinstance(obj, dict | list):
            suffix = ".json"
            buffer.write(json.dumps(obj, ensure_ascii=False, indent=1, default=str).encode("utf-8"))
        else:
            suffix = ".joblib"
            joblib.dump(obj, buffer)
        data = buffer.getvalue()
        self.vault.write(self.tenant, self.workdir / f"{name}{suffix}", data, order=self.order.id)
        digest = hashlib.sha256(data).hexdigest()
        self.record.outputs[name] = digest
        return digest

    def load(self, name: str) -> Any:
        """Load an artifact saved by an earlier process of this job."""
        for suffix, reader in ((".parquet", lambda b: pd.read_parquet(io.BytesIO(b))),
                               (".json", lambda b: json.loads(b.decode("utf-8"))),
                               (".joblib", lambda b: joblib.load(io.BytesIO(b)))):
            target = self.workdir / f"{name}{suffix}"
            if target.exists():
                data = self.vault.read(self.tenant, target, order=self.order.id)
                self.record.inputs[name] = hashlib.sha256(data).hexdigest()
                return reader(data)
        raise FileNotFoundError(f"artifact '{name}' was not produced by an earlier process")

    def has(self, name: str) -> bool:
        return any((self.workdir / f"{name}{s}").exists() for s in (".parquet", ".json", ".joblib"))

    # -- the record ------------------------------------------------------------------------------
    def param(self, **params: Any) -> None:
        self.record.params.update(params)

    def metric(self, **metrics: Any) -> None:
        self.record.metrics.update(metrics)

    def reason(self, text: str) -> None:
        """Record why the line made a choice (shown in the job record and the report)."""
        self.record.reasons.append(text)

    def set_outcome(self, **fields: Any) -> None:
        """Update the job's outcome (verdict, product, report paths) in the metadata store."""
        job = self.meta.job(self.job_id)
        self.meta.set_job(self.job_id, outcome={**(job.outcome or {}), **fields})

    def outcome(self) -> dict[str, Any]:
        return dict(self.meta.job(self.job_id).outcome or {})

    def live(self, **detail: Any) -> None:
        """Show `detail` (JSON values) with the running process's progress, e.g. trials and best score per
        family; the portal streams it, and it stays in the process's metrics under "live"."""
        self.record.live.update(detail)

    def advance(self, done: float, total: float | None = None, note: str = "") -> None:
        """Report progress inside the current process."""
        self.progress.process_advanced(self.station, self.process, done, total, note)
