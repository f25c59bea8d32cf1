"""the outcome of a request: wraps, consumption, bill amount, payment ID

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("wraps", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("consumption", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("bill_amount", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("payment_id", sa.String(length=20), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        for column in ("payment_id", "bill_amount", "consumption", "wraps"):
            batch.drop_column(column)
