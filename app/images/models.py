"""Run charts served as images: one row per chart of a completed run.

A run's charts live in its ``completed`` event as SVG documents; a row here gives each an
unguessable id so that ``GET /images/<id>.png`` can serve it to an ``<img>`` (which sends no
``Authorization`` header: knowing the id is the permission, like a share link). Rows go with
their run (and so with their conversation) on delete.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base

__all__ = ["RunChart"]


class RunChart(Base):
    __tablename__ = "run_charts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("runs.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    chart_id: Mapped[str] = mapped_column(String(200))  # the id the chart tool gave it
    title: Mapped[str] = mapped_column(Text)
    svg: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
