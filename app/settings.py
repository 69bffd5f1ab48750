"""Service settings: ``config.toml`` + environment overrides, decoded into frozen msgspec Structs.

CONTRACT: attribute names are relied on by app/auth, app/runs and others.

Loading order (later wins): built-in defaults, the TOML file (``--config`` / ``APP_CONFIG`` /
``./config.toml``), the conventional variables (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``,
``DATABASE_URL``, ``REDIS_URL``, ``JWT_SECRET``), then ``APP__<SECTION>__<KEY>`` variables.
Every problem is collected and reported at once by :class:`ConfigError`, one line per key, so
an operator fixes a bad deployment in one round instead of one restart per typo.

Limits live on their fields (``Annotated[int, msgspec.Meta(ge=1)]``, here and in the
orchestrator's config structs, which these settings embed rather than restate): msgspec
enforces them, and the "expected …" words of each message are derived from the same ``Meta``.
Only what a type cannot express (URLs, origins, proxy networks, a secret's length in bytes,
relations between keys) is checked in code below.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit

import msgspec

from app.secret_strength import MIN_JWT_SECRET_BYTES, weak_secret_reason
from app.settings_checks import (
    CODE_CHECKS,
    describe_type,
    expected_words,
    show_value,
    strip_annotated,
    unwrap_optional,
)
from orchestrator import (
    ASSISTANT_NAMES,
    MAX_QUESTION_CHARS,
    NAME_RULE,
    RESERVED_NAMES,
    AccountingConfig,
    AssistantConfig,
    AssistantsConfig,
    BudgetConfig,
    ExtraAssistantConfig,
    LLMConfig,
    NonBlankStr,
    OrchestratorSettings,
    ToolRegistry,
    ToolsConfig,
    is_assistant_name,
)
from tools.catalog_types import ToolError
from tools.footprint import load_factor_table
from tools.grid.file import parse_series_file

__all__ = [
    "CONVENTIONAL_ENV",
    "ENV_PREFIX",
    "AuthSettings",
    "ConfigError",
    "CorsSettings",
    "DatabaseSettings",
    "DatasetSettings",
    "LoggingSettings",
    "MetricsSettings",
    "RateLimitSettings",
    "RedisSettings",
    "RunSettings",
    "ServerSettings",
    "Settings",
    "TelemetrySettings",
    "expected_value",
    "load_settings",
]

_log = logging.getLogger("app.settings")

ENV_PREFIX = "APP__"
# Conventional variable -> settings path. Applied before APP__* so the explicit scheme wins.
CONVENTIONAL_ENV: dict[str, tuple[str, ...]] = {
    "OPENAI_API_KEY": ("llm", "api_key"),
    "OPENAI_BASE_URL": ("llm", "base_url"),
    "DATABASE_URL": ("database", "url"),
    "REDIS_URL": ("redis", "url"),
    "JWT_SECRET": ("auth", "jwt_secret"),
}
DEFAULT_CONFIG_FILE = "config.toml"
_REDACTED = "***"
# A file path that is not blank (the pattern is searched: one non-whitespace character).
_NonBlankPath = Annotated[str, msgspec.Meta(pattern=r"\S", description="non-empty path")]


class ConfigError(Exception):
    """Invalid configuration; ``problems`` holds one ``key: what is wrong`` line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid configuration:\n" + "\n".join(self.problems))


def _redact_url(url: str | None) -> str | None:
    """Hide the password part of a DSN (``postgresql://user:pw@host/db``)."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", f":{_REDACTED}@", 1)
    return parts._replace(netloc=netloc).geturl()


class ServerSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    mode: Literal["development", "production"] = "development"
    host: NonBlankStr = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8000
    """TCP port to listen on."""
    workers: Annotated[int, msgspec.Meta(ge=1)] = 1
    """Granian worker processes (more than 1 needs ``redis.url``, a cross-check below)."""
    # Public origin users reach the service at; WebAuthn origin/RP ID follow it unless set.
    public_origin: str | None = None
    # The service's own files (the default SQLite database lives here); /health reports
    # whether it exists and how many files it holds (the predecessor's data directory keys).
    data_dir: str = "var"
    # Reverse proxies (IPs, CIDR networks, or "*") whose X-Forwarded-For/-Proto are believed;
    # empty: the socket peer is the client (the rate limit would count a proxy as one client).
    trusted_proxies: tuple[str, ...] = ()
    max_request_body_bytes: Annotated[int, msgspec.Meta(ge=1)] = 1_048_576
    """Largest accepted request body in bytes (bigger bodies get 413)."""
    max_json_depth: Annotated[int, msgspec.Meta(ge=1, le=500)] = 32
    """Deepest nesting of arrays/objects a JSON body may have (app.request_body); no request
    of the API nests more than 4 levels, and msgspec's recursion fails near 1,000."""
    graceful_shutdown_s: Annotated[float, msgspec.Meta(ge=0)] = 10.0
    """Seconds workers get to finish requests on SIGTERM/SIGINT; 0 stops at once."""
    backlog: Annotated[int, msgspec.Meta(ge=128, le=65535)] = 2048
    """TCP accept queue (granian's backlog; the kernel caps it at somaxconn). Granian's 1024
    overflowed when 1,000 SSE clients (re)connected at once: dropped SYNs, 15 s stragglers."""
    # Event loop of each worker: "auto" is uvloop when installed (it is a dependency on
    # Linux and macOS), else asyncio's. uvloop costs ~20 % less CPU per SSE frame.
    loop: Literal["auto", "asyncio", "uvloop"] = "auto"
    # Opt in to sharing the port with other processes (SO_REUSEPORT); off, ``python -m app``
    # refuses to start on a port another process listens on (see app.port_guard).
    reuse_port: bool = False
    health_probe_ttl_s: Annotated[float, msgspec.Meta(ge=0)] = 30.0
    """Seconds ``/health`` reuses its probe of the model server (``GET /models`` through the
    provider's client: no model call, no tokens); concurrent calls share one probe. 0 turns
    the probe off."""


class DatabaseSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    url: str = "sqlite+aiosqlite:///var/app.db"
    sqlite_wal: bool = True
    sqlite_busy_timeout_ms: Annotated[int, msgspec.Meta(ge=0)] = 5000
    """SQLite only: milliseconds to wait for a lock before failing; 0 fails at once."""
    pool_size: Annotated[int, msgspec.Meta(ge=1)] = 10
    """PostgreSQL only: pooled connections per worker."""
    max_overflow: Annotated[int, msgspec.Meta(ge=0)] = 10
    """PostgreSQL only: extra connections beyond ``pool_size``."""
    pool_pre_ping: bool = True
    echo: bool = False
    migrate_on_start: bool = True

    def __repr__(self) -> str:
        return f"DatabaseSettings(url={_redact_url(self.url)!r}, ...)"

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


class RedisSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    url: str | None = None
    key_prefix: str = "sca"

    def __repr__(self) -> str:
        return f"RedisSettings(url={_redact_url(self.url)!r}, key_prefix={self.key_prefix!r})"


class AuthSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # WebAuthn relying party. None -> derived from server.public_origin / host:port.
    rp_id: str | None = None
    rp_name: str = "Sustainable City AI"
    allowed_origins: tuple[str, ...] = ()
    user_verification: Literal["preferred", "required", "discouraged"] = "preferred"
    challenge_ttl_s: Annotated[int, msgspec.Meta(ge=1)] = 300
    """Seconds a registration/login challenge stays valid."""
    max_pending_challenges_per_client: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 100
    """Pending WebAuthn challenges one client (IPv4 address or IPv6 /64) may hold at once
    (at most ``max_pending_challenges``, a cross-check below)."""
    max_pending_challenges: Annotated[int, msgspec.Meta(ge=100, le=10_000_000)] = 10_000
    """Pending challenges in all; when full, the heaviest client's oldest one is evicted."""
    # JWT. Secret from JWT_SECRET (required in production mode). Never logged.
    jwt_secret: str | None = None
    # Development mode without jwt_secret: where ``python -m app`` keeps its generated secret.
    dev_secret_file: _NonBlankPath = "var/dev-jwt-secret"  # noqa: S105 - a path, not a secret
    jwt_algorithm: Literal["HS256", "ES256"] = "HS256"
    jwt_private_key_file: str | None = None
    jwt_public_key_file: str | None = None
    jwt_issuer: str = "sustainable-city-ai"
    jwt_audience: str = "sustainable-city-ai"
    access_token_ttl_s: Annotated[int, msgspec.Meta(ge=301)] = 900
    """Access token lifetime in seconds: over 300, as clients refresh 5 minutes early."""
    refresh_token_ttl_s: Annotated[int, msgspec.Meta(ge=1)] = 1_209_600
    """Refresh token lifetime in seconds (more than ``access_token_ttl_s``, a cross-check)."""
    refresh_grace_s: Annotated[int, msgspec.Meta(ge=0, le=60)] = 10
    """Seconds during which a refresh token already used is answered with the same new pair
    (a client retrying a timed-out refresh) instead of revoking its login. 0: never."""
    run_ticket_ttl_s: Annotated[int, msgspec.Meta(ge=1)] = 60
    """Lifetime of the signed tickets that let EventSource follow a run."""

    def __repr__(self) -> str:
        secret = None if self.jwt_secret is None else _REDACTED
        return (
            f"AuthSettings(rp_id={self.rp_id!r}, allowed_origins={self.allowed_origins!r}, "
            f"jwt_secret={secret!r}, jwt_algorithm={self.jwt_algorithm!r}, ...)"
        )


class RateLimitSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    enabled: bool = True
    ceremony_per_minute: Annotated[int, msgspec.Meta(ge=1)] = 30
    """Ceremony and refresh calls per minute per client (IPv4 address or IPv6 /64)."""
    account_per_minute: Annotated[int, msgspec.Meta(ge=1)] = 10
    """login/begin and register/begin calls per minute naming one email, from all clients."""


class CorsSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    allow_origins: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age_s: Annotated[int, msgspec.Meta(ge=0)] = 600
    """Seconds browsers may cache a preflight answer; 0 asks every time."""


class LoggingSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "console"] = "auto"


class TelemetrySettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    tracing: bool = False
    """OpenTelemetry traces (request, run, step, LLM and tool call spans), exported with
    OTLP/HTTP as the standard ``OTEL_*`` variables say; off costs nothing."""
    capture_content: bool = False
    """Put prompts, completions and tool arguments/results on the spans (they hold users'
    questions and data): only for debugging, on a collector you trust."""


class RunSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    max_question_chars: Annotated[int, msgspec.Meta(ge=1)] = MAX_QUESTION_CHARS
    """Longest accepted question, in characters."""
    max_concurrent_per_user: Annotated[int, msgspec.Meta(ge=1)] = 3
    """Runs one user may have in flight at once (429 beyond)."""
    max_concurrent_per_process: Annotated[int, msgspec.Meta(ge=1)] = 64
    """Runs one worker process executes at once."""
    cancel_on_disconnect: bool = False
    keepalive_s: Annotated[float, msgspec.Meta(gt=0)] = 15.0
    """Seconds between SSE keep-alive comments."""
    lease_s: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    """Seconds without a renewal after which a running run counts as interrupted."""
    heartbeat_s: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    """Seconds between lease renewals (less than ``lease_s``, a cross-check below)."""
    max_resumes: Annotated[int, msgspec.Meta(ge=0, le=100)] = 2
    """Times a run whose worker died or shut down is resumed from its last checkpoint by
    another worker; beyond it the run ends ``interrupted``. 0: never resume."""
    handover_s: Annotated[float, msgspec.Meta(gt=0, le=300)] = 5.0
    """Seconds a stopping worker waits for its runs to reach a step boundary before it hands
    them over anyway (a model call then in flight is made again by the next worker). Keep it
    under ``server.graceful_shutdown_s``: a worker killed first loses its runs to the lease
    instead (still resumed, as ``worker_lost``)."""


class MetricsSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    enabled: bool = True
    """Collect Prometheus metrics and serve them at ``GET /metrics`` (summed over workers)."""
    token: str | None = None
    """Bearer token ``/metrics`` requires; unset: open (set it from the environment,
    ``APP__METRICS__TOKEN``, or keep the port private). Never logged."""
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 0
    """0: ``/metrics`` on the service's own port. Else only on this port, served by the
    ``python -m app`` process on ``host`` (no token there: keep that port private)."""
    host: NonBlankStr = "127.0.0.1"
    """Address of the separate metrics port (used only when ``port`` is set)."""

    def __repr__(self) -> str:
        token = None if self.token is None else _REDACTED
        return (
            f"MetricsSettings(enabled={self.enabled!r}, token={token!r}, "
            f"port={self.port!r}, host={self.host!r})"
        )


class DatasetSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    max_bytes: Annotated[int, msgspec.Meta(ge=1)] = 5_242_880
    """Largest accepted upload in bytes."""
    max_rows: Annotated[int, msgspec.Meta(ge=1)] = 100_000
    """Most rows accepted in one dataset."""
    # Caps on what a small file could still blow up (tools.analysis.upload.UploadLimits).
    max_columns: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 1_000
    """Most columns in one dataset."""
    max_cell_chars: Annotated[int, msgspec.Meta(ge=1, le=131_072)] = 10_000
    """Longest cell (or column name) in characters. csv's own field limit is 131,072
    characters: a larger cap would never apply to CSV."""
    max_cells: Annotated[int, msgspec.Meta(ge=1)] = 2_000_000
    """Most cells (rows x columns) in one dataset."""
    max_json_depth: Annotated[int, msgspec.Meta(ge=3, le=500)] = 8
    """Deepest nesting of a JSON upload. It needs 3 levels ({"rows": [{...}]}); the
    decoder's recursion fails near 1,000."""
    parse_cpu_s: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    """CPU seconds one parse may use (in a worker thread)."""
    max_concurrent_parses: Annotated[int, msgspec.Meta(ge=1)] = 2
    """Parses at once per worker; more get 503 uploads_busy."""
    max_per_user: Annotated[int, msgspec.Meta(ge=1)] = 100
    """Per-user quota: datasets kept."""
    max_total_bytes_per_user: Annotated[int, msgspec.Meta(ge=1)] = 104_857_600
    """Per-user quota: the sum of the user's dataset file sizes in bytes."""


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    auth: AuthSettings = AuthSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    cors: CorsSettings = CorsSettings()
    logging: LoggingSettings = LoggingSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    runs: RunSettings = RunSettings()
    datasets: DatasetSettings = DatasetSettings()
    metrics: MetricsSettings = MetricsSettings()
    llm: LLMConfig = LLMConfig()
    orchestrator: BudgetConfig = BudgetConfig()
    accounting: AccountingConfig = AccountingConfig()
    assistants: AssistantsConfig = AssistantsConfig()
    tools: ToolsConfig = ToolsConfig()

    def orchestrator_settings(self) -> OrchestratorSettings:
        """The subset the orchestrator library reads."""
        return OrchestratorSettings(
            llm=self.llm,
            budgets=self.orchestrator,
            accounting=self.accounting,
            assistants=self.assistants,
            tools=self.tools,
        )

    def public_origin(self) -> str:
        """Where users reach the service: ``server.public_origin`` or ``http://localhost:<port>``."""
        if self.server.public_origin:
            return self.server.public_origin.rstrip("/")
        return f"http://localhost:{self.server.port}"

    def rp_id(self) -> str:
        """The WebAuthn RP ID: ``auth.rp_id`` or the host of :meth:`public_origin`."""
        if self.auth.rp_id:
            return self.auth.rp_id
        return urlsplit(self.public_origin()).hostname or "localhost"

    def allowed_origins(self) -> tuple[str, ...]:
        """Origins WebAuthn accepts in ``clientDataJSON``: configured, else the public origin."""
        if self.auth.allowed_origins:
            return self.auth.allowed_origins
        return (self.public_origin(),)

    def redacted(self) -> dict[str, Any]:
        """The settings as plain data with every secret masked: the only form that is logged."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        for path in _SECRET_PATHS:
            section = data[path[0]]
            if section.get(path[1]) is not None:
                section[path[1]] = _REDACTED
        for path in _URL_PATHS:
            section = data[path[0]]
            section[path[1]] = _redact_url(section.get(path[1]))
        return data

    def __repr__(self) -> str:
        return f"Settings({self.redacted()!r})"


_SECRET_PATHS: tuple[tuple[str, str], ...] = (
    ("auth", "jwt_secret"),
    ("llm", "api_key"),
    ("metrics", "token"),
)
_URL_PATHS: tuple[tuple[str, str], ...] = (("database", "url"), ("redis", "url"))


# ----------------------------------------------------------------------------- loading


def load_settings(
    config_path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    generate_dev_secret: bool = True,
) -> Settings:
    """Read the TOML file and the environment, validate everything, return frozen Settings.

    ``config_path`` (or ``APP_CONFIG``) must exist when given; the default ``./config.toml``
    may be missing, in which case built-in defaults apply. Raises :class:`ConfigError`.
    Without a JWT secret in development mode a random one is generated (with a warning)
    unless ``generate_dev_secret`` is false (``python -m app`` makes one for all workers).
    """
    env = os.environ if environ is None else environ
    problems: list[str] = []
    data = _read_toml(config_path, env, problems)
    _apply_conventional_env(data, env)
    _apply_prefixed_env(data, env, problems)
    _validate_tree(data, Settings, (), problems)
    settings = msgspec.convert(data, Settings, strict=True)
    problems.extend(_cross_checks(settings))
    if problems:
        raise ConfigError(problems)
    return _ensure_jwt_secret(settings) if generate_dev_secret else settings


def _read_toml(
    config_path: str | os.PathLike[str] | None, env: Mapping[str, str], problems: list[str]
) -> dict[str, Any]:
    explicit = config_path if config_path is not None else env.get("APP_CONFIG") or None
    path = Path(explicit) if explicit is not None else Path(DEFAULT_CONFIG_FILE)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        if explicit is not None:
            problems.append(f"config file: {path} does not exist")
        return {}
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"config file: {path} is not valid TOML ({exc})")
    except OSError as exc:
        problems.append(f"config file: cannot read {path} ({exc.strerror})")
    return {}


def _apply_conventional_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    for name, path in CONVENTIONAL_ENV.items():
        value = env.get(name)
        if value:
            _set_path(data, path, value)


def _apply_prefixed_env(data: dict[str, Any], env: Mapping[str, str], problems: list[str]) -> None:
    for name in sorted(env):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        if len(parts) < 2 or not all(parts):
            problems.append(f"{name}: expected APP__<SECTION>__<KEY>")
            continue
        path = tuple(parts)
        _set_path(data, path, _parse_env_value(env[name], _type_at(path)))


def _set_path(data: dict[str, Any], path: tuple[str, ...], value: object) -> None:
    node = data
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value


def _type_at(path: tuple[str, ...]) -> Any:
    """The annotated type of a settings key, or None for unknown keys."""
    current: Any = Settings
    for part in path:
        current = unwrap_optional(current)
        if isinstance(current, type) and issubclass(current, msgspec.Struct):
            fields = {f.name: f.type for f in msgspec.structs.fields(current)}
            if part not in fields:
                return None
            current = fields[part]
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        else:
            return None
    return current


def _accepts_none(tp: Any) -> bool:
    tp = strip_annotated(tp)
    return typing.get_origin(tp) in (Union, types.UnionType) and type(None) in typing.get_args(tp)


def _accepts_str(tp: Any) -> bool:
    tp = strip_annotated(tp)
    if tp is str:
        return True
    origin = typing.get_origin(tp)
    if origin is Literal:
        return all(isinstance(a, str) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return any(_accepts_str(a) for a in typing.get_args(tp))
    return False


def _parse_env_value(raw: str, tp: Any) -> object:
    """Parse an env value as a TOML literal; string-typed keys keep the raw text.

    ``APP__AUTH__JWT_SECRET=123…`` must stay a string, while ``APP__SERVER__PORT=8080`` is an
    int and ``APP__CORS__ALLOW_ORIGINS=["https://a"]`` an array (TOML or JSON syntax).
    """
    text = raw.strip()
    if not text and _accepts_none(tp):
        return None  # ``APP__REDIS__URL=`` unsets an optional key (handy in compose files)
    if _accepts_str(tp) and not (len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'"):
        return raw
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    try:
        return json.loads(text)
    except ValueError:
        return raw


# ----------------------------------------------------------------------------- validation


def _validate_tree(value: object, tp: Any, path: tuple[str, ...], problems: list[str]) -> bool:
    """Check ``value`` against ``tp`` key by key so that every bad key is reported.

    Invalid keys are removed from their table, so the remainder still decodes and the
    cross-key checks can run in the same pass.
    """
    key = ".".join(path)
    struct = unwrap_optional(tp)
    if isinstance(struct, type) and issubclass(struct, msgspec.Struct):
        if not isinstance(value, dict):
            if value is None and struct is not tp:
                return True
            problems.append(f"{key or '<root>'}: expected a table, got {show_value(value)}")
            return False
        fields = {f.name: f for f in msgspec.structs.fields(struct)}
        ok = True
        given = set(value)
        for name in list(value):
            if name not in fields:
                problems.append(f"{'.'.join((*path, name))}: unknown key")
                del value[name]
            elif not _validate_tree(value[name], fields[name].type, (*path, name), problems):
                del value[name]
                ok = ok and not fields[name].required
        for name, field in fields.items():
            if field.required and name not in given:
                problems.append(
                    f"{'.'.join((*path, name))}: required ({describe_type(field.type)})"
                )
                ok = False
        return ok
    if typing.get_origin(tp) is dict and isinstance(value, dict):
        name_problem = _NAME_RULES.get(key)
        for name in list(value):
            bad_name = name_problem(str(name)) if name_problem is not None else None
            if bad_name is not None:
                problems.append(f"{key}.{name}: {bad_name}")
            valid = _validate_tree(
                value[name], typing.get_args(tp)[1], (*path, str(name)), problems
            )
            if bad_name is not None or not valid:
                del value[name]
        return True
    check, expected = _check_for(path, tp)
    try:
        converted = msgspec.convert(value, tp, strict=True)
    except msgspec.ValidationError:
        problems.append(f"{key}: expected {expected}, got {show_value(value)}")
        return False
    if check is not None and not check(converted):
        problems.append(f"{key}: expected {expected}, got {show_value(value)}")
        return False
    return True


def _check_for(path: tuple[str, ...], tp: Any) -> tuple[Callable[[Any], bool] | None, str]:
    """The code check of a key (None when its type says it all) and what it expects."""
    return CODE_CHECKS.get(".".join(path)) or (None, expected_words(tp))


def expected_value(key: str) -> str | None:
    """What the dotted ``key`` (``server.port``, ``assistants.extra.water.model``) accepts.

    The same words the start-up check prints after "expected", so the configuration
    reference (``app.config_reference``) states exactly what is enforced. None for a key the
    settings do not have.
    """
    path = tuple(key.split("."))
    tp = _type_at(path)
    if tp is None:
        return None
    return _check_for(path, tp)[1]


def _extra_assistant_name_problem(name: str) -> str | None:
    """What is wrong with ``[assistants.extra.<name>]``'s name (it becomes a step kind)."""
    if name in ASSISTANT_NAMES:
        return (
            f"expected a name that is not a built-in assistant's (configure the {name} "
            f"assistant in [assistants.{name}]), got {show_value(name)}"
        )
    if not is_assistant_name(name):
        reserved = ", ".join(json.dumps(n) for n in sorted(RESERVED_NAMES))
        return f"expected an assistant name of {NAME_RULE}, not {reserved}, got {show_value(name)}"
    return None


# Table key -> what is wrong with a name in it (None when it is fine), for keys that are names.
_NAME_RULES: dict[str, Callable[[str], str | None]] = {
    "assistants.extra": _extra_assistant_name_problem,
}


def _cross_checks(settings: Settings) -> list[str]:
    problems: list[str] = []
    auth, runs, metrics = settings.auth, settings.runs, settings.metrics
    if metrics.port and metrics.port == settings.server.port:
        problems.append(
            f"metrics.port: expected a port other than server.port ({settings.server.port}), "
            "or 0 for /metrics on the service's port"
        )
    if metrics.port and metrics.token is not None:
        problems.append(
            "metrics.token: the separate metrics port (metrics.port) takes no token; "
            "unset one of them"
        )
    if runs.heartbeat_s >= runs.lease_s:
        problems.append(
            f"runs.heartbeat_s: expected less than runs.lease_s ({runs.lease_s:g}), "
            f"got {runs.heartbeat_s:g}"
        )
    if auth.max_pending_challenges_per_client > auth.max_pending_challenges:
        problems.append(
            "auth.max_pending_challenges_per_client: expected at most "
            f"auth.max_pending_challenges ({auth.max_pending_challenges}), "
            f"got {auth.max_pending_challenges_per_client}"
        )
    if auth.refresh_token_ttl_s <= auth.access_token_ttl_s:
        problems.append(
            "auth.refresh_token_ttl_s: expected more than auth.access_token_ttl_s "
            f"({auth.access_token_ttl_s}), got {auth.refresh_token_ttl_s}"
        )
    if auth.jwt_algorithm == "ES256":
        for name in ("jwt_private_key_file", "jwt_public_key_file"):
            path = getattr(auth, name)
            if path is None:
                problems.append(f'auth.{name}: required when auth.jwt_algorithm is "ES256"')
            elif not Path(path).is_file():
                problems.append(f"auth.{name}: file {path} does not exist")
    elif settings.server.mode == "production" and auth.jwt_secret is None:
        problems.append(
            "auth.jwt_secret: required in production mode (set JWT_SECRET, "
            f"at least {MIN_JWT_SECRET_BYTES} bytes)"
        )
    elif settings.server.mode == "production" and auth.jwt_secret is not None:
        weakness = weak_secret_reason(auth.jwt_secret)
        if weakness is not None:
            problems.append(
                f"auth.jwt_secret: too weak for production mode: {weakness}. Generate one: "
                'python -c "import secrets; print(secrets.token_urlsafe(48))"'
            )
    if settings.auth.rp_id is not None and (
        "/" in settings.auth.rp_id or ":" in settings.auth.rp_id
    ):
        problems.append(
            f'auth.rp_id: expected a bare domain like "example.org", got {show_value(auth.rp_id)}'
        )
    if settings.llm.provider == "openai" and not settings.llm.api_key:
        problems.append('llm.api_key: required when llm.provider is "openai" (set OPENAI_API_KEY)')
    if settings.llm.provider == "openai_chat" and not settings.llm.base_url:
        problems.append(
            'llm.base_url: required when llm.provider is "openai_chat" (set OPENAI_BASE_URL)'
        )
    if settings.server.workers > 1 and settings.redis.url is None:
        problems.append(
            "server.workers: more than 1 worker needs redis.url (REDIS_URL): in-memory channels "
            "and stores are per process, so live run events would not reach every subscriber"
        )
    if settings.tools.grid_source == "file" and not settings.tools.grid_file:
        problems.append('tools.grid_file: required when tools.grid_source is "file"')
    problems.extend(_assistant_tool_problems(settings.assistants))
    problems.extend(_tool_file_problems(settings.tools))
    return problems


def _one_of(names: typing.Iterable[str]) -> str:
    return "one of " + ", ".join(json.dumps(n) for n in sorted(names))


def _assistant_tool_problems(assistants: AssistantsConfig) -> list[str]:
    """Tool names the orchestrator would refuse (function tools) or drop (hosted tools).

    The names come from where the orchestrator looks them up: the catalog registry that
    ``Orchestrator.from_settings`` builds, and the OpenAI Responses provider's hosted tools.
    """
    problems: list[str] = []
    specs: dict[str, AssistantConfig | ExtraAssistantConfig] = {
        f"assistants.{name}": getattr(assistants, name) for name in ASSISTANT_NAMES
    }
    specs.update({f"assistants.extra.{n}": extra for n, extra in assistants.extra.items()})
    registered = ToolRegistry.from_catalog().names()
    hosted: Mapping[str, object] = {}
    if any(spec.hosted_tools for spec in specs.values()):
        # Lazy: the OpenAI SDK is imported only when hosted tools are configured at all.
        from orchestrator import HOSTED_TOOLS

        hosted = HOSTED_TOOLS
    for table, spec in specs.items():
        for key, given, known, what in (
            ("tools", spec.tools or (), registered, "registered tool names"),
            ("hosted_tools", spec.hosted_tools, tuple(hosted), "supported hosted tool names"),
        ):
            unknown = [tool for tool in given if tool not in known]
            if unknown:
                problems.append(
                    f"{table}.{key}: expected {what} ({_one_of(known)}), "
                    f"got {', '.join(json.dumps(tool) for tool in unknown)}"
                )
    return problems


def _tool_file_problems(tools: ToolsConfig) -> list[str]:
    """The grid file and the emission factors file: present, readable and valid, now.

    Each is loaded the way the tools load it at run time (``parse_series_file`` behind
    ``FileGridSource``; ``load_factor_table``), so a bad file fails the start-up instead of
    every run that needs it.
    """
    problems: list[str] = []
    if tools.grid_source == "file" and tools.grid_file:
        path = tools.grid_file
        try:
            text = Path(path).read_text(encoding="utf-8-sig")  # as FileGridSource reads it
            parse_series_file(text, Path(path).name)
        except OSError as exc:
            problems.append(_file_problem("tools.grid_file", path, exc))
        except (ToolError, ValueError) as exc:
            problems.append(
                "tools.grid_file: expected a CSV or JSON grid series "
                f"(timestamp,value[,is_forecast][,region]), got {path} ({exc})"
            )
    if tools.emission_factors_file is not None:
        path = tools.emission_factors_file
        try:
            load_factor_table(path)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, OSError):
                problems.append(_file_problem("tools.emission_factors_file", path, cause))
            else:
                problems.append(
                    "tools.emission_factors_file: expected a TOML or JSON file of emission "
                    f"factors, got {path} ({cause or exc})"
                )
    if tools.emission_factors:
        try:
            load_factor_table(None, tools.emission_factors)
        except ToolError as exc:
            problems.append(f"tools.emission_factors: expected usable emission factors, got {exc}")
    return problems


def _file_problem(key: str, path: str, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"{key}: file {path} does not exist"
    return f"{key}: cannot read {path} ({exc.strerror or exc})"


def _ensure_jwt_secret(settings: Settings) -> Settings:
    """Development mode without a secret: a random per-process one, with a loud warning."""
    if settings.auth.jwt_secret is not None or settings.auth.jwt_algorithm != "HS256":
        return settings
    _log.warning(
        "JWT_SECRET is not set: using a random per-process secret (development mode only). "
        "Tokens will not survive a restart. Set JWT_SECRET (>= %d bytes) for real use.",
        MIN_JWT_SECRET_BYTES,
    )
    auth = msgspec.structs.replace(settings.auth, jwt_secret=secrets.token_urlsafe(48))
    return msgspec.structs.replace(settings, auth=auth)
