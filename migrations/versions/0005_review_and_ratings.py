"""review, staffing and ratings per counselor: summary counselor and hour, counselor_ratings

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chat_summaries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("counselor_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("opened_hour", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_chat_summaries_counselor_id"), ["counselor_id"], unique=False)
    op.create_table(
        "counselor_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("counselor_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counselor_ratings")),
        sa.UniqueConstraint("day", "counselor_id", "score", name=op.f("uq_counselor_ratings_day")),
    )


def downgrade() -> None:
    op.drop_table("counselor_ratings")
    with op.batch_alter_table("chat_summaries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_summaries_counselor_id"))
        batch_op.drop_column("opened_hour")
        batch_op.drop_column("counselor_id")
