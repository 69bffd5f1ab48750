"""Writes the transcripts of ``transcripts/``.

Run: ``python -m tests.orchestrator.recorded.make_transcripts``.

Each transcript is what one OpenAI-compatible server sent during one run, request by request,
in its wire format: llama.cpp's ``llama-server`` Chat Completions chunks (``system_fingerprint``,
a final usage chunk with ``timings``, ``[DONE]``) and the Responses API event stream. They
reproduce the misbehaviours seen driving local and weak models (issue 15); the model's words
are written here so that the figures in them are the tools' real figures for the pinned
question and time of the tests. A transcript captured from a real server has the same JSON
shape (:class:`tests.fakes.replay_server.Transcript`): record one with the recording proxy,
``python -m tests.fakes.replay_server --upstream URL --api chat --out FILE``.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import msgspec

HERE = Path(__file__).parent / "transcripts"
LLAMA_MODEL = "qwen2.5-1.5b-instruct-q4_k_m.gguf"
RESPONSES_MODEL = "gpt-4.1-nano"
CREATED = 1_773_824_400
_ids = itertools.count(1)
_encode = msgspec.json.Encoder()

QUESTION = "When is the cleanest 3 hours to run the dishwasher in Ireland tomorrow?"
CARBON_TASK = "Find the cleanest 3-hour window in Ireland tomorrow."
REPORT_TASK = "Write the answer with the window and its intensity."
PLAN = (
    '{"steps": [{"kind": "carbon", "task": "'
    + CARBON_TASK
    + '"}, {"kind": "report", "task": "'
    + REPORT_TASK
    + '"}], "notes": null}'
)
PLAN_WITHOUT_DATA = (
    '{"steps": [{"kind": "report", "task": "Tell the user when to run the dishwasher."}], '
    '"notes": null}'
)
TOOL = "grid_best_window"
TOOL_ARGS = '{"region": "ie", "duration_hours": 3}'
# The tool's figures for the tests' pinned time (2026-03-18 09:00 UTC, synthetic grid).
CARBON_TEXT = (
    "The cleanest 3-hour window is 01:45 to 04:45 on 2026-03-19, averaging 200.57 gCO2/kWh "
    "(synthetic data), 16.7% below the current 240.78 gCO2/kWh."
)
REPORT = (
    "## Cleanest time to run the dishwasher\n\nRun it from 01:45 to 04:45 on 2026-03-19: the "
    "grid averages about 201 gCO2/kWh then (synthetic data), 16.7% cleaner than running it now "
    "at 240.78 gCO2/kWh."
)
# What a model that echoes its prompt sends back as the report: the report step's prompt.
ECHO = (
    f"Question: {QUESTION}\nNow: 2026-03-18T09:00:00+00:00 UTC; local (IE/GB) Wednesday "
    "2026-03-18 09:00 GMT\nPlan: carbon, report\n"
    f"Your task (step 2 of 2, report): {REPORT_TASK}"
)
FROM_MEMORY = "The grid is usually cleanest overnight, at around 150 gCO2/kWh."
REPORT_FROM_MEMORY = "Run the dishwasher overnight, when the grid is around 150 gCO2/kWh."
RUNAWAY_ITEM = '{"kind": "carbon", "task": "Find the cleanest window."}'


def _pieces(text: str, size: int = 12) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


# --------------------------------------------------------------------- llama-server (chat)


def _chunk(cid: str, delta: dict[str, Any], finish: str | None = None) -> str:
    body = {
        "choices": [{"finish_reason": finish, "index": 0, "delta": delta}],
        "created": CREATED,
        "id": cid,
        "model": LLAMA_MODEL,
        "system_fingerprint": "b6715-4a5b8e0f",
        "object": "chat.completion.chunk",
    }
    return "data: " + _encode.encode(body).decode()


def _usage_chunk(cid: str, prompt: int, completion: int) -> str:
    body = {
        "choices": [],
        "created": CREATED,
        "id": cid,
        "model": LLAMA_MODEL,
        "system_fingerprint": "b6715-4a5b8e0f",
        "object": "chat.completion.chunk",
        "usage": {
            "completion_tokens": completion,
            "prompt_tokens": prompt,
            "total_tokens": prompt + completion,
        },
        "timings": {
            "prompt_n": prompt,
            "prompt_ms": prompt * 1.9,
            "predicted_n": completion,
            "predicted_ms": completion * 38.0,
        },
    }
    return "data: " + _encode.encode(body).decode()


def chat_text(text: str, *, finish: str = "stop", prompt: int = 900) -> dict[str, Any]:
    cid = f"chatcmpl-{next(_ids):08d}"
    frames = [_chunk(cid, {"role": "assistant", "content": None})]
    frames += [_chunk(cid, {"content": piece}) for piece in _pieces(text)]
    frames.append(_chunk(cid, {}, finish))
    frames.append(_usage_chunk(cid, prompt, max(1, len(text) // 4)))
    frames.append("data: [DONE]")
    return {"sse": frames}


def chat_call(name: str, arguments: str, *, prompt: int = 1400) -> dict[str, Any]:
    cid = f"chatcmpl-{next(_ids):08d}"
    call_id = f"call_{next(_ids):06d}"
    first = {"index": 0, "id": call_id, "type": "function"}
    frames = [
        _chunk(cid, {"role": "assistant", "content": None}),
        _chunk(cid, {"tool_calls": [{**first, "function": {"name": name, "arguments": ""}}]}),
    ]
    frames += [
        _chunk(cid, {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        for piece in _pieces(arguments, 9)
    ]
    frames.append(_chunk(cid, {}, "tool_calls"))
    frames.append(_usage_chunk(cid, prompt, max(1, len(arguments) // 3)))
    frames.append("data: [DONE]")
    return {"sse": frames}


# ----------------------------------------------------------------------- Responses API


def _event(kind: str, **data: Any) -> str:
    return f"event: {kind}\ndata: " + _encode.encode({"type": kind, **data}).decode()


def _response(rid: str, status: str, output_tokens: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "response",
        "status": status,
        "model": RESPONSES_MODEL,
        "output": [],
        "usage": {
            "input_tokens": 1200,
            "output_tokens": output_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
        **extra,
    }


def responses_text(text: str, *, cut_off: bool = False) -> dict[str, Any]:
    rid, mid = f"resp_{next(_ids):08d}", f"msg_{next(_ids):08d}"
    status = "incomplete" if cut_off else "completed"
    frames = [
        _event("response.created", response=_response(rid, "in_progress", 0)),
        _event(
            "response.output_item.added",
            output_index=0,
            item={
                "type": "message",
                "id": mid,
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            },
        ),
    ]
    frames += [
        _event(
            "response.output_text.delta", item_id=mid, output_index=0, content_index=0, delta=piece
        )
        for piece in _pieces(text)
    ]
    content = [{"type": "output_text", "text": text, "annotations": []}]
    frames.append(
        _event(
            "response.output_item.done",
            output_index=0,
            item={
                "type": "message",
                "id": mid,
                "status": status,
                "role": "assistant",
                "content": content,
            },
        )
    )
    tokens = max(1, len(text) // 4)
    if cut_off:
        frames.append(
            _event(
                "response.incomplete",
                response=_response(
                    rid, "incomplete", tokens, incomplete_details={"reason": "max_output_tokens"}
                ),
            )
        )
    else:
        frames.append(_event("response.completed", response=_response(rid, "completed", tokens)))
    return {"sse": frames}


def responses_call(name: str, arguments: str) -> dict[str, Any]:
    rid, fid, call_id = f"resp_{next(_ids):08d}", f"fc_{next(_ids):08d}", f"call_{next(_ids):06d}"
    item = {
        "type": "function_call",
        "id": fid,
        "call_id": call_id,
        "name": name,
        "status": "in_progress",
    }
    frames = [
        _event("response.created", response=_response(rid, "in_progress", 0)),
        _event("response.output_item.added", output_index=0, item={**item, "arguments": ""}),
    ]
    frames += [
        _event("response.function_call_arguments.delta", item_id=fid, output_index=0, delta=piece)
        for piece in _pieces(arguments, 9)
    ]
    frames.append(
        _event(
            "response.output_item.done",
            output_index=0,
            item={**item, "status": "completed", "arguments": arguments},
        )
    )
    frames.append(_event("response.completed", response=_response(rid, "completed", 20)))
    return {"sse": frames}


# ---------------------------------------------------------------------------- transcripts


def _runaway_plan() -> str:
    items = ", ".join([RUNAWAY_ITEM] * 40)
    return ('{"steps": [' + items)[:2300]  # cut mid-item, where max_tokens stopped it


TRANSCRIPTS: dict[str, dict[str, Any]] = {
    "runaway_plan_chat": {
        "description": "A grammar-constrained planner repeats plan items until max_tokens cuts "
        "it off (finish_reason length); asked again, it plans; the run completes.",
        "server": "llama.cpp llama-server, Chat Completions",
        "api": "chat",
        "exchanges": [
            {**chat_text(_runaway_plan(), finish="length"), "note": "planner: runaway, cut off"},
            {**chat_text(PLAN), "note": "planner: a valid plan"},
            {**chat_call(TOOL, TOOL_ARGS), "note": "carbon: tool call"},
            {**chat_text(CARBON_TEXT), "note": "carbon: findings"},
            {**chat_text(REPORT), "note": "report"},
        ],
    },
    "runaway_plan_twice_responses": {
        "description": "Every planner answer is cut off at max_output_tokens: after "
        "planner_retries the run fails planner_invalid in seconds, not at the step timeout.",
        "server": "Responses API",
        "api": "responses",
        "exchanges": [
            {**responses_text(_runaway_plan(), cut_off=True), "note": "planner: cut off"},
            {**responses_text(_runaway_plan(), cut_off=True), "note": "planner: cut off again"},
        ],
    },
    "cut_off_json_and_step_responses": {
        "description": "The planner's JSON stops mid-string in a 'completed' response (not "
        "parseable: retried); then the carbon step's answer is cut off at max_output_tokens "
        "twice, the second time after being asked for a shorter one.",
        "server": "Responses API",
        "api": "responses",
        "exchanges": [
            {**responses_text(PLAN[:70]), "note": "planner: JSON cut mid-string"},
            {**responses_text(PLAN), "note": "planner: a valid plan"},
            {**responses_call(TOOL, TOOL_ARGS), "note": "carbon: tool call"},
            {**responses_text(CARBON_TEXT * 3, cut_off=True), "note": "carbon: cut off"},
            {**responses_text(CARBON_TEXT * 2, cut_off=True), "note": "carbon: cut off again"},
        ],
    },
    "echoed_prompt_chat": {
        "description": "The report step sends its own prompt back, twice.",
        "server": "llama.cpp llama-server, Chat Completions",
        "api": "chat",
        "exchanges": [
            {**chat_text(PLAN), "note": "planner"},
            {**chat_call(TOOL, TOOL_ARGS), "note": "carbon: tool call"},
            {**chat_text(CARBON_TEXT), "note": "carbon: findings"},
            {**chat_text(ECHO), "note": "report: the prompt, echoed"},
            {**chat_text(ECHO), "note": "report: echoed again"},
        ],
    },
    "no_tool_calls_chat": {
        "description": "A data question: the planner plans no data step (retried), then the "
        "carbon step answers from memory twice without calling a tool, and the report cites a "
        "figure no tool returned, twice: completed, flagged.",
        "server": "llama.cpp llama-server, Chat Completions",
        "api": "chat",
        "exchanges": [
            {**chat_text(PLAN_WITHOUT_DATA), "note": "planner: no data step"},
            {**chat_text(PLAN), "note": "planner: carbon and report"},
            {**chat_text(FROM_MEMORY), "note": "carbon: from memory"},
            {**chat_text(FROM_MEMORY), "note": "carbon: from memory again"},
            {**chat_text(REPORT_FROM_MEMORY), "note": "report: an invented figure"},
            {**chat_text(REPORT_FROM_MEMORY), "note": "report: the same again"},
        ],
    },
    "malformed_tool_arguments_chat": {
        "description": "The carbon step's tool arguments are cut JSON; the tool's error goes "
        "back to the model, which calls it properly: completed, grounded.",
        "server": "llama.cpp llama-server, Chat Completions",
        "api": "chat",
        "exchanges": [
            {**chat_text(PLAN), "note": "planner"},
            {**chat_call(TOOL, TOOL_ARGS[:-1]), "note": "carbon: malformed arguments"},
            {**chat_call(TOOL, TOOL_ARGS), "note": "carbon: tool call"},
            {**chat_text(CARBON_TEXT), "note": "carbon: findings"},
            {**chat_text(REPORT), "note": "report"},
        ],
    },
    "unknown_tool_responses": {
        "description": "The carbon step calls a tool that does not exist; the error lists the "
        "tools it has, and it calls one: completed, grounded.",
        "server": "Responses API",
        "api": "responses",
        "exchanges": [
            {**responses_text(PLAN), "note": "planner"},
            {**responses_call("get_weather", '{"city": "Dublin"}'), "note": "carbon: unknown"},
            {**responses_call(TOOL, TOOL_ARGS), "note": "carbon: tool call"},
            {**responses_text(CARBON_TEXT), "note": "carbon: findings"},
            {**responses_text(REPORT), "note": "report"},
        ],
    },
    "stale_connection_chat": {
        "description": "After the planner's answer the server drops the kept-alive connection "
        "as the next request arrives on it (no response at all): retried at once on a new "
        "connection, without using a provider retry.",
        "server": "llama.cpp llama-server, Chat Completions",
        "api": "chat",
        "exchanges": [
            {**chat_text(PLAN), "note": "planner"},
            {"action": "close_without_response", "note": "stale keep-alive connection"},
            {**chat_call(TOOL, TOOL_ARGS), "note": "carbon: tool call"},
            {**chat_text(CARBON_TEXT), "note": "carbon: findings"},
            {**chat_text(REPORT), "note": "report"},
        ],
    },
    "stale_connection_responses": {
        "description": "The same stale kept-alive connection, on the Responses API.",
        "server": "Responses API",
        "api": "responses",
        "exchanges": [
            {**responses_text(PLAN), "note": "planner"},
            {"action": "close_without_response", "note": "stale keep-alive connection"},
            {**responses_call(TOOL, TOOL_ARGS), "note": "carbon: tool call"},
            {**responses_text(CARBON_TEXT), "note": "carbon: findings"},
            {**responses_text(REPORT), "note": "report"},
        ],
    },
    "validation_error_500_chat": {
        "description": "A server answers a request it cannot parse with HTTP 500 and a "
        "validation error: not an outage, so not retried.",
        "server": "an OpenAI-compatible proxy, Chat Completions",
        "api": "chat",
        "exchanges": [
            {
                "status": 500,
                "body": {
                    "error": {
                        "code": 500,
                        "message": "1 validation error for ChatCompletionRequest\n"
                        "response_format.json_schema.schema\n  Input should be a valid "
                        "dictionary [type=dict_type]",
                        "type": "server_error",
                    }
                },
                "note": "planner: 500 for a request it cannot parse",
            }
        ],
    },
}


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for name, transcript in TRANSCRIPTS.items():
        text = msgspec.json.format(_encode.encode(transcript), indent=1).decode()
        (HERE / f"{name}.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
