"""Baseline: the metadata store's schema as the release before migrations made it (commit b797c23).

Every table is created only when it is missing, so a database made by that release (no `alembic_version` table)
is adopted by this revision: the tables its units made are left as they are, any a unit never made are added.

Revision ID: 0001_baseline
Revises:
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision: str | None = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create each table of the baseline that the database lacks."""
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, create in TABLES:
        if name not in existing:
            create()


def downgrade() -> None:
    for name, _ in reversed(TABLES):
        op.drop_table(name)


def _audit_events() -> None:
    op.create_table("audit_events",
    sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("at", sa.String(length=40), nullable=False),
    sa.Column("actor", sa.String(length=128), nullable=False),
    sa.Column("tenant_id", sa.String(length=64), nullable=True),
    sa.Column("action", sa.String(length=64), nullable=False),
    sa.Column("object", sa.Text(), nullable=False),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.Column("prev_hash", sa.String(length=64), nullable=False),
    sa.Column("hash", sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint("seq")
    )
    op.create_index(op.f("ix_audit_events_tenant_id"), "audit_events", ["tenant_id"], unique=False)


def _tenants() -> None:
    op.create_table("tenants",
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id")
    )


def _api_keys() -> None:
    op.create_table("api_keys",
    sa.Column("key_id", sa.String(length=32), nullable=False),
    sa.Column("tenant_id", sa.String(length=64), nullable=True),
    sa.Column("user", sa.String(length=128), nullable=False),
    sa.Column("role", sa.String(length=16), nullable=False),
    sa.Column("salt", sa.LargeBinary(), nullable=False),
    sa.Column("key_hash", sa.LargeBinary(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    sa.PrimaryKeyConstraint("key_id")
    )


def _market_listings() -> None:
    op.create_table("market_listings",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("tenant_id", sa.String(length=64), nullable=False),
    sa.Column("name", sa.String(length=64), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("task", sa.String(length=48), nullable=False),
    sa.Column("family", sa.String(length=48), nullable=False),
    sa.Column("metrics", sa.JSON(), nullable=False),
    sa.Column("card", sa.Text(), nullable=False),
    sa.Column("path", sa.Text(), nullable=False),
    sa.Column("digest", sa.String(length=64), nullable=False),
    sa.Column("published_by", sa.String(length=128), nullable=False),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("unpublished_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_market_listings_name"), "market_listings", ["name"], unique=False)
    op.create_index(op.f("ix_market_listings_tenant_id"), "market_listings", ["tenant_id"], unique=False)


def _order_keys() -> None:
    op.create_table("order_keys",
    sa.Column("tenant_id", sa.String(length=64), nullable=False),
    sa.Column("order_id", sa.String(length=64), nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    sa.PrimaryKeyConstraint("tenant_id", "order_id")
    )


def _orders() -> None:
    op.create_table("orders",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("tenant_id", sa.String(length=64), nullable=False),
    sa.Column("order_id", sa.String(length=64), nullable=False),
    sa.Column("task", sa.String(length=48), nullable=False),
    sa.Column("spec", sa.JSON(), nullable=False),
    sa.Column("source_file", sa.Text(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("tenant_id", "order_id")
    )
    op.create_index(op.f("ix_orders_tenant_id"), "orders", ["tenant_id"], unique=False)


def _product_alias_events() -> None:
    op.create_table("product_alias_events",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("tenant_id", sa.String(length=64), nullable=False),
    sa.Column("product", sa.String(length=64), nullable=False),
    sa.Column("alias", sa.String(length=64), nullable=False),
    sa.Column("version", sa.Integer(), nullable=True),
    sa.Column("actor", sa.String(length=128), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_product_alias_events_product"), "product_alias_events", ["product"], unique=False)
    op.create_index(op.f("ix_product_alias_events_tenant_id"), "product_alias_events", ["tenant_id"], unique=False)


def _product_feedback() -> None:
    op.create_table("product_feedback",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("tenant_id", sa.String(length=64), nullable=False),
    sa.Column("product", sa.String(length=64), nullable=False),
    sa.Column("version", sa.Integer(), nullable=True),
    sa.Column("row", sa.JSON(), nullable=False),
    sa.Column("caller", sa.String(length=128), nullable=False),
    sa.Column("used_by_job", sa.Integer(), nullable=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_product_feedback_product"), "product_feedback", ["product"], unique=False)
    op.create_index(op.f("ix_product_feedback_tenant_id"), "product_feedback", ["tenant_id"], unique=False)


def _product_improvements() -> None:
    op.create_table("product_improvements",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("tenant_id", sa.String(length=64), nullable=False),
    sa.Column("product", sa.String(length=64), nullable=False),
    sa.Column("champion_version", sa.Integer(), nullable=False),
    sa.Column("job_id", sa.Integer(), nullable=False),
    sa.Column("feedback_rows", sa.Integer(), nullable=False),
    sa.Column("challenger_version", sa.Integer(), nullable=True),
    sa.Column("decision", sa.String(length=16), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("comparison", sa.JSON(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_product_improvements_job_id"), "product_improvements", ["job_id"], unique=False)
    op.create_index(op.f("ix_product_improvements_product"), "product_improvements", ["product"], unique=False)
    op.create_index(op.f("ix_product_improvements_tenant_id"), "product_improvements", ["tenant_id"], unique=False)


def _product_lineage() -> None:
    op.create_table("product_lineage",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("tenant_id", sa.String(length=64), nullable=False),
    sa.Column("product", sa.String(length=64), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("order_id", sa.String(length=64), nullable=False),
    sa.Column("job_id", sa.Integer(), nullable=False),
    sa.Column("order_digest", sa.String(length=64), nullable=False),
    sa.Column("dataset_digest", sa.String(length=64), nullable=False),
    sa.Column("code_version", sa.String(length=64), nullable=False),
    sa.Column("git_commit", sa.String(length=40), nullable=True),
    sa.Column("parent_version", sa.Integer(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_product_lineage_product"), "product_lineage", ["product"], unique=False)
    op.create_index(op.f("ix_product_lineage_tenant_id"), "product_lineage", ["tenant_id"], unique=False)


def _products() -> None:
    op.create_table("products",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("tenant_id", sa.String(length=64), nullable=False),
    sa.Column("name", sa.String(length=64), nullable=False),
    sa.Column("task", sa.String(length=48), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("tenant_id", "name")
    )
    op.create_index(op.f("ix_products_tenant_id"), "products", ["tenant_id"], unique=False)


def _scheduling_quotas() -> None:
    op.create_table("scheduling_quotas",
    sa.Column("tenant_id", sa.String(length=64), nullable=False),
    sa.Column("max_running", sa.Integer(), nullable=True),
    sa.Column("cpu_minutes_per_day", sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("tenant_id")
    )


def _tenant_keys() -> None:
    op.create_table("tenant_keys",
    sa.Column("tenant_id", sa.String(length=64), nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
    sa.Column("master_key_id", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    sa.PrimaryKeyConstraint("tenant_id")
    )


def _jobs() -> None:
    op.create_table("jobs",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("order_pk", sa.Integer(), nullable=False),
    sa.Column("tenant_id", sa.String(length=64), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("spec", sa.JSON(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("outcome", sa.JSON(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("elapsed_s", sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(["order_pk"], ["orders.id"]),
    sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_jobs_order_pk"), "jobs", ["order_pk"], unique=False)
    op.create_index(op.f("ix_jobs_status"), "jobs", ["status"], unique=False)
    op.create_index(op.f("ix_jobs_tenant_id"), "jobs", ["tenant_id"], unique=False)


def _artifacts() -> None:
    op.create_table("artifacts",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("tenant_id", sa.String(length=64), nullable=False),
    sa.Column("job_id", sa.Integer(), nullable=True),
    sa.Column("kind", sa.String(length=32), nullable=False),
    sa.Column("name", sa.String(length=128), nullable=False),
    sa.Column("digest", sa.String(length=64), nullable=False),
    sa.Column("path", sa.Text(), nullable=False),
    sa.Column("size_bytes", sa.Integer(), nullable=False),
    sa.Column("meta", sa.JSON(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["job_id"], ["jobs.id"]),
    sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_artifacts_digest"), "artifacts", ["digest"], unique=False)
    op.create_index(op.f("ix_artifacts_job_id"), "artifacts", ["job_id"], unique=False)
    op.create_index(op.f("ix_artifacts_tenant_id"), "artifacts", ["tenant_id"], unique=False)


def _job_queue() -> None:
    op.create_table("job_queue",
    sa.Column("job_id", sa.Integer(), nullable=False),
    sa.Column("tenant_id", sa.String(length=64), nullable=False),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("priority", sa.Integer(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("max_attempts", sa.Integer(), nullable=False),
    sa.Column("not_before", sa.Float(), nullable=False),
    sa.Column("needs", sa.JSON(), nullable=False),
    sa.Column("lease_owner", sa.String(length=128), nullable=True),
    sa.Column("lease_node", sa.String(length=128), nullable=True),
    sa.Column("lease_expires_at", sa.Float(), nullable=True),
    sa.Column("heartbeat_at", sa.Float(), nullable=True),
    sa.Column("claimed_at", sa.Float(), nullable=True),
    sa.Column("claim_seq", sa.Integer(), nullable=False),
    sa.Column("executor", sa.String(length=16), nullable=True),
    sa.Column("cancel_requested", sa.Boolean(), nullable=False),
    sa.Column("cpu_s", sa.Float(), nullable=False),
    sa.Column("run_s", sa.Float(), nullable=False),
    sa.Column("error_kind", sa.String(length=16), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("sweep_due", sa.Boolean(), nullable=False),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("job_id")
    )
    op.create_index(op.f("ix_job_queue_claim_seq"), "job_queue", ["claim_seq"], unique=False)
    op.create_index(op.f("ix_job_queue_state"), "job_queue", ["state"], unique=False)
    op.create_index(op.f("ix_job_queue_tenant_id"), "job_queue", ["tenant_id"], unique=False)


def _product_versions() -> None:
    op.create_table("product_versions",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("product_id", sa.Integer(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("job_id", sa.Integer(), nullable=False),
    sa.Column("bundle_path", sa.Text(), nullable=False),
    sa.Column("bundle_digest", sa.String(length=64), nullable=False),
    sa.Column("model_family", sa.String(length=48), nullable=False),
    sa.Column("metrics", sa.JSON(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["job_id"], ["jobs.id"]),
    sa.ForeignKeyConstraint(["product_id"], ["products.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("product_id", "version")
    )
    op.create_index(op.f("ix_product_versions_product_id"), "product_versions", ["product_id"], unique=False)


def _station_runs() -> None:
    op.create_table("station_runs",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("job_id", sa.Integer(), nullable=False),
    sa.Column("station", sa.String(length=48), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["job_id"], ["jobs.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("job_id", "station")
    )
    op.create_index(op.f("ix_station_runs_job_id"), "station_runs", ["job_id"], unique=False)


def _process_runs() -> None:
    op.create_table("process_runs",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("station_run_id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=64), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("params", sa.JSON(), nullable=False),
    sa.Column("inputs", sa.JSON(), nullable=False),
    sa.Column("outputs", sa.JSON(), nullable=False),
    sa.Column("metrics", sa.JSON(), nullable=False),
    sa.Column("reasons", sa.JSON(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(["station_run_id"], ["station_runs.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("station_run_id", "name")
    )
    op.create_index(op.f("ix_process_runs_station_run_id"), "process_runs", ["station_run_id"], unique=False)


# in dependency order (a table after those its foreign keys name)
TABLES: list[tuple[str, Callable[[], None]]] = [
    ("audit_events", _audit_events),
    ("tenants", _tenants),
    ("api_keys", _api_keys),
    ("market_listings", _market_listings),
    ("order_keys", _order_keys),
    ("orders", _orders),
    ("product_alias_events", _product_alias_events),
    ("product_feedback", _product_feedback),
    ("product_improvements", _product_improvements),
    ("product_lineage", _product_lineage),
    ("products", _products),
    ("scheduling_quotas", _scheduling_quotas),
    ("tenant_keys", _tenant_keys),
    ("jobs", _jobs),
    ("artifacts", _artifacts),
    ("job_queue", _job_queue),
    ("product_versions", _product_versions),
    ("station_runs", _station_runs),
    ("process_runs", _process_runs),
]
