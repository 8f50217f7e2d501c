"""Benchmark: throughput of small orders through the scheduling service, and its overhead per job.

Each run uses a fresh MOFANG_HOME: K small demo orders (rows, budget below; distinct ids, two tenants) are
queued with `mofang submit`'s entry, then `mofang worker -n N --once` (spawned worker processes) drains the
queue. Throughput is orders per hour of wall time from the workers' start to the last job's end. The overhead
per job is what the scheduler adds around the line runner — the claim transaction, the heartbeats and the
finish bookkeeping, as each worker timed them in its JSON log — against the job's own run time.

    python bench/scheduling.py [--orders 6] [--workers 1 2] [--rows 300] [--minutes 0.1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path


def run(orders: int, workers: int, rows: int, minutes: float) -> dict[str, float]:
    """One measurement in a fresh home; returns its figures."""
    root = Path(tempfile.mkdtemp(prefix="mofang-bench-sched-"))
    os.environ["MOFANG_HOME"] = str(root / "home")
    os.environ.pop("MOFANG_DB_URL", None)
    from mofang.demo import write_demo
    from mofang.orders import load_order
    from mofang.scheduling.submit import submit
    from mofang.scheduling.worker import WorkerSpec, supervise
    from mofang.store import MetaStore

    meta = MetaStore()
    template = write_demo(root / "data", rows=rows, minutes=minutes)
    for i in range(orders):
        tenant = ("demo-bank", "other-bank")[i % 2]
        path = template.with_name(f"order-{i}.yaml")
        text = template.read_text(encoding="utf-8").replace("id: loan-default-demo", f"id: bench-{i}")
        path.write_text(text.replace("tenant: demo-bank", f"tenant: {tenant}"), encoding="utf-8")
        submit(load_order(path), meta, source_file=path)
    started = time.monotonic()
    supervise(WorkerSpec(once=True), workers)
    wall = time.monotonic() - started
    events = [json.loads(line) for p in (root / "home" / "logs").glob("worker-*.jsonl")
              for line in p.read_text(encoding="utf-8").splitlines()]
    claimed = {(e["job"], e["attempt"]): e for e in events if e["event"] == "job.claimed"}
    finished = [e for e in events if e["event"] == "job.finished"]
    overhead = [claimed[(e["job"], e["attempt"])]["claim_s"] + e["finish_s"] + e["heartbeat_s"] for e in finished]
    runs = [e["seconds"] for e in finished]
    done = sum(e["state"] in ("done", "rejected") for e in finished)
    meta.dispose()
    return {"workers": workers, "orders": orders, "done": done, "wall_s": wall, "per_hour": 3600 * orders / wall,
            "run_s": statistics.mean(runs), "overhead_ms": 1000 * statistics.mean(overhead),
            "claim_ms": 1000 * statistics.mean(claimed[(e["job"], e["attempt"])]["claim_s"] for e in finished),
            "beats": statistics.mean(e["beats"] for e in finished),
            "share": sum(overhead) / sum(runs)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=6)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--minutes", type=float, default=0.1)
    args = parser.parse_args()
    results = []
    for workers in args.workers:
        result = run(args.orders, workers, args.rows, args.minutes)
        results.append(result)
        print(f"  {workers} worker(s): {result['orders']} orders in {result['wall_s']:.0f}s", flush=True)
    cpus = len(os.sched_getaffinity(0))
    print(f"\nScheduling service · {args.orders} demo orders of {args.rows} rows, budget {args.minutes} min · "
          f"{cpus} CPUs · SQLite · {date.today()}\n")
    print("| workers | orders done | wall s | orders/hour | mean job run s | scheduler overhead ms/job "
          "(claim + heartbeats + finish) | claim ms | heartbeats/job | overhead / run time |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['workers']} | {r['done']}/{r['orders']} | {r['wall_s']:.0f} | {r['per_hour']:.0f} | "
              f"{r['run_s']:.1f} | {r['overhead_ms']:.1f} | {r['claim_ms']:.1f} | {r['beats']:.1f} | "
              f"{100 * r['share']:.2f}% |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
