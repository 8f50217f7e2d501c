"""API keys that expire: `api_keys.expires_at` (nullable: a key already there never expires).

A database made by this session's code before migrations existed may have the column already; it is then left as
it is.

Revision ID: 0002_api_key_expiry
Revises: 0001_baseline
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_api_key_expiry"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "expires_at" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("api_keys")}:
        op.add_column("api_keys", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("expires_at")
