"""The CLI says who it acts as (`mofang whoami`), switches keys (`mofang keys use`), and when its key lacks the
role a command needs, says which role and how to switch keys instead of just refusing."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from mofang.cli import app
from tests.products.test_registry_aliases import deliver

SWITCH = "`export MOFANG_API_KEY=mf_...` (this shell only) or `mofang keys use mf_...`"


def cli(home: Path, *args: str, key: str = ""):
    return CliRunner().invoke(app, list(args), env={"MOFANG_HOME": str(home), "MOFANG_API_KEY": key,
                                                   "COLUMNS": "300"})


def new_key(home: Path, *args: str, key: str = "") -> tuple[str, str]:
    result = cli(home, "keys", "create", *args, key=key)
    assert result.exit_code == 0, result.output
    secret = re.search(r"(mf_[0-9a-f]{12}_\S+)", result.output).group(1)
    return secret, secret.split("_")[1]


def whoami(home: Path, key: str = "") -> dict:
    result = cli(home, "whoami", "--json", key=key)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_saved_operator_key_is_told_which_role_a_product_read_needs_and_how_to_switch(home: Path, meta) -> None:
    fresh = whoami(home)
    assert fresh["bootstrap"] is True and fresh["key"] is None and fresh["source"].startswith("no key")
    assert cli(home, "tenants", "create", "acme").exit_code == 0
    operator, operator_id = new_key(home, "--user", "ops", "--role", "operator", "--save")
    deliver(meta, 1)  # product p1 of tenant acme
    identity_file = home / "identity"

    refused = cli(home, "products", "show", "p1")
    assert refused.exit_code == 2
    said = " ".join(refused.output.split())
    assert "ops (operator) may not product.read" in said
    assert "needs a key with role owner, member or viewer of the tenant that owns it" in said
    assert f"ops's operator key mf_{operator_id} from {identity_file}" in said and SWITCH in said

    me = whoami(home)
    assert me == {"user": "ops", "tenant": None, "role": "operator", "key": f"mf_{operator_id}",
                  "expires": "never (until revoked)", "source": str(identity_file), "bootstrap": False}
    plain = cli(home, "whoami")
    assert plain.exit_code == 0 and "role     operator" in plain.output and "keys use" in plain.output

    owner, owner_id = new_key(home, "--user", "ann", "--role", "owner", "--tenant", "acme", "--expires", "30d")
    used = cli(home, "keys", "use", owner)
    assert used.exit_code == 0 and f"acts as ann (owner, tenant acme), key mf_{owner_id}" in used.output
    me = whoami(home)
    assert me["user"] == "ann" and me["tenant"] == "acme" and me["role"] == "owner"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", me["expires"]) and me["source"] == str(identity_file)
    shown = cli(home, "products", "show", "p1")
    assert "may not" not in shown.output, shown.output

    assert whoami(home, key=operator)["source"] == "$MOFANG_API_KEY"  # the variable wins over the saved key
    warned = cli(home, "keys", "use", owner, key=operator)
    assert warned.exit_code == 0 and "$MOFANG_API_KEY is set in this shell" in warned.output


def test_an_operator_command_refused_to_a_tenant_key_names_the_operator_role(home: Path, meta) -> None:
    assert cli(home, "tenants", "create", "acme").exit_code == 0
    new_key(home, "--user", "ops", "--role", "operator", "--save")
    viewer, viewer_id = new_key(home, "--user", "val", "--role", "viewer", "--tenant", "acme")
    for command in (["tenants", "create", "beta"], ["devices"], ["audit", "list"]):
        refused = cli(home, *command, key=viewer)
        said = " ".join(refused.output.split())
        assert refused.exit_code == 2 and "may not" in said, (command, said)
        assert f"val's viewer key mf_{viewer_id} from $MOFANG_API_KEY" in said and SWITCH in said, said
    said = " ".join(cli(home, "tenants", "create", "beta", key=viewer).output.split())
    assert "needs a key with role operator;" in said
    said = " ".join(cli(home, "audit", "list", key=viewer).output.split())
    assert "needs a key with role owner of the tenant that owns it or operator;" in said


def test_whoami_without_a_working_key_says_what_to_do(home: Path, meta) -> None:
    assert cli(home, "tenants", "create", "acme").exit_code == 0
    new_key(home, "--user", "ops", "--role", "operator")  # keys exist now, none saved or set
    result = cli(home, "whoami")
    assert result.exit_code == 2 and "set MOFANG_API_KEY" in " ".join(result.output.split())
    assert cli(home, "keys", "use", "mf_000000000000_nope").exit_code == 2
