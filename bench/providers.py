"""Client CPU cost of one streamed 4-step run: our providers vs the SDK's typed stream vs raw HTTP.

One run is what the state machine asks of a provider for a 4-step question: a planner call, a
carbon step that calls a tool and then answers, an analysis step and a report step: 5 streamed
model calls, about 410 stream events. Every variant sends the same request bodies to the same
fake server (``tests/fakes/openai_server.py``, run in its own process so its CPU is not
counted) and builds the same result (text, tool calls, usage):

* ``ours``: ``OpenAIResponsesProvider`` / ``OpenAIChatProvider`` (SDK transport, raw SSE bytes
  parsed by us, msgspec decoding of the events we use);
* ``sdk-typed``: a hand-written loop over the SDK's typed stream (``create(stream=True)``);
* ``raw-http``: ``httpx2`` + ``aiter_lines`` + ``json.loads`` of every ``data:`` line.

Measured: client CPU ms per run (``time.process_time``), and runs/s, sequential and 50
concurrent, with 0 ms and 200 ms fake latency (before each answer). Usage::

    .venv/bin/python bench/providers.py [--runs 30] [--output results.md]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import openai

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.assistants import AssistantSpec  # noqa: E402
from orchestrator.config import LLMConfig  # noqa: E402
from orchestrator.providers.base import (  # noqa: E402
    FunctionCall,
    FunctionCallOutput,
    InputItem,
    ModelRequest,
    ModelTurn,
    ToolSchema,
    UserMessage,
)
from orchestrator.providers.openai_chat import OpenAIChatProvider, build_chat_body  # noqa: E402
from orchestrator.providers.openai_responses import (  # noqa: E402
    OpenAIResponsesProvider,
    build_responses_body,
)
from tests.fakes.openai_server import Call, Turn, run_process  # noqa: E402

DELTA = 4  # characters per streamed delta, about one token
PLAN = '{"steps":[{"kind":"carbon","task":"Find the cleanest hours"},' + " " * 60 + "]}"
ARGS = '{"region": "IE", "start": "2026-11-26T00:00:00+00:00", "hours": 24}'


def _words(n_deltas: int, seed: str) -> str:
    text = (seed + " ") * (n_deltas * DELTA // (len(seed) + 1) + 1)
    return text[: n_deltas * DELTA]


# model name → scripted answer; the fake answers these forever without a queue
SCRIPTS: dict[str, Turn] = {
    "bench-plan": Turn(text=PLAN.ljust(30 * DELTA), delta_size=DELTA),
    "bench-tool": Turn(tool_calls=(Call("grid_intensity", ARGS),), delta_size=7),
    "bench-carbon": Turn(text=_words(100, "The cleanest window is 02:00"), delta_size=DELTA),
    "bench-analysis": Turn(text=_words(100, "Revenue grew while emissions"), delta_size=DELTA),
    "bench-report": Turn(text=_words(130, "## Report: shift flexible load"), delta_size=DELTA),
}

PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "region": {"type": "string", "enum": ["IE", "NI", "GB"]},
        "start": {"type": "string", "description": "ISO 8601 start"},
        "hours": {"type": "integer", "minimum": 1, "maximum": 168},
    },
    "required": ["region", "start", "hours"],
    "additionalProperties": False,
}
TOOLS = tuple(
    ToolSchema(name, f"{name.replace('_', ' ')}: a domain tool of the catalog.", PARAMS)
    for name in ("grid_intensity", "grid_best_window", "grid_compare", "carbon_footprint")
)
INSTRUCTIONS = "You are a careful sustainability analyst. Use the tools; cite numbers. " * 8
QUESTION = "When should our Dublin office run its batch jobs tomorrow to cut emissions?"


def _spec(model: str) -> AssistantSpec:
    return AssistantSpec(name=model, model=model, instructions=INSTRUCTIONS, temperature=0.0)


def run_requests(tool_call_id: str) -> list[ModelRequest]:
    """The 5 requests of one run (the 3rd replays the tool call the 2nd returned)."""
    question: tuple[InputItem, ...] = (UserMessage(QUESTION),)
    earlier = UserMessage(QUESTION + "\n\nEarlier step output:\n" + _words(100, "The cleanest"))
    schema = {"type": "object", "properties": {}, "required": [], "additionalProperties": False}
    return [
        ModelRequest(assistant=_spec("bench-plan"), input=question, response_schema=schema),
        ModelRequest(assistant=_spec("bench-tool"), input=question, tools=TOOLS),
        ModelRequest(
            assistant=_spec("bench-carbon"),
            input=(
                *question,
                FunctionCall(tool_call_id, "grid_intensity", ARGS),
                FunctionCallOutput(tool_call_id, json.dumps({"mean_g_per_kwh": 212.4} | {})),
            ),
            tools=TOOLS,
        ),
        ModelRequest(assistant=_spec("bench-analysis"), input=(earlier,), tools=TOOLS),
        ModelRequest(assistant=_spec("bench-report"), input=(earlier,)),
    ]


@dataclass
class Result:
    text: str
    calls: list[tuple[str, str, str]]
    tokens: int


# --------------------------------------------------------------------------- the variants

Variant = Callable[[ModelRequest], Awaitable[Result]]


def ours(provider: OpenAIResponsesProvider | OpenAIChatProvider) -> Variant:
    async def call(request: ModelRequest) -> Result:
        turn: ModelTurn | None = None
        async for event in provider.stream(request):
            if isinstance(event, ModelTurn):
                turn = event
        assert turn is not None
        calls = [(c.call_id, c.name, c.arguments) for c in turn.tool_calls]
        return Result(turn.text, calls, turn.usage.input_tokens + turn.usage.output_tokens)

    return call


def sdk_responses(client: openai.AsyncOpenAI, config: LLMConfig) -> Variant:
    async def call(request: ModelRequest) -> Result:
        body = build_responses_body(request, config)
        body.pop("stream")
        stream = await client.responses.create(**body, stream=True)
        text: list[str] = []
        calls: list[tuple[str, str, str]] = []
        tokens = 0
        async for event in stream:
            if event.type == "response.output_text.delta":
                text.append(event.delta)
            elif event.type == "response.output_item.done" and event.item.type == "function_call":
                calls.append((event.item.call_id, event.item.name, event.item.arguments))
            elif event.type == "response.completed" and event.response.usage is not None:
                tokens = event.response.usage.total_tokens
        return Result("".join(text), calls, tokens)

    return call


def sdk_chat(client: openai.AsyncOpenAI, config: LLMConfig) -> Variant:
    async def call(request: ModelRequest) -> Result:
        body = build_chat_body(request, config)
        body.pop("stream")
        stream = await client.chat.completions.create(**body, stream=True)
        text: list[str] = []
        pending: dict[int, list[str]] = {}
        tokens = 0
        async for chunk in stream:
            for choice in chunk.choices:
                delta = choice.delta
                if delta.content:
                    text.append(delta.content)
                for tc in delta.tool_calls or ():
                    entry = pending.setdefault(tc.index, ["", "", ""])
                    if tc.id:
                        entry[0] = tc.id
                    if tc.function and tc.function.name:
                        entry[1] += tc.function.name
                    if tc.function and tc.function.arguments:
                        entry[2] += tc.function.arguments
            if chunk.usage is not None:
                tokens = chunk.usage.total_tokens
        calls = [(e[0], e[1], e[2]) for e in pending.values()]
        return Result("".join(text), calls, tokens)

    return call


def raw_responses(http: httpx2.AsyncClient, config: LLMConfig) -> Variant:
    async def call(request: ModelRequest) -> Result:
        body = build_responses_body(request, config)
        text: list[str] = []
        calls: list[tuple[str, str, str]] = []
        tokens = 0
        async with http.stream("POST", "/responses", json=body) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                kind = event["type"]
                if kind == "response.output_text.delta":
                    text.append(event["delta"])
                elif (
                    kind == "response.output_item.done" and event["item"]["type"] == "function_call"
                ):
                    item = event["item"]
                    calls.append((item["call_id"], item["name"], item["arguments"]))
                elif kind == "response.completed":
                    tokens = event["response"]["usage"]["total_tokens"]
        return Result("".join(text), calls, tokens)

    return call


def raw_chat(http: httpx2.AsyncClient, config: LLMConfig) -> Variant:
    async def call(request: ModelRequest) -> Result:
        body = build_chat_body(request, config)
        text: list[str] = []
        pending: dict[int, list[str]] = {}
        tokens = 0
        async with http.stream("POST", "/chat/completions", json=body) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                for choice in chunk["choices"]:
                    delta = choice["delta"]
                    if delta.get("content"):
                        text.append(delta["content"])
                    for tc in delta.get("tool_calls") or ():
                        entry = pending.setdefault(tc["index"], ["", "", ""])
                        entry[0] = tc.get("id") or entry[0]
                        function = tc.get("function") or {}
                        entry[1] += function.get("name") or ""
                        entry[2] += function.get("arguments") or ""
                if chunk.get("usage"):
                    tokens = chunk["usage"]["total_tokens"]
        calls = [(e[0], e[1], e[2]) for e in pending.values()]
        return Result("".join(text), calls, tokens)

    return call


async def one_run(call: Variant) -> int:
    """The 5 calls of a run, in order; returns the number of characters produced (a check)."""
    plan = await call(run_requests("pending")[0])
    tool = await call(run_requests("pending")[1])
    assert tool.calls, "the tool step must call a tool"
    requests = run_requests(tool.calls[0][0])
    produced = len(plan.text)
    for request in requests[2:]:
        result = await call(request)
        produced += len(result.text)
    return produced


# ------------------------------------------------------------------------------ measuring


@dataclass
class Row:
    api: str
    variant: str
    latency_ms: int
    mode: str
    runs: int
    cpu_ms: float
    runs_per_s: float


async def measure(call: Variant, runs: int, concurrency: int) -> tuple[float, float]:
    await one_run(call)  # warm-up: connections, caches
    cpu0, wall0 = time.process_time(), time.perf_counter()
    done = 0
    while done < runs:
        batch = min(concurrency, runs - done)
        await asyncio.gather(*(one_run(call) for _ in range(batch)))
        done += batch
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return cpu * 1000 / runs, runs / wall


async def bench_latency(base_url: str, latency_ms: int, runs: int) -> list[Row]:
    rows: list[Row] = []
    for api in ("responses", "chat"):
        provider_name: Any = "openai" if api == "responses" else "openai_chat"
        config = LLMConfig(provider=provider_name, base_url=base_url, api_key="bench-key")
        provider: OpenAIResponsesProvider | OpenAIChatProvider = (
            OpenAIResponsesProvider(config) if api == "responses" else OpenAIChatProvider(config)
        )
        client = openai.AsyncOpenAI(base_url=base_url, api_key="bench-key", max_retries=0)
        limits = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)
        http = httpx2.AsyncClient(
            base_url=base_url,
            headers={"Authorization": "Bearer bench-key"},
            limits=limits,
            timeout=60,
        )
        variants: dict[str, Variant] = {
            "ours": ours(provider),
            "sdk-typed": (sdk_responses if api == "responses" else sdk_chat)(client, config),
            "raw-http": (raw_responses if api == "responses" else raw_chat)(http, config),
        }
        for mode, concurrency in (("sequential", 1), ("50 concurrent", 50)):
            count = runs if concurrency == 1 else 100
            if latency_ms:
                count = 5 if concurrency == 1 else 50
            for name, call in variants.items():
                cpu_ms, rate = await measure(call, count, concurrency)
                rows.append(Row(api, name, latency_ms, mode, count, cpu_ms, rate))
                print(
                    f"  {api:9} {name:9} {latency_ms:3} ms {mode:13} {cpu_ms:7.2f} ms/run",
                    flush=True,
                )
        await provider.aclose()
        await client.close()
        await http.aclose()
    return rows


def table(rows: list[Row]) -> str:
    raw = {(r.api, r.latency_ms, r.mode): r.cpu_ms for r in rows if r.variant == "raw-http"}
    lines = [
        "| API | latency | mode | variant | runs | CPU ms/run | runs/s | CPU vs raw HTTP |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = r.cpu_ms / raw[(r.api, r.latency_ms, r.mode)]
        lines.append(
            f"| {r.api} | {r.latency_ms} ms | {r.mode} | {r.variant} | {r.runs} | "
            f"{r.cpu_ms:.2f} | {r.runs_per_s:.1f} | {ratio:.2f}x |"
        )
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=30, help="sequential runs at 0 ms latency")
    parser.add_argument("--output", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    events = sum(
        8 + len(t.text) // DELTA + sum(6 + len(c.arguments) // 7 for c in t.tool_calls)
        for t in SCRIPTS.values()
    )
    print(f"one run = 5 streamed calls, about {events} Responses stream events", flush=True)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for latency_ms in (0, 200):
            directory = Path(tmp) / f"fake-{latency_ms}"
            directory.mkdir()
            with run_process(directory, by_model=SCRIPTS, latency_ms=latency_ms) as base_url:
                rows += await bench_latency(base_url, latency_ms, args.runs)
    header = (
        f"Python {sys.version.split()[0]}, openai {openai.__version__}, "
        f"{os.cpu_count()} CPUs; client CPU only (the fake server runs in its own process)."
    )
    output = f"{header}\n\n{table(rows)}\n"
    print()
    print(output)
    if args.output:
        args.output.write_text(output)


if __name__ == "__main__":
    asyncio.run(main())
