"""``python -m orchestrator ask "question"``: run one question from a terminal or a script.

It behaves like a Unix tool, so it composes with pipes and redirections:

- stdout carries only the result: the report (Markdown) in human mode, or each event as one
  JSON line with ``--json`` (the same objects the SSE stream carries);
- stderr carries everything for the person watching: one progress line per event (a progress
  bar when stderr is a terminal), the usage summary, errors and logs;
- ``--trace`` prints the run's OpenTelemetry span tree (run → steps → LLM and tool calls,
  with timings and tokens) on stderr after the run, recorded in memory
  (:mod:`orchestrator._span_tree`); with ``--verbose`` every log line carries its
  ``trace_id`` and ``span_id``;
- ``--out DIR`` also writes ``DIR/report.md`` and every chart of the run as ``DIR/<id>.svg``;
- a reader that goes away (``| head``) ends the run quietly: no traceback, no "Exception
  ignored" noise, exit status 141 like a tool killed by SIGPIPE.

Exit codes: 0 the run completed, 1 it failed, 2 bad usage or configuration (including an empty
question or one over the API's limit, :data:`orchestrator.questions.MAX_QUESTION_CHARS`), 130
interrupted, 141 the output pipe closed. Reads ``config.toml`` itself (the service's loader
lives in ``app``, which this library never imports).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import logging
import os
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import msgspec
import structlog

from orchestrator._span_tree import install_recorder, print_span_tree
from orchestrator.accounting import describe_usage
from orchestrator.config import (
    AccountingConfig,
    AssistantsConfig,
    BudgetConfig,
    LLMConfig,
    OrchestratorSettings,
    ToolsConfig,
)
from orchestrator.context import RunContext
from orchestrator.events import AgentThinking, Completed, ErrorEvent, Event, encode_event
from orchestrator.machine import Orchestrator
from orchestrator.questions import question_problem
from orchestrator.telemetry import add_trace_context
from tools.catalog_types import Dataset, ToolError

__all__ = ["ConfigFileError", "load_config", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a tool whose reader left
_BAR_WIDTH = 20
_MAX_DATASET_ROWS = 100_000


class ConfigFileError(Exception):
    """The configuration file is missing, unreadable or invalid."""


class _ConfigFile(msgspec.Struct, kw_only=True):
    """The sections of ``config.toml`` the orchestrator reads; the service's others are ignored."""

    llm: LLMConfig = LLMConfig()
    orchestrator: BudgetConfig = BudgetConfig()
    accounting: AccountingConfig = AccountingConfig()
    assistants: AssistantsConfig = AssistantsConfig()
    tools: ToolsConfig = ToolsConfig()


def load_config(
    path: Path | None, environ: Mapping[str, str], provider: str | None = None
) -> OrchestratorSettings:
    """Settings from ``path`` (else ``APP_CONFIG``, else ``./config.toml`` when present, else
    defaults) + environment.

    ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` fill the LLM key and base URL, as in the service.
    """
    if path is None and environ.get("APP_CONFIG"):
        path = Path(environ["APP_CONFIG"])
    if path is None:
        default = Path("config.toml")
        path = default if default.is_file() else None
    config = _ConfigFile()
    if path is not None:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigFileError(f"cannot read {path}: {exc.strerror}") from None
        try:
            config = msgspec.toml.decode(raw, type=_ConfigFile)
        except msgspec.DecodeError as exc:
            raise ConfigFileError(f"invalid configuration in {path}: {exc}") from None
    llm = config.llm
    overrides: dict[str, str] = {}
    if environ.get("OPENAI_API_KEY"):
        overrides["api_key"] = environ["OPENAI_API_KEY"]
    if environ.get("OPENAI_BASE_URL"):
        overrides["base_url"] = environ["OPENAI_BASE_URL"]
    if provider is not None:
        overrides["provider"] = provider
    if overrides:
        try:
            llm = msgspec.convert({**msgspec.to_builtins(llm), **overrides}, LLMConfig)
        except msgspec.ValidationError as exc:
            raise ConfigFileError(f"invalid llm setting: {exc}") from None
    if llm.provider == "openai" and not llm.api_key:
        raise ConfigFileError('llm.provider "openai" needs an API key: set OPENAI_API_KEY')
    if llm.provider == "openai_chat" and not llm.base_url:
        raise ConfigFileError(
            'llm.provider "openai_chat" needs the server URL: set OPENAI_BASE_URL or llm.base_url'
        )
    return OrchestratorSettings(
        llm=llm,
        budgets=config.orchestrator,
        accounting=config.accounting,
        assistants=config.assistants,
        tools=config.tools,
    )


def _load_dataset(path: Path) -> Dataset:
    from tools.analysis.upload import UploadError, parse_upload

    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ConfigFileError(f"cannot read dataset {path}: {exc.strerror}") from None
    try:
        parsed = parse_upload(content, path.name, _MAX_DATASET_ROWS)
    except UploadError as exc:
        raise ConfigFileError(f"dataset {path.name}: {exc}") from None
    for warning in parsed.warnings:
        print(f"warning: dataset {path.name}: {warning}", file=sys.stderr)
    digest = hashlib.sha256(content).hexdigest()[:16]
    return parsed.to_dataset(f"file-{digest}", path.name)


def _parse_now(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 timestamp: {value!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m orchestrator",
        description="Ask Sustainable City AI a question from the command line.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    ask = commands.add_parser("ask", help="run one question and print its events and report")
    ask.add_argument("question", help="the question, in quotes")
    ask.add_argument(
        "--provider",
        choices=("offline", "openai", "openai_chat"),
        help="override llm.provider from the configuration",
    )
    ask.add_argument("--json", action="store_true", help="print events as JSON lines on stdout")
    ask.add_argument("--dataset", type=Path, help="a CSV or JSON file the steps can analyse")
    ask.add_argument(
        "--config", type=Path, help="configuration file (default $APP_CONFIG, else ./config.toml)"
    )
    ask.add_argument(
        "--now", type=_parse_now, help="ISO timestamp the run treats as now (reproducible runs)"
    )
    ask.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="also write DIR/report.md and every chart of the run as DIR/<chart id>.svg",
    )
    ask.add_argument("-v", "--verbose", action="store_true", help="log transitions to stderr")
    ask.add_argument(
        "--trace",
        action="store_true",
        help="record the run's OpenTelemetry spans and print their tree with timings on stderr",
    )
    evaluate = commands.add_parser(
        "eval", help="run the offline engine's answer-quality cases and print a scorecard"
    )
    evaluate.add_argument(
        "--cases",
        type=Path,
        action="append",
        default=[],
        help="a TOML or JSONL case file, or a directory of them (default: the packaged suite)",
    )
    evaluate.add_argument("--category", help="run only the cases of this category")
    return parser


def _configure_logging(verbose: bool) -> None:
    """Structured logs to stderr: errors only (the run's own error line says the rest) unless
    --verbose."""
    structlog.configure(
        processors=[
            add_trace_context,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.INFO if verbose else logging.ERROR
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def _bar(progress: int) -> str:
    filled = progress * _BAR_WIDTH // 100
    return "[" + "#" * filled + "." * (_BAR_WIDTH - filled) + f"] {progress:3d}%"


def _human_line(event: Event, tty: bool) -> str | None:
    if isinstance(event, AgentThinking) and event.data.partial_text is not None:
        return None  # streamed text arrives with the step's response
    prefix = _bar(event.data.progress) if tty else f"{event.data.progress:3d}%"
    return f"{prefix} {event.message}"


def _prepare_out_dir(path: Path) -> Path:
    """Create ``--out`` before the run, so a bad path fails fast instead of after the work."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigFileError(f"cannot create output directory {path}: {exc.strerror}") from None
    return path


def _chart_file_name(chart_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", chart_id).lstrip(".") + ".svg"


def _write_outputs(directory: Path, completed: Completed) -> list[Path]:
    """``report.md`` (the report, then links to its charts) and one SVG file per chart."""
    written: list[Path] = []
    links: list[str] = []
    for chart in completed.data.charts:
        target = directory / _chart_file_name(chart.id)
        target.write_text(chart.svg, encoding="utf-8")
        written.append(target)
        links.append(f"![{chart.title}]({target.name})")
    report = completed.data.full_content.rstrip() + "\n"
    if links:
        report += "\n## Charts\n\n" + "\n\n".join(links) + "\n"
    target = directory / "report.md"
    target.write_text(report, encoding="utf-8")
    return [target, *written]


async def _run(args: argparse.Namespace, out: TextIO, progress: TextIO) -> int:
    settings = load_config(args.config, os.environ, args.provider)
    dataset = _load_dataset(args.dataset) if args.dataset is not None else None
    out_dir = _prepare_out_dir(args.out) if args.out is not None else None
    recorder = install_recorder() if args.trace else None
    orch = Orchestrator.from_settings(settings)
    tty = progress.isatty()
    terminal: Event | None = None
    try:
        context = RunContext(dataset=dataset, now=args.now)
        # aclosing: if writing fails (a closed pipe), the run is cancelled at once.
        async with contextlib.aclosing(orch.stream(args.question, context)) as events:
            async for event in events:
                if args.json:
                    out.write(encode_event(event).decode() + "\n")
                    out.flush()
                else:
                    line = _human_line(event, tty)
                    if line is not None:
                        progress.write(line + "\n")
                        progress.flush()
                terminal = event
    finally:
        await orch.aclose()
        if recorder is not None:
            print_span_tree(recorder.get_finished_spans(), progress)
    if isinstance(terminal, Completed):
        if not args.json:
            out.write(terminal.data.full_content.rstrip() + "\n")
            out.flush()
            progress.write(f"usage: {describe_usage(terminal.data.usage)}\n")
        if out_dir is not None:
            for path in _write_outputs(out_dir, terminal):
                progress.write(f"wrote {path}\n")
        return EXIT_OK
    if isinstance(terminal, ErrorEvent) and not args.json:
        progress.write(f"error [{terminal.data.code}]: {terminal.data.error}\n")
    return EXIT_FAILED


def _silence_closed_pipes() -> None:
    """Point stdout and stderr at /dev/null, so the interpreter's final flush of what is still
    buffered for a reader that left cannot print "Exception ignored ... BrokenPipeError"."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, stream.fileno())
    os.close(devnull)


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, progress: TextIO | None = None
) -> int:
    """Run the command; ``out`` (default stdout) gets the result, ``progress`` (default stderr)
    everything else."""
    args = _parser().parse_args(argv)
    if args.command == "eval":
        from orchestrator import evals

        _configure_logging(False)
        try:
            return evals.main(args.cases, args.category, out or sys.stdout)
        except (OSError, ValueError, msgspec.ValidationError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    progress = progress or sys.stderr
    problem = question_problem(args.question)
    if problem is not None:
        print(f"error [{problem.code}]: {problem.message}", file=progress)
        return EXIT_USAGE
    _configure_logging(args.verbose)
    try:
        return asyncio.run(_run(args, out or sys.stdout, progress))
    except BrokenPipeError:
        _silence_closed_pipes()
        return EXIT_BROKEN_PIPE
    except ConfigFileError as exc:
        print(f"error: {exc}", file=progress)
        return EXIT_USAGE
    except (ValueError, ToolError) as exc:  # e.g. an unknown tool or factors file in config
        print(f"error: {exc}", file=progress)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=progress)
        return EXIT_INTERRUPTED
