"""The SSE wire format of run events, encoded once per event and shared by every subscriber.

An event is encoded to its finished ``text/event-stream`` frame when it is published::

    id: <seq>
    event: <type>
    data: {"event": {...}}
    <blank line>

That frame is the channel payload too, so a subscriber forwards the bytes it receives
unchanged: with 1,000 followers of a run, an event is encoded once, not 1,000 times. The
envelope is compact JSON (msgspec escapes newlines), so it is always exactly one ``data:``
line. Subscribers read seq and type from the first two lines without parsing the JSON.
"""

from __future__ import annotations

__all__ = ["KEEPALIVE_FRAME", "RETRY_FRAME", "event_frame", "frame_head", "payload_frame"]

# A comment: EventSource dispatches nothing for it, proxies see traffic.
KEEPALIVE_FRAME = b": keep-alive\n\n"
# Sent first on every stream: a reconnecting EventSource waits 3 s.
RETRY_FRAME = b"retry: 3000\n\n"

_ID = b"id: "
_EVENT = b"event: "
_DATA = b"data: "


def event_frame(seq: int, event_type: str, envelope: bytes) -> bytes:
    """The frame of one event; ``envelope`` is the encoded ``{"event": {...}}`` object."""
    return b"%s%d\n%s%s\n%s%s\n\n" % (_ID, seq, _EVENT, event_type.encode(), _DATA, envelope)


def payload_frame(seq: int, event_type: str, payload: str) -> bytes:
    """The frame of a stored event: ``payload`` is the event's JSON as ``run_events`` holds
    it, so neither a replay nor a publish encodes the event again."""
    return event_frame(seq, event_type, b'{"event":' + payload.encode() + b"}")


def frame_head(frame: bytes) -> tuple[int, str]:
    """Seq and event type of an event frame (its first two lines)."""
    id_line, event_line, _ = frame.split(b"\n", 2)
    if not (id_line.startswith(_ID) and event_line.startswith(_EVENT)):
        raise ValueError(f"not an event frame: {frame[:40]!r}")
    return int(id_line[len(_ID) :]), event_line[len(_EVENT) :].decode()
