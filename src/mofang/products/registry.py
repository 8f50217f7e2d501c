"""The product registry: references (NAME, NAME@V, NAME@alias), aliases with promote and rollback, lineage."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mofang import __version__
from mofang.core.errors import MofangError, NotFoundError
from mofang.products.tables import AliasEvent, ImprovementRun, VersionLineage
from mofang.security.audit import AuditLog
from mofang.store import MetaStore
from mofang.store.models import ProductVersion

CHAMPION, CHALLENGER = "champion", "challenger"
ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
ROLLBACK = "rollback from v"


class RegistryError(MofangError):
    """A reference or alias that cannot be used (bad syntax, unknown alias, nothing to roll back to)."""


@dataclass(frozen=True)
class Ref:
    """A parsed product reference: NAME (champion, else latest), NAME@3 or NAME@alias."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        return self.name + (f"@{self.version}" if self.version else f"@{self.alias}" if self.alias else "")


def parse_ref(text: str) -> Ref:
    """NAME, NAME@VERSION or NAME@ALIAS; raises RegistryError naming what is wrong."""
    name, at, selector = text.strip().partition("@")
    if not name:
        raise RegistryError(f"'{text}' names no product; write NAME, NAME@VERSION or NAME@ALIAS")
    if not at:
        return Ref(name)
    if selector.isdigit() and int(selector) > 0:
        return Ref(name, version=int(selector))
    if ALIAS.match(selector):
        return Ref(name, alias=selector)
    raise RegistryError(f"'{selector}' in '{text}' is neither a version number nor an alias "
                        "(letters, digits, '-' and '_', starting with a letter)")


def resolve(meta: MetaStore, ref: Ref | str, tenant: str | None = None) -> ProductVersion:
    """The version a reference names. NAME alone is the champion when the product has one, else its latest
    version (products delivered before aliases existed)."""
    ref = parse_ref(ref) if isinstance(ref, str) else ref
    if ref.version is not None:
        return meta.product_version(ref.name, ref.version, tenant)
    latest = meta.product_version(ref.name, None, tenant)
    owner = latest.product.tenant_id
    number = aliases(meta, owner, ref.name).get(ref.alias or CHAMPION)
    if number is None:
        if ref.alias is None:
            return latest
        known = ", ".join(sorted(aliases(meta, owner, ref.name))) or "none"
        raise NotFoundError(f"product '{ref.name}' has no alias '{ref.alias}' (has: {known})")
    return meta.product_version(ref.name, number, owner)


def aliases(meta: MetaStore, tenant: str, product: str) -> dict[str, int]:
    """Each alias of a product and the version it names now."""
    current: dict[str, int | None] = {}
    with meta.session() as s:
        for event in s.scalars(select(AliasEvent).where(AliasEvent.tenant_id == tenant, AliasEvent.product == product)
                               .order_by(AliasEvent.id)):
            current[event.alias] = event.version
    return {alias: version for alias, version in current.items() if version is not None}


def alias_history(meta: MetaStore, tenant: str, product: str, alias: str = CHAMPION) -> list[dict[str, Any]]:
    """Every move of one alias, oldest first."""
    with meta.session() as s:
        events = s.scalars(select(AliasEvent).where(AliasEvent.tenant_id == tenant, AliasEvent.product == product,
                                                    AliasEvent.alias == alias).order_by(AliasEvent.id))
        return [{"version": e.version, "actor": e.actor, "reason": e.reason, "at": e.at.isoformat()} for e in events]


def promote(meta: MetaStore, tenant: str, product: str, version: int, alias: str = CHAMPION, *,
            actor: str, reason: str = "") -> None:
    """Point `alias` of a product at `version` (which must exist); recorded in the audit trail."""
    if not ALIAS.match(alias) or alias.isdigit():
        raise RegistryError(f"'{alias}' is not a valid alias (letters, digits, '-' and '_', starting with a letter)")
    meta.product_version(product, version, tenant)  # raises NotFoundError naming the known versions
    _move(meta, tenant, product, alias, version, actor, reason or f"promoted by {actor}")


def unset(meta: MetaStore, tenant: str, product: str, alias: str, *, actor: str, reason: str) -> None:
    """Remove an alias (e.g. the challenger once it was promoted)."""
    if alias in aliases(meta, tenant, product):
        _move(meta, tenant, product, alias, None, actor, reason)


def rollback(meta: MetaStore, tenant: str, product: str, *, actor: str) -> tuple[int, int]:
    """Move the champion back to the previous champion (skipping versions already rolled back from);
    returns (from version, to version)."""
    history = alias_history(meta, tenant, product)
    if not history or history[-1]["version"] is None:
        raise RegistryError(f"product '{product}' has no champion to roll back")
    current = history[-1]["version"]
    rolled_back = {int(h["reason"].removeprefix(ROLLBACK).split()[0]) for h in history
                   if h["reason"].startswith(ROLLBACK)}
    existing = {v.version for v in meta.product_version(product, None, tenant).product.versions}
    for event in reversed(history[:-1]):
        version = event["version"]
        if version is not None and version != current and version not in rolled_back and version in existing:
            _move(meta, tenant, product, CHAMPION, version, actor, f"{ROLLBACK}{current}")
            return current, version
    raise RegistryError(f"product '{product}' has no earlier champion than v{current} to roll back to")


def _move(meta: MetaStore, tenant: str, product: str, alias: str, version: int | None, actor: str,
          reason: str) -> None:

    with meta.session() as s:
        s.add(AliasEvent(tenant_id=tenant, product=product, alias=alias, version=version, actor=actor, reason=reason))
    AuditLog(meta).record("product.alias", actor=actor, tenant=tenant, object=f"{product}@{alias}",
                          details={"version": version, "reason": reason[:200]})


# -- lineage -----------------------------------------------------------------------------------------------
def on_delivered(meta: MetaStore, *, tenant: str, product: str, version: int, job_id: int,
                 spec: dict[str, Any], dataset_digest: str) -> str:
    """Record a delivered version's lineage and set its alias: an improvement job's result becomes the
    challenger (the improvement loop decides whether it is promoted); any other delivery the champion, as
    the customer's own new order replaces what was served. Returns the alias set. Idempotent on resume."""
    with meta.session() as s:
        improvement = s.scalar(select(ImprovementRun).where(ImprovementRun.tenant_id == tenant,
                                                            ImprovementRun.job_id == job_id))
        parent = improvement.champion_version if improvement is not None else None
        known = s.scalar(select(VersionLineage).where(VersionLineage.tenant_id == tenant,
                                                      VersionLineage.product == product,
                                                      VersionLineage.version == version))
        if known is None:
            s.add(VersionLineage(tenant_id=tenant, product=product, version=version, order_id=product, job_id=job_id,
                                 order_digest=spec_digest(spec), dataset_digest=dataset_digest,
                                 code_version=__version__, git_commit=git_commit(), parent_version=parent))
    alias = CHALLENGER if improvement is not None else CHAMPION
    if aliases(meta, tenant, product).get(alias) != version:
        reason = (f"challenger of v{parent} from improvement job {job_id}" if improvement is not None
                  else f"delivered by job {job_id}")
        _move(meta, tenant, product, alias, version, "line", reason)
    return alias


def lineage(meta: MetaStore, tenant: str, product: str, version: int) -> dict[str, Any] | None:
    """Where a version comes from (None for a version delivered before lineage was recorded)."""
    with meta.session() as s:
        row = s.scalar(select(VersionLineage).where(VersionLineage.tenant_id == tenant,
                                                    VersionLineage.product == product,
                                                    VersionLineage.version == version))
        if row is None:
            return None
        return {"order": row.order_id, "job": row.job_id, "order_digest": row.order_digest,
                "dataset_digest": row.dataset_digest, "code_version": row.code_version,
                "git_commit": row.git_commit, "improved_from": row.parent_version}


def spec_digest(spec: dict[str, Any]) -> str:
    """sha256 of an order spec's canonical JSON: two jobs of the same order text have the same digest."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the Mofang source tree when it runs from a git checkout (None otherwise)."""
    source = Path(__file__).resolve().parent
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, timeout=5,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None
