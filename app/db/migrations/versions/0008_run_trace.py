"""runs.trace_parent: the run's OpenTelemetry span, for links from replayed streams

The W3C ``traceparent`` of a run's span (55 characters), written with the run's first event
when tracing is on. A later ``GET /runs/{id}/events`` (a reconnect, another client, another
worker) links its span to it. NULL when tracing was off.

Revision ID: 0008_run_trace
Revises: 0007_run_checkpoints
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_run_trace"
down_revision: str | None = "0007_run_checkpoints"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("trace_parent", sa.String(55), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("trace_parent")
