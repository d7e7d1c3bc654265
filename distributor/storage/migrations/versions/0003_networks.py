"""networks: token expiry, rate-limit buckets

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import distributor.storage.tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN: a batch copy of "channels" on SQLite would drop the table, and with
    # foreign keys on, that cascades into renditions and deliveries.
    for name in ("token_expires_at", "token_warned_for"):
        op.add_column(
            "channels",
            sa.Column(name, distributor.storage.tables.UTCDateTime(timezone=True), nullable=True),
        )
    op.create_table(
        "rate_buckets",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("stamp", sa.Float(), nullable=False),
        sa.Column("blocked_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("rate_buckets")
    op.drop_column("channels", "token_warned_for")
    op.drop_column("channels", "token_expires_at")
