"""Benchmark: request micro-batching of `mofang serve`, against the same server answering each request alone.

A tiny tabular product (the churn order of tests/products, LightGBM or linear as the line picks) is delivered
into a temporary MOFANG_HOME, then served by uvicorn in a child process (one worker) three ways: micro-batching
off (the peer: one model call per request), on with no wait (batches form while the model is busy), and on
with a 2 ms wait for company. A loopback client (httpx, asyncio) sends one-row POST /predict requests from
N concurrent connections for a fixed time. Printed: requests/s, p50/p99 latency and the ratio to the peer.

    .venv/bin/python bench/micro_batching.py [--seconds 5] [--concurrency 1,8,32]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MODES = {"unbatched (peer)": {"batching": False}, "batched, no wait": {"batching": True, "max_wait_ms": 0.0},
         "batched, 2 ms wait": {"batching": True, "max_wait_ms": 2.0}}


def _serve(home: str, port: int, options: dict) -> None:
    os.environ["MOFANG_HOME"] = home
    import logging

    import uvicorn

    from mofang.integration.bundle import open_bundle
    from mofang.products.serving import create_app
    from mofang.store import MetaStore

    logging.disable(logging.WARNING)
    meta = MetaStore()
    version = meta.product_version("churn-mini")
    app = create_app(open_bundle(version.bundle_path, "acme", meta), version=version.version, **options)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error")


async def _load(url: str, rows: list[dict], concurrency: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        async def worker(k: int) -> None:
            i = k
            while time.perf_counter() < stop:
                start = time.perf_counter()
                response = await client.post(f"{url}/predict", json={"rows": [rows[i % len(rows)]]})
                response.raise_for_status()
                latencies.append(time.perf_counter() - start)
                i += concurrency

        await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return latencies


def _wait_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", default="1,8,32")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    from mofang.products.server import free_port
    from tests.products.tiny_orders import TARGET, churn_frame, mofang_home, run_order, write_order

    root = Path(tempfile.mkdtemp(prefix="mofang-bench-"))
    with mofang_home(root / "home") as home:
        from mofang.store import MetaStore

        meta = MetaStore()
        job = run_order(write_order(root / "order"), meta)
        meta.dispose()
        assert job.status == "done", job.error
    rows = churn_frame(500, seed=99).drop(columns=[TARGET]).to_dict(orient="records")
    print(f"# micro-batching, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{args.seconds:.0f} s per cell, one-row requests")
    results: dict[tuple[str, int], tuple[float, float, float]] = {}
    for mode, options in MODES.items():
        port = free_port()
        server = multiprocessing.get_context("spawn").Process(target=_serve, args=(str(home), port, options),
                                                              daemon=True)
        server.start()
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_up(url)
            asyncio.run(_load(url, rows, 4, 1.0))  # warm-up
            for level in levels:
                latencies = asyncio.run(_load(url, rows, level, args.seconds))
                ms = sorted(x * 1000 for x in latencies)
                results[(mode, level)] = (len(ms) / args.seconds, statistics.median(ms), ms[int(0.99 * (len(ms) - 1))])
        finally:
            server.terminate()
            server.join(10)
    print(f"{'mode':<22}{'clients':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'× peer req/s':>14}")
    for (mode, level), (rps, p50, p99) in results.items():
        peer = results[("unbatched (peer)", level)][0]
        print(f"{mode:<22}{level:>8}{rps:>10.0f}{p50:>9.2f}{p99:>9.2f}{rps / peer:>14.2f}")


if __name__ == "__main__":
    main()
