"""A standalone data job (`mofang data run RECIPE`): sources + recipe in one YAML, a dataset version out.

It runs the same processes and operators as the data workshop on the line, without a model: ingest →
profile → normalize → clean → deduplicate → desensitize → quality → label → augment → validate → publish.
The version is written to a staging folder and renamed into place, so a failure leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mofang.data.card import build_card
from mofang.data.card_html import write_card_html
from mofang.data.clean.frames import to_frame, to_table
from mofang.data.ops import PROCESSES, ROW, RecipeError
from mofang.data.pipeline import op_context, run_operators
from mofang.data.profile import profile_frame
from mofang.data.recipes import Recipe, RecipeOverride, Step, build_recipe
from mofang.data.sources import read_granted
from mofang.orders.schema import SLUG, Columns, Source, TaskName
from mofang.station.progress import Progress, SilentProgress
from mofang.store import MetaStore, file_digest

STATION = "data"


class DataJob(BaseModel):
    """A recipe file that also says where the data is and where the dataset version goes."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=SLUG)]
    tenant: Annotated[str, Field(pattern=SLUG)] = "local"
    task: TaskName | None = Field(None, description="Picks the default recipe when no steps/base are given")
    data: list[Source] = Field(min_length=1)
    columns: Columns = Field(default_factory=Columns)
    target: str | None = None
    id_column: str | None = None
    seed: int = 42
    steps: list[Step] | None = Field(None, description="The recipe's steps, written out in full")
    base: str | None = Field(None, description="A built-in recipe name or a recipe file to start from")
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    add: list[Step] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)
    output: Path | None = Field(None, description="Folder of the dataset version (default: <name>-dataset)")
    strict: bool = Field(False, description="Refuse a source whose last row is cut off (a truncated file) instead "
                                            "of dropping that row with a warning in the data card")

    def is_granted(self, column: str) -> bool:
        return self.columns.grants(column, self.target, self.id_column)

    def recipe(self) -> Recipe:
        if self.steps is not None:
            if self.base or self.add or self.remove or self.params:
                raise RecipeError("give either 'steps' or 'base' with params/add/remove, not both", field="steps")
            recipe = Recipe(name=self.name, steps=self.steps)
            recipe.operators()
            return recipe
        base = self.base or (self.task if self.task else None)
        if base is None:
            raise RecipeError("say what to run: 'steps', a 'base' recipe, or a 'task'", field="steps")
        return build_recipe(base, RecipeOverride(base=base, params=self.params, add=self.add, remove=self.remove))


def load_data_job(path: str | Path) -> DataJob:
    """Read a data-job YAML; relative data paths and the output are taken from the file's folder."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RecipeError(f"cannot read {path}: {exc}") from None
    if isinstance(raw, dict) and isinstance(raw.get("data"), dict):
        raw["data"] = [raw["data"]]
    try:
        job = DataJob.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise RecipeError(f"{path}: {first['msg']}", field=".".join(str(p) for p in first["loc"])) from None
    base = path.resolve().parent
    for source in job.data:
        if source.path is not None and not source.path.is_absolute():
            source.path = (base / source.path).resolve()
    output = job.output or Path(f"{job.name}-dataset")
    job.output = output if output.is_absolute() else (base / output).resolve()
    return job


def run_data_job(job: DataJob, *, home: Path, progress: Progress | None = None,
                 meta: MetaStore | None = None) -> dict[str, Any]:
    """Run every process of the job's recipe and publish the dataset version to `job.output`."""
    progress = progress or SilentProgress()
    recipe = job.recipe()  # a bad step fails before any data is read
    operators = recipe.operators()
    processes = ("ingest", "profile", *PROCESSES, "publish")
    progress.station_started(STATION, processes)
    started = time.monotonic()
    clock = _ProcessClock(progress)

    clock.start("ingest")
    frame, reads = read_granted(job, on_read=clock.advance)  # bytes of the sources' files read, as read
    frame.insert(0, ROW, range(1, len(frame) + 1))
    clock.finish(f"{len(frame):,} rows × {frame.shape[1] - 1} columns from {len(reads)} sources")

    clock.start("profile")
    profile = profile_frame(frame)
    clock.finish(f"{frame.shape[1] - 1} columns profiled")

    own_meta = meta is None
    meta = meta or MetaStore()
    try:
        opctx = op_context(tenant=job.tenant, seed=job.seed, task=job.task if job.task else None,
                           target=job.target, id_column=job.id_column, profile=profile, home=home, meta=meta)
    finally:
        if own_meta:
            meta.dispose()
    table = to_table(frame)
    traces: dict[str, list[dict]] = {}
    for process in PROCESSES:
        steps = [op for op in operators if op.process == process]
        if not steps:
            continue
        clock.start(process)
        opctx.on_progress = clock.advance
        rows_in = table.num_rows
        table, traces[process] = run_operators(table, steps, opctx)
        clock.finish(f"{len(steps)} steps: {rows_in:,} → {table.num_rows:,} rows")

    clock.start("publish")
    result = _publish(job, recipe, to_frame(table), profile, reads, traces)
    clock.finish(f"{result['rows']:,} rows → {result['output']} (version {result['digest'][:12]})")
    progress.station_finished(STATION, "done", time.monotonic() - started)
    return result


class _ProcessClock:
    """Reports one process at a time to the progress view, with its duration."""

    def __init__(self, progress: Progress) -> None:
        self.progress, self.process, self.began = progress, "", 0.0

    def start(self, process: str) -> None:
        self.process, self.began = process, time.monotonic()
        self.progress.process_started(STATION, process)

    def advance(self, done: float, total: float | None, note: str) -> None:
        self.progress.process_advanced(STATION, self.process, done, total, note)

    def finish(self, summary: str) -> None:
        self.progress.process_finished(STATION, self.process, "done", time.monotonic() - self.began, summary)


def _publish(job: DataJob, recipe: Recipe, data: Any, profile: dict, reads: list, traces: dict) -> dict[str, Any]:
    output = Path(job.output or f"{job.name}-dataset")
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    try:
        data.to_parquet(staging / "data.parquet", index=False)
        files = {"data.parquet": file_digest(staging / "data.parquet")}
        identity = {"order": job.name, "tenant": job.tenant, "task": job.task if job.task else None,
                    "target": job.target, "id_column": job.id_column}
        card = build_card(identity=identity, sources={"sources": [asdict(r) for r in reads]}, profile=profile,
                          recipe=recipe.model_dump(), traces=traces, features=None, guard_trace=None,
                          split_trace=None, parts={"data": data}, files=files)
        card["lineage"]["dataset_digest"] = files["data.parquet"]
        (staging / "data_card.json").write_text(json.dumps(card, ensure_ascii=False, indent=1, default=str),
                                                encoding="utf-8")
        write_card_html(card, staging / "data_card.html")
        if output.exists():
            shutil.rmtree(output)
        os.replace(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {"output": str(output), "digest": files["data.parquet"], "rows": len(data),
            "card": str(output / "data_card.html")}
