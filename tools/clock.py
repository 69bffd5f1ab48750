"""Dates and "now" for tools: every tool resolves time the same way, so tests can pin it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tools.catalog_types import ToolContext, ToolError

__all__ = ["now_from_context", "parse_date", "parse_instant"]


def parse_instant(text: str) -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime (naive input is taken as UTC)."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ToolError(f"invalid ISO timestamp {text!r}") from exc
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_date(text: str, field: str = "date") -> date:
    """An ISO calendar date (YYYY-MM-DD). Relative phrases are the caller's job to resolve."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise ToolError(f"{field} must be an ISO date YYYY-MM-DD, got {text!r}") from exc


def now_from_context(ctx: ToolContext) -> datetime:
    """The run's "now": ``ctx.now`` when the host pinned it, else the wall clock (UTC)."""
    if ctx.now:
        return parse_instant(ctx.now)
    return datetime.now(UTC)
