"""webauthn_challenges: the client that asked for a challenge and the sign-in it belongs to

``client`` (an IPv4 address or an IPv6 /64) lets pending challenges be capped per client
instead of in total; ``session`` binds an add-a-passkey challenge to the login that started
it, so it cannot complete after that login signed out.

Revision ID: 0006_challenge_binding
Revises: 0005_run_charts
Create Date: 2026-12-06 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_challenge_binding"
down_revision: str | None = "0005_run_charts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webauthn_challenges") as batch:
        batch.add_column(sa.Column("client", sa.String(64), nullable=True))
        batch.add_column(sa.Column("session", sa.String(64), nullable=True))
    op.create_index("ix_webauthn_challenges_client", "webauthn_challenges", ["client"])


def downgrade() -> None:
    op.drop_index("ix_webauthn_challenges_client", table_name="webauthn_challenges")
    with op.batch_alter_table("webauthn_challenges") as batch:
        batch.drop_column("session")
        batch.drop_column("client")
