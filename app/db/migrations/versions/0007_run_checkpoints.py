"""run_checkpoints, runs.resumes: durable runs resume from their last step boundary

``run_checkpoints`` keeps each running run's newest checkpoint (the orchestrator's resumable
state, msgspec JSON), written in the transaction of the boundary event whose ``seq`` it
carries; a run that ends drops its row. ``runs.resumes`` counts how often another worker
claimed the run to continue it, so ``runs.max_resumes`` bounds resume loops.

Revision ID: 0007_run_checkpoints
Revises: 0006_challenge_binding
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_run_checkpoints"
down_revision: str | None = "0006_challenge_binding"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_checkpoints",
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_run_checkpoints_run_id_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", name="pk_run_checkpoints"),
    )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("resumes", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("resumes")
    op.drop_table("run_checkpoints")
