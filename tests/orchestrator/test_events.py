"""The event wire contract: the envelope clients of the predecessor parse line by line."""

from __future__ import annotations

import json
from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.events import (
    Completed,
    CompletedData,
    ErrorData,
    ErrorEvent,
    Event,
    GroundingChecks,
    GroundingVerdict,
    RunUsage,
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


def _completed(grounding: GroundingVerdict | None) -> Completed:
    return Completed(
        run_id="r1",
        seq=9,
        timestamp=utc_timestamp(),
        agent_name="system",
        message="Run completed in 1.0 s",
        data=CompletedData(
            full_content="## Report",
            final_response="## Report",
            plan=[],
            usage=RunUsage(),
            sources=[],
            duration_ms=1000.0,
            grounding=grounding,
        ),
    )


def test_the_grounding_verdict_is_an_additive_field_of_completed() -> None:
    verdict = GroundingVerdict(
        status="flagged",
        ungrounded_numbers=["150"],
        checks=GroundingChecks(data_question=True, numbers="failed", echo="ok"),
        retried=["numbers"],
    )
    event = _completed(verdict)
    data = json.loads(encode_envelope(event))["event"]["data"]
    assert data["grounding"] == {
        "status": "flagged",
        "ungrounded_numbers": ["150"],
        "checks": {
            "data_question": True,
            "data_step": "skipped",
            "tools_called": "skipped",
            "numbers": "failed",
            "echo": "ok",
        },
        "retried": ["numbers"],
    }
    # The keys clients already read come first, unchanged; grounding is the last one.
    assert list(data)[-1] == "grounding"
    assert decode_envelope(encode_envelope(event)) == event
    # An event stored before the field existed still decodes.
    old = json.loads(encode_envelope(_completed(None)))
    del old["event"]["data"]["grounding"]
    decoded = decode_envelope(json.dumps(old).encode())
    assert isinstance(decoded, Completed)
    assert decoded.data.grounding is None
