"""The event wire contract: the envelope clients of the predecessor parse line by line."""

from __future__ import annotations

import json
from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.events import (
    ErrorData,
    ErrorEvent,
    Event,
    Started,
    StartedData,
    ToolExecution,
    ToolExecutionData,
    decode_envelope,
    encode_envelope,
    utc_timestamp,
)


def _started(message: str = "Run started") -> Started:
    return Started(
        run_id="r1",
        seq=1,
        timestamp=utc_timestamp(),
        agent_name="system",
        message=message,
        data=StartedData(run_id="r1", conversation_id=7, question="When is the grid clean?"),
    )


def test_envelope_keys_come_in_the_documented_order() -> None:
    envelope = json.loads(encode_envelope(_started()))
    assert list(envelope) == ["event"]
    assert list(envelope["event"]) == [
        "event_type",
        "run_id",
        "seq",
        "timestamp",
        "agent_name",
        "message",
        "data",
    ]
    assert envelope["event"]["data"]["progress"] == 0
    assert envelope["event"]["data"]["conversation_id"] == 7  # a JSON integer, not "7"


def test_timestamps_are_utc_with_an_explicit_offset() -> None:
    stamp = utc_timestamp()
    assert stamp.endswith("+00:00")
    assert datetime.fromisoformat(stamp).utcoffset() is not None


@given(st.text())
def test_any_text_stays_on_one_data_line_and_round_trips(text: str) -> None:
    events: list[Event] = [
        _started(message=text),
        ToolExecution(
            run_id="r1",
            seq=2,
            timestamp=utc_timestamp(),
            agent_name="carbon",
            message=text,
            data=ToolExecutionData(
                progress=20,
                step="carbon",
                call_id="call_1",
                tool="grid_intensity",
                status="finished",
                arguments={"note": text},
                result_summary=text,
            ),
        ),
        ErrorEvent(
            run_id="r1",
            seq=3,
            timestamp=utc_timestamp(),
            agent_name="system",
            message=text,
            data=ErrorData(progress=20, code="cancelled", error=text),
        ),
    ]
    for event in events:
        wire = encode_envelope(event)
        assert b"\n" not in wire
        assert b"\r" not in wire
        assert decode_envelope(wire) == event
