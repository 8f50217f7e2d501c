"""The CLI as an attacker sees it: tenant B's key against every command that names tenant A's objects,
roles below the action, and certified destruction with a verifiable certificate and audit chain."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mofang.cli import app
from mofang.demo import write_demo
from mofang.security.keys import KeyRing, SecurityError, load_master_key
from mofang.security.scratch import plaintext_files
from mofang.security.vault import Vault
from mofang.store import MetaStore

ORDER, TENANT = "loan-default-demo", "demo-bank"


class Factory:
    """One MOFANG_HOME with tenants demo-bank (an order run end to end) and beta, and keys for each role."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.keys: dict[str, str] = {}
        self.cli("tenants", "create", TENANT)  # bootstrap: no key exists yet
        self.keys["operator"] = self.key("--user", "ops", "--role", "operator")
        self.cli("tenants", "create", "beta", as_="operator")
        for name, tenant, role in (("owner_a", TENANT, "owner"), ("viewer_a", TENANT, "viewer"),
                                   ("owner_b", "beta", "owner")):
            self.keys[name] = self.key("--user", name, "--role", role, "--tenant", tenant, as_="operator")
        order = write_demo(root / "demo", rows=800, minutes=0.25)
        result = self.cli("run", str(order), as_="owner_a")
        assert result.exit_code == 0, result.output
        self.job = int(re.search(r"→ job (\d+)", result.output).group(1))

    def cli(self, *args: str, as_: str | None = None):
        env = {"MOFANG_HOME": str(self.home), "MOFANG_API_KEY": self.keys[as_] if as_ else "", "COLUMNS": "200"}
        return CliRunner().invoke(app, list(args), env=env)

    def key(self, *args: str, as_: str | None = None) -> str:
        result = self.cli("keys", "create", *args, as_=as_)
        assert result.exit_code == 0, result.output
        return re.search(r"(mf_[0-9a-f]{12}_\S+)", result.output).group(1)

    def key_id(self, name: str) -> str:
        return self.keys[name].split("_")[1]


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> Factory:
    return Factory(tmp_path_factory.mktemp("factory"))


# Every command that takes an object id, aimed at tenant A's objects by tenant B's owner.
ATTACKS = {
    "orders show": lambda f: ["orders", "show", ORDER],
    "orders show --tenant": lambda f: ["orders", "show", ORDER, "--tenant", TENANT],
    "orders list --tenant": lambda f: ["orders", "list", "--tenant", TENANT],
    "orders report": lambda f: ["orders", "report", ORDER, "--out", str(f.home.parent / "stolen.html")],
    "orders report --tenant": lambda f: ["orders", "report", ORDER, "--tenant", TENANT, "--out",
                                         str(f.home.parent / "stolen.html")],
    "resume": lambda f: ["resume", str(f.job)],
    "products show": lambda f: ["products", "show", ORDER],
    "products show --tenant": lambda f: ["products", "show", f"{ORDER}@1", "--tenant", TENANT],
    "products list --tenant": lambda f: ["products", "list", "--tenant", TENANT],
    "products report": lambda f: ["products", "report", ORDER, "--out", str(f.home.parent / "stolen.html")],
    "products report --tenant": lambda f: ["products", "report", ORDER, "--tenant", TENANT, "--card", "--out",
                                           str(f.home.parent / "stolen.md")],
    "serve": lambda f: ["serve", ORDER, "--tenant", TENANT, "--port", "1"],
    "products export": lambda f: ["products", "export", ORDER, "--edge", "--out", str(f.home.parent / "stolen.tar.gz")],
    "products export --tenant": lambda f: ["products", "export", f"{ORDER}@1", "--tenant", TENANT, "--mlflow",
                                           "--out", str(f.home.parent / "stolen.mlflow")],
    "destroy": lambda f: ["destroy", ORDER, "--tenant", TENANT],
    "destroy --whole-tenant": lambda f: ["destroy", "--whole-tenant", "--tenant", TENANT],
    "keys revoke": lambda f: ["keys", "revoke", f.key_id("owner_a")],
    "keys create --tenant": lambda f: ["keys", "create", "--user", "x", "--role", "owner", "--tenant", TENANT],
    "keys list --tenant": lambda f: ["keys", "list", "--tenant", TENANT],
    "audit list --tenant": lambda f: ["audit", "list", "--tenant", TENANT],
    "jobs list --tenant": lambda f: ["jobs", "list", "--tenant", TENANT],
    "jobs cancel": lambda f: ["jobs", "cancel", str(f.job)],
    "jobs retry": lambda f: ["jobs", "retry", str(f.job)],
    "jobs quota": lambda f: ["jobs", "quota", TENANT, "--max-running", "0"],
    "portal": lambda f: ["portal", "--port", "1", "--workers", "0"],  # the whole factory's API: operators only
    "products promote": lambda f: ["products", "promote", f"{ORDER}@1", "--alias", "champion"],
    "products promote --tenant": lambda f: ["products", "promote", f"{ORDER}@champion", "--tenant", TENANT],
    "products rollback": lambda f: ["products", "rollback", ORDER, "--tenant", TENANT],
    "improve": lambda f: ["improve", ORDER, "--tenant", TENANT],
    "reproduce": lambda f: ["reproduce", ORDER, "--tenant", TENANT],
    "reproduce (own tenant implied)": lambda f: ["reproduce", f"{ORDER}@1"],
    "market publish": lambda f: ["market", "publish", ORDER, "--tenant", TENANT],
    "market unpublish": lambda f: ["market", "unpublish", ORDER, "--tenant", TENANT],
}
# Commands without an object id of a tenant (or operator-only, refused by role for every tenant key).
NO_TENANT_OBJECT = {"run", "demo", "data inspect", "data run", "data ops", "orders list", "products list",
                    "label export", "label import",  # over files the caller names, no stored object
                    "bundle verify",  # an archive file the caller names, checked against the factory's public key
                    "devices", "devices health",  # factory-wide hardware (operators only), no tenant object
                    "tenants create", "keys rotate-master", "audit verify", "audit checkpoint", "audit list",
                    "submit", "worker", "jobs list",  # submit: the tenant named in the order file, like run
                    "market list",  # the public catalog: published models only, never a tenant's data
                    "db current", "db upgrade",  # the store's schema revision (upgrade: operators only), no tenant data
                    "whoami", "keys use"}  # the caller's own identity, and a key the caller holds (checked first)


@pytest.mark.slow
def test_keys_list_shows_an_owner_its_own_tenants_keys_only(factory: Factory) -> None:
    mine = factory.cli("keys", "list", as_="owner_b")
    assert mine.exit_code == 0, mine.output
    assert factory.key_id("owner_b") in mine.output
    assert all(factory.key_id(name) not in mine.output for name in ("owner_a", "viewer_a", "operator"))
    everyone = factory.cli("keys", "list", as_="operator")
    assert all(factory.key_id(name) in everyone.output for name in factory.keys)
    assert factory.cli("keys", "list", as_="viewer_a").exit_code == 2  # listing keys is an owner's


def _command_paths(command: object, prefix: str = "") -> set[str]:
    if hasattr(command, "commands"):  # a group (click's or typer's own)
        return {p for name, sub in command.commands.items() for p in _command_paths(sub, f"{prefix}{name} ")}
    return {prefix.strip()}


def test_the_attack_table_covers_every_command() -> None:
    commands = _command_paths(typer.main.get_command(app))
    covered = {name.split(" --")[0] for name in ATTACKS} | NO_TENANT_OBJECT
    assert commands <= covered, f"commands not in the isolation table: {sorted(commands - covered)}"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_tenant_b_cannot_reach_tenant_a(factory: Factory, name: str) -> None:
    result = factory.cli(*ATTACKS[name](factory), as_="owner_b")
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert re.search(r"error: (no |.*may not)", text), text
    assert "roc_auc" not in text and "tenants/demo-bank" not in text  # nothing of A's records leaks
    assert factory.cli("orders", "show", ORDER, as_="owner_a").exit_code == 0  # A's data is untouched
    assert not list(factory.home.parent.glob("stolen.*"))


@pytest.mark.slow
def test_listings_show_only_the_callers_tenant(factory: Factory) -> None:
    for command in (["orders", "list"], ["products", "list"], ["audit", "list"]):
        b = factory.cli(*command, as_="owner_b")
        assert b.exit_code == 0 and ORDER not in b.output and TENANT not in b.output, b.output
    a = factory.cli("products", "list", as_="owner_a")
    assert ORDER in a.output


@pytest.mark.slow
@pytest.mark.parametrize("command, message", [
    (["destroy", ORDER, "--tenant", TENANT], "may not order.destroy"),
    (["keys", "create", "--user", "x", "--role", "viewer", "--tenant", TENANT], "may not keys.create"),
    (["tenants", "create", "gamma"], "may not tenant.create"),
    (["audit", "verify"], "may not audit.verify"),
])
def test_a_viewer_is_refused_by_role(factory: Factory, command: list[str], message: str) -> None:
    result = factory.cli(*command, as_="viewer_a")
    assert result.exit_code == 2 and message in " ".join(result.output.split())


@pytest.mark.slow
def test_a_wrong_key_is_refused_without_echoing_it(factory: Factory) -> None:
    forged = factory.keys["owner_a"][:-4] + "AAAA"
    result = CliRunner().invoke(app, ["orders", "list"], env={"MOFANG_HOME": str(factory.home),
                                                               "MOFANG_API_KEY": forged})
    assert result.exit_code == 2 and forged not in result.output and forged[-12:] not in result.output


@pytest.mark.slow
def test_logins_failed_logins_and_refusals_are_audited(factory: Factory) -> None:
    forged = factory.keys["viewer_a"][:-4] + "AAAA"
    CliRunner().invoke(app, ["orders", "list"], env={"MOFANG_HOME": str(factory.home), "MOFANG_API_KEY": forged})
    assert factory.cli("tenants", "create", "delta", as_="viewer_a").exit_code == 2
    listing = " ".join(factory.cli("audit", "list", "--action", "login.failed", as_="operator").output.split())
    assert f"mf_{factory.key_id('viewer_a')}" in listing and forged[-12:] not in listing
    denied = " ".join(factory.cli("audit", "list", "--action", "access.denied", as_="operator").output.split())
    assert "tenant.create" in denied and "viewer_a" in denied
    logins = " ".join(factory.cli("audit", "list", "--action", "login", as_="operator").output.split())
    assert "viewer_a" in logins and "owner_b" in logins
    own = " ".join(factory.cli("audit", "list", as_="owner_b").output.split())
    assert "viewer_a" not in own and TENANT not in own  # a tenant sees its own events only


@pytest.fixture()
def doomed(tmp_path: Path) -> Factory:
    """A factory of its own: destroying the order and the tenant must not take the shared one from the tests
    that run after this one (in random order, any of them may)."""
    return Factory(tmp_path)


@pytest.mark.slow
def test_certified_destruction_of_an_order_then_the_tenant(doomed: Factory) -> None:
    factory = doomed
    tenant_dir = factory.home / "tenants" / TENANT
    job_dir = tenant_dir / "jobs" / str(factory.job)
    bundle = next((tenant_dir / "artifacts" / "bundle").rglob("model.joblib")).parent
    assert job_dir.exists() and bundle.exists()
    assert plaintext_files(job_dir) == []  # the job's scratch was sealed when it ended
    backup = factory.home.parent / "backup"  # a copy taken before destruction (a backup, a stolen disk)
    shutil.copytree(job_dir, backup / "tenants" / TENANT / "jobs" / str(factory.job))
    report = factory.home.parent / "before.html"
    shown = factory.cli("orders", "report", ORDER, "--out", str(report), as_="owner_a")
    assert shown.exit_code == 0, shown.output
    assert "ACCEPTED" in report.read_text("utf-8")

    result = factory.cli("destroy", ORDER, "--tenant", TENANT, as_="owner_a")
    assert result.exit_code == 0, result.output
    assert not job_dir.exists() and not bundle.exists()
    meta = MetaStore(f"sqlite:///{factory.home / 'mofang.db'}")
    keyring = KeyRing(meta, load_master_key(factory.home))
    assert keyring.order_key_state(TENANT, ORDER) == "shredded"  # its key is gone ...
    copied = next((backup / "tenants" / TENANT / "jobs").rglob("raw.parquet"))
    with pytest.raises(SecurityError, match="destroyed"):  # ... so the copy no longer opens
        Vault(keyring, backup).read(TENANT, copied, order=ORDER)
    meta.dispose()
    assert not list((tenant_dir / "artifacts").rglob("*.parquet"))  # the dataset version went too
    certificate = Path(re.search(r"certificate (\S+\.json)", " ".join(result.output.split())).group(1))
    doc = json.loads(certificate.read_text(encoding="utf-8"))
    assert doc["certificate"]["file_count"] > 5 and doc["certificate"]["order"] == ORDER
    assert doc["certificate"]["keys_shredded"][0]["key_id"] == f"order:{TENANT}/{ORDER}"
    assert factory.cli("destroy", "--verify", str(certificate), as_="operator").exit_code == 0
    tampered = certificate.with_name("tampered.json")
    doc["certificate"]["file_count"] -= 1
    tampered.write_text(json.dumps(doc), encoding="utf-8")
    refused = factory.cli("destroy", "--verify", str(tampered), as_="operator")
    assert refused.exit_code == 1 and "signature" in refused.output
    assert factory.cli("products", "show", ORDER, as_="owner_a").exit_code == 2  # no longer delivered

    result = factory.cli("destroy", "--whole-tenant", "--tenant", TENANT, as_="operator")
    assert result.exit_code == 0, result.output
    assert not tenant_dir.exists()
    certificate = Path(re.search(r"certificate (\S+\.json)", " ".join(result.output.split())).group(1))
    assert json.loads(certificate.read_text(encoding="utf-8"))["certificate"]["keys_shredded"]
    assert factory.cli("destroy", "--verify", str(certificate), as_="operator").exit_code == 0
    assert factory.cli("orders", "list", as_="owner_a").exit_code == 2  # the tenant's keys were revoked
    verified = factory.cli("audit", "verify", as_="operator")
    assert verified.exit_code == 0 and "intact" in verified.output
    listing = factory.cli("audit", "list", as_="operator").output
    for action in ("order.submitted", "data.read", "model.delivered", "order.destroyed", "tenant.destroyed"):
        assert action in listing, listing


@pytest.mark.slow
def test_reproduce_on_a_product_not_built_reproducibly_says_so(factory: Factory) -> None:
    result = factory.cli("reproduce", f"{ORDER}@1", as_="owner_a")
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "was not built reproducibly" in text and "--reproducible" in text and "Traceback" not in text
