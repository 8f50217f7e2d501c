"""The portal's sign-in sessions: `portal_sessions` (`mofang.portal.tables`), until now kept in each portal
process's memory (a restart signed everyone out; two worker processes did not share them).

Revision ID: 0004_portal_sessions
Revises: 0003_webhook_tables
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_portal_sessions"
down_revision = "0003_webhook_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the sessions table unless the database has it (a store made by `create_all` of a later release and
    stamped back); no rows to carry: the old sessions lived in memory."""
    if "portal_sessions" in set(sa.inspect(op.get_bind()).get_table_names()):
        return
    op.create_table("portal_sessions",
    sa.Column("id_hash", sa.String(length=64), nullable=False),
    sa.Column("key_id", sa.String(length=64), nullable=True),
    sa.Column("user", sa.String(length=64), nullable=False),
    sa.Column("tenant_id", sa.String(length=64), nullable=True),
    sa.Column("role", sa.String(length=16), nullable=False),
    sa.Column("csrf", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id_hash")
    )
    op.create_index(op.f("ix_portal_sessions_expires_at"), "portal_sessions", ["expires_at"], unique=False)
    op.create_index(op.f("ix_portal_sessions_tenant_id"), "portal_sessions", ["tenant_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_portal_sessions_tenant_id"), table_name="portal_sessions")
    op.drop_index(op.f("ix_portal_sessions_expires_at"), table_name="portal_sessions")
    op.drop_table("portal_sessions")
