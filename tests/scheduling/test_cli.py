"""`mofang submit`, `mofang jobs ...` and `mofang worker` as people use them, and as another tenant tries them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mofang.cli import app as main_app
from mofang.cli.scheduling import standalone
from mofang.demo import write_demo

APP = standalone()


class Install:
    """A MOFANG_HOME with tenants demo-bank and beta, an operator and keys of each role."""

    def __init__(self, root: Path) -> None:
        self.home, self.keys = root / "home", {}
        self.main("tenants", "create", "demo-bank")
        self.keys["operator"] = self.key("--user", "ops", "--role", "operator")
        self.main("tenants", "create", "beta", as_="operator")
        for name, tenant, role in (("owner_a", "demo-bank", "owner"), ("viewer_a", "demo-bank", "viewer"),
                                   ("owner_b", "beta", "owner")):
            self.keys[name] = self.key("--user", name, "--role", role, "--tenant", tenant, as_="operator")

    def env(self, as_: str | None) -> dict[str, str]:
        return {"MOFANG_HOME": str(self.home), "MOFANG_API_KEY": self.keys[as_] if as_ else "", "COLUMNS": "200"}

    def main(self, *args: str, as_: str | None = None):
        return CliRunner().invoke(main_app, list(args), env=self.env(as_))

    def cli(self, *args: str, as_: str | None = None):
        return CliRunner().invoke(APP, list(args), env=self.env(as_))

    def key(self, *args: str, as_: str | None = None) -> str:
        result = self.main("keys", "create", *args, as_=as_)
        assert result.exit_code == 0, result.output
        return re.search(r"(mf_[0-9a-f]{12}_\S+)", result.output).group(1)


@pytest.fixture()
def install(tmp_path: Path) -> Install:
    return Install(tmp_path)


def flat(result) -> str:
    """The output on one line, table borders removed."""
    return " ".join(re.sub(r"[│┃]", " ", result.output).split())


def test_submit_list_cancel_retry_and_quota(install: Install, tmp_path: Path) -> None:
    order = write_demo(tmp_path / "demo", rows=300, minutes=0.1)
    submitted = install.cli("submit", str(order), "--priority", "3", as_="owner_a")
    assert submitted.exit_code == 0, submitted.output
    job = re.search(r"→ job (\d+) queued", flat(submitted)).group(1)
    listed = install.cli("jobs", "list", as_="viewer_a")
    assert listed.exit_code == 0 and re.search(rf"{job} demo-bank loan-default-demo queued queued 3", flat(listed))
    assert "loan-default-demo" not in install.cli("jobs", "list", as_="owner_b").output  # beta sees nothing of A

    refused = install.cli("jobs", "cancel", job, as_="viewer_a")
    assert refused.exit_code == 2 and "may not job.resume" in flat(refused)
    hidden = install.cli("jobs", "cancel", job, as_="owner_b")
    assert hidden.exit_code == 2 and f"error: no job {job}" in flat(hidden)
    assert install.cli("jobs", "cancel", job, as_="owner_a").exit_code == 0
    again = install.cli("jobs", "cancel", job, as_="owner_a")
    assert again.exit_code == 2 and "already cancelled" in flat(again)
    assert install.cli("jobs", "retry", job, as_="owner_a").exit_code == 0
    assert re.search(rf"{job} demo-bank loan-default-demo queued interrupted",
                     flat(install.cli("jobs", "list", "--state", "queued", as_="owner_a")))

    quota = install.cli("jobs", "quota", "demo-bank", "--max-running", "1", "--cpu-minutes", "30", as_="operator")
    assert quota.exit_code == 0 and "jobs at once 1; CPU minutes per day 30" in flat(quota)
    for who in ("owner_a", "owner_b"):
        denied = install.cli("jobs", "quota", "demo-bank", "--max-running", "9", as_=who)
        assert denied.exit_code == 2 and "may not quota.set" in flat(denied)
    worker = install.cli("worker", "--once", as_="owner_a")
    assert worker.exit_code == 2 and "may not worker.run" in flat(worker)


def test_a_bad_order_is_refused_before_anything_is_queued(install: Install, tmp_path: Path) -> None:
    order = tmp_path / "order.yaml"
    order.write_text("id: x\ntenant: demo-bank\ntask: tabular-classification\ndata: [{path: missing.csv}]\n"
                     "traget: y\nacceptance: none\n", encoding="utf-8")
    result = install.cli("submit", str(order), as_="owner_a")
    assert result.exit_code == 2 and "did you mean 'target'" in flat(result)
    assert "demo-bank" not in install.cli("jobs", "list", as_="owner_a").output
