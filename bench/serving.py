"""Benchmark: one LightGBM product served by Mofang (`mofang serve`) and by MLflow (`mlflow models serve` on
Mofang's MLflow export, `--env-manager local`), under the same loopback load.

The demo loan-book order (synthetic, GBK, messy values) runs down the line into a temporary MOFANG_HOME with
the model workshop restricted to the LightGBM family, so both servers answer with the same LightGBM model. Each
server runs as a child process with one worker on 127.0.0.1. A loopback client (httpx, asyncio) sends one-row
prediction requests from N concurrent connections for a fixed time: Mofang gets `POST /predict {"rows": [row]}`
with the row as it is in the source file; MLflow gets `POST /invocations {"dataframe_records": [row]}` with the
row typed as the MLflow signature declares (numbers as numbers), which is what an MLflow client sends. The
load comes from raw keep-alive HTTP/1.1 connections (`--client httpx` for the httpx client: see RawConnection).
Printed: requests/s and p50/p99 latency of each, and Mofang's throughput ratio over MLflow's.

    .venv/bin/python bench/serving.py [--seconds 8] [--concurrency 1,8,32] [--rows 4000] [--client raw|httpx]
                                      [--auth]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
PRODUCT = "loan-default-demo"


def deliver(home: Path, rows: int, minutes: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run the demo order with LightGBM only; export it for MLflow; return (raw rows, MLflow-typed rows)."""
    import pandas as pd

    import mofang.models.station as model_station
    from mofang.demo import write_demo
    from mofang.integration.bundle import open_bundle
    from mofang.integration.mlflow_export import export_mlflow
    from mofang.line import run
    from mofang.models.features import coerce_value
    from mofang.models.registry import trainers_for
    from mofang.orders import load_order
    from mofang.scheduling.admission import admit as submit
    from mofang.security.vault import open_vault
    from mofang.store import MetaStore

    model_station.trainers_for = lambda task: {"lightgbm": trainers_for(task)["lightgbm"]}  # type: ignore
    order = write_demo(home.parent / "demo", rows=rows, minutes=minutes)
    meta = MetaStore()
    job = run(submit(load_order(order), meta, source_file=order), meta=meta)
    version = meta.product_version(PRODUCT)
    if job.status != "done" or version.model_family != "lightgbm":
        raise SystemExit(f"the demo order did not deliver a LightGBM product: {job.status} {job.outcome}")
    owner = version.product.tenant_id
    vault = open_vault(meta, home)
    export_mlflow(lambda p: vault.read_any(owner, p), sorted(Path(version.bundle_path).iterdir()),
                  home.parent / "mlflow-model")
    features = open_bundle(version.bundle_path, owner, meta).schema["features"]
    meta.dispose()
    frame = pd.read_csv(order.parent / "loan_book_gbk.csv", encoding="gbk", dtype=str, keep_default_na=False)
    raw = [{f["name"]: r[f["name"]] for f in features} for r in frame.tail(500).to_dict(orient="records")]
    typed = [{f["name"]: _mlflow_value(coerce_value(r[f["name"]], f["kind"]) if f["kind"] in ("numeric", "boolean")
                                       else r[f["name"]]) for f in features} for r in raw]
    return raw, typed


def _mlflow_value(value: Any) -> Any:
    return None if isinstance(value, float) and value != value else value


def start(command: list[str], url: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    handle = log.open("w")
    process = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{command[0]} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop(process)
    raise SystemExit(f"{' '.join(command)} did not start: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


class RawConnection:
    """A keep-alive HTTP/1.1 connection speaking just enough of the protocol to POST JSON and read the answer.

    The load generator shares the machine's cores with the servers: httpx spent ~3.4 ms of CPU per request
    here (more than `mofang serve` spends answering it), so at 8+ connections it measured itself as much as
    the servers. This client spends a fraction of that; `--client httpx` keeps the old one for comparison."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        parsed = httpx.URL(url)
        self.host, self.port, self.path = parsed.host, parsed.port or 80, parsed.raw_path.decode()
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.extra}"
                          f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if "content-length" in headers:
            await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readuntil(b"\r\n")
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def load_raw(url: str, bodies: list[bytes], concurrency: int, seconds: float,
                   headers: dict[str, str] | None = None) -> dict[str, float]:
    """As `load`, from `concurrency` raw keep-alive connections."""
    latencies: list[float] = []
    errors = 0
    connections = [RawConnection(url, headers) for _ in range(concurrency)]
    for body in bodies[:3]:  # warm-up
        await connections[0].post(body)
    stop_at = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal errors
        i, connection = offset, connections[offset]
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                errors += await connection.post(bodies[i % len(bodies)]) != 200
            except (OSError, asyncio.IncompleteReadError, ValueError):  # a dropped connection: a failed request
                errors += 1
                await connection.close()
            latencies.append((time.perf_counter() - started) * 1000)
            i += concurrency

    began = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    elapsed = time.perf_counter() - began
    for connection in connections:
        await connection.close()
    return _summary(latencies, errors, elapsed)


def _summary(latencies: list[float], errors: int, elapsed: float) -> dict[str, float]:
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
    return {"rps": len(latencies) / elapsed, "p50": pick(0.50), "p99": pick(0.99), "errors": errors,
            "n": len(latencies)}


async def load(url: str, bodies: list[bytes], concurrency: int, seconds: float,
               headers: dict[str, str] | None = None) -> dict[str, float]:
    """One-row requests from `concurrency` connections for `seconds`; requests/s, p50/p99 ms, errors."""
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30,
                                 headers={"content-type": "application/json", **(headers or {})}) as client:
        for body in bodies[:3]:  # warm-up
            await client.post(url, content=body)

        async def worker(offset: int) -> None:
            nonlocal errors
            i = offset
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                try:
                    response = await client.post(url, content=bodies[i % len(bodies)])
                    errors += response.status_code != 200
                except httpx.TransportError:  # a dropped connection counts as a failed request
                    errors += 1
                latencies.append((time.perf_counter() - started) * 1000)
                i += concurrency

        began = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        elapsed = time.perf_counter() - began
    return _summary(latencies, errors, elapsed)


def api_key(home: Path) -> str:
    """An owner key of the demo product's tenant (shown once, as `mofang keys create` would)."""
    from mofang.security.identity import create_api_key
    from mofang.store import MetaStore

    meta = MetaStore()
    try:
        tenant = meta.product_version(PRODUCT).product.tenant_id
        return create_api_key(meta, tenant=tenant, user="bench", role="owner")[1]
    finally:
        meta.dispose()


def _installed(module: str) -> str | None:
    import importlib.util

    return module if importlib.util.find_spec(module) is not None else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--minutes", type=float, default=0.5)
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="the load generator: raw keep-alive sockets (light) or httpx (as measured before)")
    parser.add_argument("--auth", action="store_true",
                        help="serve with an API key (every request authenticated, audited per caller)")
    args = parser.parse_args()
    drive = load_raw if args.client == "raw" else load
    levels = [int(c) for c in args.concurrency.split(",")]
    work = Path(tempfile.mkdtemp(prefix="mofang-bench-serving-"))
    home = work / "home"
    os.environ["MOFANG_HOME"] = str(home)
    try:
        started = time.perf_counter()
        raw, typed = deliver(home, args.rows, args.minutes)
        print(f"delivered {PRODUCT} (LightGBM) and its MLflow export in {time.perf_counter() - started:.0f} s")
        bin_dir = Path(sys.executable).parent  # mlflow execs `uvicorn` from PATH
        env = {**os.environ, "MOFANG_HOME": str(home), "MLFLOW_MODELS_WORKERS": "1",
               "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
        mofang_headers: dict[str, str] = {}
        if args.auth:  # the first key ends the open bootstrap: the server, and each request, must present one
            env["MOFANG_API_KEY"] = key = api_key(home)
            mofang_headers["Authorization"] = f"Bearer {key}"
        servers = {
            "mofang serve": ([str(bin_dir / "mofang"), "serve", PRODUCT, "--port", "18301"],
                             "http://127.0.0.1:18301", "/health", "/predict",
                             [json.dumps({"rows": [r]}, ensure_ascii=False).encode() for r in raw], mofang_headers),
            "mlflow models serve": ([str(bin_dir / "mlflow"), "models", "serve", "-m", str(work / "mlflow-model"),
                                     "--env-manager", "local", "--host", "127.0.0.1", "--port", "18302",
                                     "--workers", "1"],
                                    "http://127.0.0.1:18302", "/ping", "/invocations",
                                    [json.dumps({"dataframe_records": [r]}, ensure_ascii=False).encode()
                                     for r in typed], {}),
        }
        results: dict[str, dict[int, dict[str, float]]] = {name: {} for name in servers}
        processes = []
        try:  # both up at once, measured in turns at each level: the machine's other load hits both alike
            for name, (command, base, health, path, bodies, headers) in servers.items():
                processes.append(start(command, base + health, env, work / f"{name.split()[0]}.log"))
                check = httpx.post(base + path, content=bodies[0], timeout=30,
                                   headers={"content-type": "application/json", **headers})
                if check.status_code != 200:
                    raise SystemExit(f"{name} refused the request: {check.status_code} {check.text[:500]}")
            for c in levels:
                for name, (_, base, _, path, bodies, headers) in servers.items():
                    results[name][c] = asyncio.run(drive(base + path, bodies, c, args.seconds, headers))
        finally:
            for process in processes:
                stop(process)
        print(f"\nserving one LightGBM product, one-row requests, {args.seconds:g} s per point, one worker each, "
              f"{args.client} client, mofang {'with an API key' if args.auth else 'open (no API key yet)'}; "
              f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
              f"{platform.python_version()}; uvicorn http={_installed('httptools') or 'h11'}, "
              f"loop={_installed('uvloop') or 'asyncio'}")
        print(f"{'concurrency':>11} | {'server':<20} | {'req/s':>8} | {'p50 ms':>7} | {'p99 ms':>7} | {'errors':>6} "
              f"| {'ratio':>6}")
        print("-" * 84)
        for c in levels:
            peer = results["mlflow models serve"][c]["rps"]
            for name in servers:
                r = results[name][c]
                print(f"{c:>11} | {name:<20} | {r['rps']:>8.1f} | {r['p50']:>7.2f} | {r['p99']:>7.2f} | "
                      f"{r['errors']:>6} | {r['rps'] / peer:>5.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
