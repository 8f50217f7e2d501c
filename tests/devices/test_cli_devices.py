"""`mofang devices` and `mofang devices health`: table, JSON, exit codes, operators only."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mofang.cli.devices import devices_app
from mofang.devices.health import Check

app = typer.Typer()  # as `mofang` mounts it: app.add_typer(devices_app, name="devices")
app.add_typer(devices_app, name="devices")
devices_pkg = importlib.import_module("mofang.devices")


def cli(home: Path, *args: str, key: str = ""):
    return CliRunner().invoke(app, ["devices", *args],
                              env={"MOFANG_HOME": str(home), "MOFANG_API_KEY": key, "COLUMNS": "200"})


def test_table(home: Path) -> None:
    result = cli(home)
    assert result.exit_code == 0, result.output
    for column in ("node", "CPUs", "memory free / usable", "disk free / total", "GPUs", "health", "local"):
        assert column in result.output


def test_json(home: Path) -> None:
    result = cli(home, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    (node,) = [n for n in report["nodes"] if n["kind"] == "local"]
    assert node["cpus_logical"] >= 1 and node["memory_total"] > 0 and node["disks"][0]["free"] > 0
    assert node["gpus"] == [] or node["gpus"][0]["name"]
    assert report["health"]["status"] in ("ok", "warn", "fail")


def test_health_exit_codes(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli(home, "health", "--json")
    checks = json.loads(result.output)["checks"]
    assert {"disk", "memory", "database", "home"} <= {c["name"] for c in checks}
    assert result.exit_code == (1 if any(c["status"] == "fail" for c in checks) else 0)

    monkeypatch.setattr(devices_pkg, "health", lambda nodes, meta: [Check("disk", "fail", "0.1 GB free", "n1")])
    failed = cli(home, "health")
    assert failed.exit_code == 1 and "0.1 GB free" in failed.output and "health: fail" in failed.output

    monkeypatch.setattr(devices_pkg, "health", lambda nodes, meta: [Check("load", "warn", "busy", "n1")])
    assert cli(home, "health").exit_code == 0


def test_operators_only(home: Path, meta) -> None:
    from mofang.security.identity import create_api_key, create_tenant

    create_tenant(meta, "acme")
    _, operator = create_api_key(meta, tenant=None, user="ops", role="operator")
    _, owner = create_api_key(meta, tenant="acme", user="li", role="owner")
    refused = cli(home, key=owner)
    assert refused.exit_code == 2 and "may not devices.read" in refused.output
    assert cli(home, "health", key=owner).exit_code == 2
    assert cli(home, "--json", key=operator).exit_code == 0
