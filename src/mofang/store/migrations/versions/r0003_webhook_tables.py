"""The portal's order notification tables: `webhook_endpoints` and `webhook_deliveries` (`mofang.portal.tables`).

Until this revision the portal created them itself on demand, so a database may have them already (with its rows);
each is then left as it is, and only a missing one is created.

Revision ID: 0003_webhook_tables
Revises: 0002_api_key_expiry
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0003_webhook_tables"
down_revision = "0002_api_key_expiry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create each webhook table that the database lacks."""
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, create in TABLES:
        if name not in existing:
            create()


def downgrade() -> None:
    for name, _ in reversed(TABLES):
        op.drop_table(name)


def _webhook_endpoints() -> None:
    op.create_table("webhook_endpoints",
    sa.Column("tenant_id", sa.String(length=64), nullable=False),
    sa.Column("url", sa.Text(), nullable=False),
    sa.Column("secret", sa.LargeBinary(), nullable=False),
    sa.Column("since_job_id", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    sa.PrimaryKeyConstraint("tenant_id")
    )


def _webhook_deliveries() -> None:
    op.create_table("webhook_deliveries",
    sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
    sa.Column("tenant_id", sa.String(length=64), nullable=False),
    sa.Column("job_id", sa.Integer(), nullable=False),
    sa.Column("order_id", sa.String(length=64), nullable=False),
    sa.Column("event", sa.String(length=48), nullable=False),
    sa.Column("url", sa.Text(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", sa.Float(), nullable=False),
    sa.Column("last_status_code", sa.Integer(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("tenant_id", "job_id", "event")
    )
    op.create_index(op.f("ix_webhook_deliveries_status"), "webhook_deliveries", ["status"], unique=False)
    op.create_index(op.f("ix_webhook_deliveries_tenant_id"), "webhook_deliveries", ["tenant_id"], unique=False)


# in dependency order (both name `tenants`, made by the baseline)
TABLES: list[tuple[str, Callable[[], None]]] = [
    ("webhook_endpoints", _webhook_endpoints),
    ("webhook_deliveries", _webhook_deliveries),
]
