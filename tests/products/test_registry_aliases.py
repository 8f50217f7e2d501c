"""The registry: NAME@V and NAME@alias references, promote, rollback and the lineage of each version."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mofang.cli import app
from mofang.core.errors import NotFoundError
from mofang.products import registry
from mofang.products.registry import CHALLENGER, CHAMPION, Ref, RegistryError, parse_ref, resolve
from mofang.products.tables import ImprovementRun
from mofang.security.audit import AuditLog


def deliver(meta, n: int, *, improvement_of: int | None = None) -> int:
    """Register delivery number n of product p1 (tenant acme) the way the delivery station does."""
    job = meta.register_job("acme", "p1", "tabular-regression", {"id": "p1", "n": n}, None)
    if improvement_of is not None:
        with meta.session() as s:
            s.add(ImprovementRun(tenant_id="acme", product="p1", champion_version=improvement_of, job_id=job,
                                 feedback_rows=3))
    version = meta.add_product_version("acme", "p1", "tabular-regression", job, f"/b{n}", f"d{n}", "linear",
                                       {"rmse": float(n)})
    registry.on_delivered(meta, tenant="acme", product="p1", version=version, job_id=job,
                          spec={"id": "p1", "n": n}, dataset_digest=f"data{n}")
    return version


@pytest.mark.parametrize("text, expected", [("p1", Ref("p1")), ("p1@3", Ref("p1", version=3)),
                                             ("p1@champion", Ref("p1", alias="champion")),
                                             ("p1@canary-eu", Ref("p1", alias="canary-eu"))])
def test_references_parse(text: str, expected: Ref) -> None:
    assert parse_ref(text) == expected and str(parse_ref(text)) == text


@pytest.mark.parametrize("text", ["@1", "p1@0", "p1@-2", "p1@3x!", "p1@"])
def test_bad_references_say_what_is_wrong(text: str) -> None:
    with pytest.raises(RegistryError, match="names no product|neither a version"):
        parse_ref(text)


def test_aliases_promote_and_rollback(meta) -> None:
    assert deliver(meta, 1) == 1 and deliver(meta, 2) == 2
    assert registry.aliases(meta, "acme", "p1") == {CHAMPION: 2}  # a plain delivery replaces the champion
    assert deliver(meta, 3, improvement_of=2) == 3  # an improvement's result only challenges it
    assert registry.aliases(meta, "acme", "p1") == {CHAMPION: 2, CHALLENGER: 3}
    assert resolve(meta, "p1").version == 2 and resolve(meta, "p1@challenger").version == 3
    assert resolve(meta, "p1@1").version == 1
    with pytest.raises(NotFoundError, match="no alias 'canary'.*champion"):
        resolve(meta, "p1@canary")

    registry.promote(meta, "acme", "p1", 3, CHAMPION, actor="alice")
    registry.promote(meta, "acme", "p1", 1, "canary", actor="alice")
    assert resolve(meta, "p1@canary").version == 1 and resolve(meta, "p1").version == 3
    with pytest.raises(NotFoundError, match="no version 9"):
        registry.promote(meta, "acme", "p1", 9, CHAMPION, actor="alice")

    assert registry.rollback(meta, "acme", "p1", actor="bob") == (3, 2)
    assert registry.rollback(meta, "acme", "p1", actor="bob") == (2, 1)  # not back to 3: rolled back from
    with pytest.raises(RegistryError, match="no earlier champion"):
        registry.rollback(meta, "acme", "p1", actor="bob")
    history = registry.alias_history(meta, "acme", "p1")
    assert [h["version"] for h in history] == [1, 2, 3, 2, 1] and history[-1]["reason"] == "rollback from v2"
    moves = [e for e in AuditLog(meta).events(action="product.alias") if e["actor"] == "bob"]
    assert [e["details"]["version"] for e in moves] == [2, 1]


def test_lineage_names_order_job_data_and_code(meta) -> None:
    deliver(meta, 1)
    deliver(meta, 2, improvement_of=1)
    first, second = registry.lineage(meta, "acme", "p1", 1), registry.lineage(meta, "acme", "p1", 2)
    assert first["order"] == "p1" and first["dataset_digest"] == "data1" and first["improved_from"] is None
    assert second["improved_from"] == 1 and second["order_digest"] != first["order_digest"]
    assert first["code_version"] == registry.__version__
    assert first["git_commit"] is None or len(first["git_commit"]) == 40
    assert registry.lineage(meta, "acme", "p1", 7) is None


def test_cli_promote_rollback_and_alias_references(meta) -> None:
    deliver(meta, 1)
    deliver(meta, 2)

    def cli(*args: str):
        return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})

    promoted = cli("products", "promote", "p1@1", "--alias", "champion")
    assert promoted.exit_code == 0 and "p1@champion → v1" in promoted.output, promoted.output
    shown = cli("products", "show", "p1@champion")
    assert shown.exit_code == 0 and "p1@1" in shown.output and "data1" in shown.output, shown.output
    back = cli("products", "rollback", "p1")
    assert back.exit_code == 0 and "v1 → v2" in back.output, back.output
    assert "p1@2" in cli("products", "show", "p1").output  # NAME alone: the champion
    bad = cli("products", "show", "p1@nope")
    assert bad.exit_code == 2 and "no alias 'nope'" in bad.output
