"""run_charts: run charts under unguessable ids, served as /images/<id>.png

Revision ID: 0005_run_charts
Revises: 0004_personal_access_tokens
Create Date: 2026-12-06 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_run_charts"
down_revision: str | None = "0004_personal_access_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_charts",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("chart_id", sa.String(200), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("svg", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_run_charts_run_id_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_run_charts"),
    )
    op.create_index("ix_run_charts_run_id", "run_charts", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_run_charts_run_id", table_name="run_charts")
    op.drop_table("run_charts")
