"""``python -m orchestrator ask "question"``: run one question from a terminal or a script.

Human mode prints one line per event (with a progress bar on a terminal) and then the report;
``--json`` prints each event as one JSON line (the same objects the SSE stream carries). The
exit code is 0 when the run completed, 1 when it failed, 2 for bad usage or configuration and
130 when interrupted. Reads ``config.toml`` itself (the service's loader lives in ``app``,
which this library never imports); logs go to stderr so stdout stays clean.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import msgspec
import structlog

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
from tools.catalog_types import Dataset, ToolError

__all__ = ["ConfigFileError", "load_config", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
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
    ask.add_argument("--json", action="store_true", help="print events as JSON lines")
    ask.add_argument("--dataset", type=Path, help="a CSV or JSON file the steps can analyse")
    ask.add_argument(
        "--config", type=Path, help="configuration file (default $APP_CONFIG, else ./config.toml)"
    )
    ask.add_argument(
        "--now", type=_parse_now, help="ISO timestamp the run treats as now (reproducible runs)"
    )
    ask.add_argument("-v", "--verbose", action="store_true", help="log transitions to stderr")
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


async def _run(args: argparse.Namespace, out: TextIO) -> int:
    settings = load_config(args.config, os.environ, args.provider)
    dataset = _load_dataset(args.dataset) if args.dataset is not None else None
    orch = Orchestrator.from_settings(settings)
    tty = out.isatty() and not args.json
    terminal: Event | None = None
    try:
        context = RunContext(dataset=dataset, now=args.now)
        async for event in orch.stream(args.question, context):
            if args.json:
                out.write(encode_event(event).decode() + "\n")
            else:
                line = _human_line(event, tty)
                if line is not None:
                    out.write(line + "\n")
            out.flush()
            terminal = event
    finally:
        await orch.aclose()
    if isinstance(terminal, Completed):
        if not args.json:
            out.write("\n" + terminal.data.full_content.rstrip() + "\n")
        return EXIT_OK
    if isinstance(terminal, ErrorEvent) and not args.json:
        print(f"error [{terminal.data.code}]: {terminal.data.error}", file=sys.stderr)
    return EXIT_FAILED


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "eval":
        from orchestrator import evals

        _configure_logging(False)
        try:
            return evals.main(args.cases, args.category, out or sys.stdout)
        except (OSError, ValueError, msgspec.ValidationError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    _configure_logging(args.verbose)
    try:
        return asyncio.run(_run(args, out or sys.stdout))
    except ConfigFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, ToolError) as exc:  # e.g. an unknown tool or factors file in config
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
