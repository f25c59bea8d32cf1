"""the gateway's delivery report on each outbound SMS (Kavenegar's delivery callback)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_messages") as batch:
        batch.add_column(sa.Column("delivery_status", sa.String(16), nullable=False, server_default=""))
        batch.add_column(sa.Column("delivery_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbound_messages") as batch:
        batch.drop_column("delivery_at")
        batch.drop_column("delivery_status")
