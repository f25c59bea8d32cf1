"""an index on outbound_messages.status: each worker's sweep for stranded SMS reads only the unfinished rows

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbound_messages_status", "outbound_messages", ["status"])


def downgrade() -> None:
    op.drop_index("ix_outbound_messages_status", table_name="outbound_messages")
