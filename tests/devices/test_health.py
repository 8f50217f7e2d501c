"""Health checks with thresholds forced to each side, the DB probe and MOFANG_HOME."""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from mofang.devices.health import Check, Thresholds, health, home_check, worst
from mofang.devices.inventory import Disk, GiB, Gpu, Node


def node(**fields: object) -> Node:
    base: dict[str, object] = dict(name="n1", kind="local", hostname="n1", cpus_logical=4, memory_total=16 * GiB,
                                   memory_available=8 * GiB, load_avg=(2.0, 1.0, 0.5),
                                   disks=[Disk("/srv/mofang", 100 * GiB, 50 * GiB)])
    return Node(**{**base, **fields})  # type: ignore[arg-type]


def statuses(checks: list[Check]) -> dict[str, str]:
    return {c.name: c.status for c in checks}


def test_healthy_node_and_factory(meta, home: Path) -> None:
    checks = health([node()], meta=meta)
    assert statuses(checks) == {"disk": "ok", "memory": "ok", "load": "ok", "database": "ok", "home": "ok"}
    assert worst(checks) == "ok" and all(c.node == "n1" for c in checks)
    assert "SELECT 1" in next(c.detail for c in checks if c.name == "database")


@pytest.mark.parametrize(("limits", "expected"), [
    (Thresholds(disk_free_warn_gb=60), {"disk": "warn"}),
    (Thresholds(disk_free_warn_gb=80, disk_free_fail_gb=60), {"disk": "fail"}),
    (Thresholds(memory_free_warn=0.6), {"memory": "warn"}),
    (Thresholds(memory_free_warn=0.9, memory_free_fail=0.6), {"memory": "fail"}),
    (Thresholds(load_per_cpu_warn=0.25), {"load": "warn"}),
    (Thresholds(load_per_cpu_warn=0.1, load_per_cpu_fail=0.25), {"load": "fail"}),
])
def test_thresholds(home: Path, limits: Thresholds, expected: dict[str, str]) -> None:
    checks = statuses(health([node()], thresholds=limits))
    assert {k: v for k, v in checks.items() if v != "ok"} == expected


def test_gpu_temperature_and_ecc() -> None:
    gpus = [Gpu(0, "H200", temperature_c=50, temperature_slowdown_c=90, ecc_uncorrected=0),
            Gpu(1, "H200", temperature_c=87, temperature_slowdown_c=90, ecc_uncorrected=2),
            Gpu(2, "L4", temperature_c=99)]  # no slowdown point, no ECC support: the defaults; no ECC check
    checks = statuses(health([node(gpus=gpus)], home=Path("/tmp")))
    assert {k: v for k, v in checks.items() if k.startswith("gpu")} == {
        "gpu0.temperature": "ok", "gpu0.ecc": "ok", "gpu1.temperature": "warn", "gpu1.ecc": "fail",
        "gpu2.temperature": "fail"}


def test_dead_ray_node_fails_and_a_live_one_passes() -> None:
    live = node(name="ray:1", kind="ray", load_avg=None, disks=[])
    dead = node(name="ray:2", kind="ray", alive=False)
    checks = health([live, dead], home=Path("/tmp"))
    assert [(c.node, c.name, c.status) for c in checks if c.name == "alive"] == [("ray:1", "alive", "ok"),
                                                                                 ("ray:2", "alive", "fail")]


def test_unreachable_database_fails() -> None:
    from sqlalchemy import create_engine

    broken = SimpleNamespace(engine=create_engine("sqlite:////nonexistent/dir/x.db"))  # what the check uses
    (check,) = [c for c in health([node()], meta=broken, home=Path("/tmp")) if c.name == "database"]  # type: ignore[arg-type]
    assert check.status == "fail" and "OperationalError" in check.detail


def test_home_not_writable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(**_: object) -> None:  # root writes through mode bits, so the refusal is simulated
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    check = home_check(tmp_path, "n1")
    assert check.status == "fail" and "Permission denied" in check.detail


def test_home_not_created_yet_and_home_on_a_file(tmp_path: Path) -> None:
    assert home_check(tmp_path / "new" / "home", "n1").status == "ok"
    (tmp_path / "file").write_text("x")
    assert home_check(tmp_path / "file" / "home", "n1").status == "fail"
