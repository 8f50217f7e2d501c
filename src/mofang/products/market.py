"""The marketplace: a tenant publishes a product version for other tenants to serve — the model, never the data.

What travels (`SHARED_FILES`): the model, its input schema, its model card and metadata stripped of everything
that describes the training data (tenant, order, job, dataset digest, row counts, dropped columns, the
selection reasons). What stays home: the evaluation report (it shows test rows and data plots), the drift
reference (quantiles of the training data) and the data card (never in a bundle). The copy is stored in the
folder of the publisher's order that made the product, encrypted with that order's key, so destroying the order
(or the publisher) removes it and shreds the key that opened it; the factory decrypts it in memory for a tenant
serving the listing — the key never leaves the factory.

The catalog is the one deliberate cross-tenant read: `catalog()` reads listings unscoped and returns their
public fields only; publishing and unpublishing go through the publisher's tenant scope.

Using a listing: a tenant serves it as it is (`mofang serve market:NAME@V`), or names it as an order's base
(`base_model: market:NAME@V`), where it competes with the families trained on the tenant's data
(`mofang.products.market_base`).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mofang.core.config import settings
from mofang.core.errors import MofangError, NotFoundError
from mofang.integration.bundle import load_bundle
from mofang.products.registry import Ref, parse_ref, resolve
from mofang.products.tables import MarketListing
from mofang.security.audit import AuditLog
from mofang.security.vault import open_vault
from mofang.store import ArtifactStore, MetaStore
from mofang.store.models import utcnow

PREFIX = "market:"
SHARED_FILES = ("model.joblib", "schema.json", "model_card.md")
PRIVATE_METADATA = ("tenant", "order_id", "job_id", "dataset_digest", "rows", "dropped", "reason")


class MarketError(MofangError):
    """A listing that cannot be published or used."""


def is_market_ref(text: str) -> bool:
    return text.startswith(PREFIX)


def publish(meta: MetaStore, tenant: str, ref: Ref | str, *, actor: str) -> MarketListing:
    """Publish a delivered version of the tenant's product; returns the listing."""

    ref = parse_ref(ref) if isinstance(ref, str) else ref
    version = resolve(meta, ref, tenant)
    name = version.product.name
    with meta.session() as s:
        live = s.scalar(select(MarketListing).where(MarketListing.tenant_id == tenant, MarketListing.name == name,
                                                    MarketListing.version == version.version,
                                                    MarketListing.unpublished_at.is_(None)))
        if live is not None:
            raise MarketError(f"{name}@{version.version} is already published")
        other = s.scalar(select(MarketListing.id).where(MarketListing.name == name,
                                                        MarketListing.tenant_id != tenant))
    if other is not None:
        raise MarketError(f"the catalog already has a product named '{name}' from another tenant; "
                          "publish under a product of another name")
    home = settings().home
    vault = open_vault(meta, home)
    source = Path(version.bundle_path)
    staging = Path(tempfile.mkdtemp(prefix=".market-"))
    try:
        for file in SHARED_FILES:
            (staging / file).write_bytes(vault.read_any(tenant, source / file))
        metadata = json.loads(vault.read_any(tenant, source / "metadata.json"))
        (staging / "metadata.json").write_text(json.dumps(shared_metadata(metadata, name, version.version),
                                                          ensure_ascii=False, indent=1), "utf-8")
        order = meta.job(version.job_id).order.order_id  # the copy is the order's: its key, its destruction
        digest, stored = ArtifactStore(home).put_dir(tenant, "market", staging, vault, order=order)
        card = (staging / "model_card.md").read_text("utf-8")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    listing = MarketListing(tenant_id=tenant, name=name, version=version.version, task=version.product.task,
                            family=version.model_family, metrics=version.metrics, card=card, path=str(stored),
                            digest=digest, published_by=actor)
    with meta.session() as s:
        s.add(listing)
    AuditLog(meta).record("market.published", actor=actor, tenant=tenant, object=f"{name}@{version.version}",
                          details={"digest": digest, "files": list(SHARED_FILES) + ["metadata.json"]})
    return listing


def shared_metadata(metadata: dict[str, Any], name: str, version: int) -> dict[str, Any]:
    """A bundle's metadata without what describes the publisher's data."""
    shared = {k: v for k, v in metadata.items() if k not in PRIVATE_METADATA}
    shared["order_id"] = f"{PREFIX}{name}@{version}"
    shared["market"] = {"name": name, "version": version}
    return shared


def unpublish(meta: MetaStore, tenant: str, ref: str, *, actor: str) -> int:
    """Withdraw the tenant's listings of NAME (every version) or NAME@V; returns how many were withdrawn."""

    parsed = parse_ref(ref)
    with meta.session() as s:
        query = select(MarketListing).where(MarketListing.tenant_id == tenant, MarketListing.name == parsed.name,
                                            MarketListing.unpublished_at.is_(None))
        if parsed.version is not None:
            query = query.where(MarketListing.version == parsed.version)
        listings = list(s.scalars(query))
        for listing in listings:
            listing.unpublished_at = utcnow()
    if not listings:
        raise NotFoundError(f"no published listing '{ref}' of tenant '{tenant}'")
    AuditLog(meta).record("market.unpublished", actor=actor, tenant=tenant, object=ref,
                          details={"versions": [listing.version for listing in listings]})
    return len(listings)


def catalog(meta: MetaStore) -> list[dict[str, Any]]:
    """Every live listing, with its public fields (publisher, card, evaluation) — read across tenants."""
    with meta.session() as s:
        listings = list(s.scalars(select(MarketListing).where(MarketListing.unpublished_at.is_(None))
                                  .order_by(MarketListing.name, MarketListing.version)))
    return [{"ref": f"{PREFIX}{x.name}@{x.version}", "name": x.name, "version": x.version, "publisher": x.tenant_id,
             "task": x.task, "family": x.family, "metrics": x.metrics, "card": x.card,
             "published_at": x.published_at.isoformat()} for x in listings]


def open_listing(meta: MetaStore, ref: str, consumer: str | None) -> tuple[Any, MarketListing]:
    """The bundle of a live listing `market:NAME[@V]` (its latest live version when V is absent), decrypted in
    memory for `consumer` (who owns the served endpoint, its feedback and audit)."""
    parsed = parse_ref(ref.removeprefix(PREFIX))
    if parsed.alias is not None:
        raise MarketError(f"a market listing is named NAME or NAME@VERSION, not by alias: '{ref}'")
    with meta.session() as s:
        query = select(MarketListing).where(MarketListing.name == parsed.name, MarketListing.unpublished_at.is_(None))
        if parsed.version is not None:
            query = query.where(MarketListing.version == parsed.version)
        listing = s.scalars(query.order_by(MarketListing.version.desc())).first()
    if listing is None:
        raise NotFoundError(f"no published listing '{ref}' (see `mofang market list`)")
    vault = open_vault(meta, settings().home)
    bundle = load_bundle(listing.path, lambda p: vault.read_any(listing.tenant_id, p))
    bundle.metadata["tenant"] = consumer
    return bundle, listing
