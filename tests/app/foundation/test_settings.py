"""Settings: defaults, every kind of override, and one clear message per bad key."""

from __future__ import annotations

import json
import re
from pathlib import Path

import msgspec
import pytest

from app.settings import ConfigError, Settings, load_settings
from orchestrator.registry import ToolRegistry
from tests.live_server import run_app

SECRET = "s" * 40
# What `secrets.token_urlsafe(48)` prints: the kind of secret production accepts.
STRONG_SECRET = "Qm7vR2xKp9LwT4hZsN8cYbF3jD6gAeU1oV5iXqE0rWtHyPkM"


@pytest.fixture(autouse=True)
def _hermetic_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ./config.toml in the working directory: only what each test passes counts."""
    monkeypatch.chdir(tmp_path)


def problems_of(environ: dict[str, str], config_path: Path | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(config_path, environ)
    return info.value.problems


def test_defaults_without_any_file() -> None:
    settings = load_settings(environ={"JWT_SECRET": SECRET})
    assert msgspec.structs.replace(settings, auth=Settings().auth) == Settings()
    assert settings.server.port == 8000
    assert settings.database.url == "sqlite+aiosqlite:///var/app.db"
    assert settings.llm.provider == "offline"
    assert settings.orchestrator.max_messages_per_run == 40


def test_repository_config_toml_equals_the_defaults() -> None:
    root = Path(__file__).resolve().parents[3]
    settings = load_settings(root / "config.toml", {"JWT_SECRET": SECRET})
    assert msgspec.structs.replace(settings, auth=Settings().auth) == Settings()


def _leaf_keys(tp: type[msgspec.Struct], prefix: str = "") -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    for field in msgspec.structs.fields(tp):
        if isinstance(field.type, type) and issubclass(field.type, msgspec.Struct):
            keys.extend(_leaf_keys(field.type, f"{prefix}{field.name}."))
        else:
            keys.append((prefix.rstrip("."), field.name))
    return keys


def test_config_toml_documents_every_key() -> None:
    """Every settings key appears in config.toml (set, or commented out) in its section."""
    text = (Path(__file__).resolve().parents[3] / "config.toml").read_text()
    sections = re.split(r"^\[([a-z_.]+)\]\s*$", text, flags=re.MULTILINE)
    by_section = dict(zip(sections[1::2], sections[2::2], strict=True))
    missing = []
    for section, key in _leaf_keys(Settings):
        body = by_section.get(section, "")
        if key in ("prices", "extra"):  # tables keyed by the operator's names: a section each
            if f"{section}.{key}" not in by_section:
                missing.append(f"{section}.{key}")
            continue
        if not re.search(rf"^#? ?{key} = ", body, flags=re.MULTILINE):
            missing.append(f"{section}.{key}")
    assert missing == [], f"add these keys (commented if optional) to config.toml: {missing}"


def test_env_overrides_of_each_kind() -> None:
    env = {
        "JWT_SECRET": SECRET,
        "APP__SERVER__PORT": "9001",  # int
        "APP__SERVER__GRACEFUL_SHUTDOWN_S": "2.5",  # float
        "APP__DATABASE__SQLITE_WAL": "false",  # bool
        "APP__LLM__MODEL": "12345",  # a str key keeps digits as text
        "APP__LOGGING__LEVEL": "DEBUG",  # literal
        "APP__CORS__ALLOW_ORIGINS": '["https://a.example", "https://b.example"]',  # array
        "APP__AUTH__ALLOWED_ORIGINS": "['https://c.example']",  # TOML literal-string array
        "APP__ASSISTANTS__REPORT__TEMPERATURE": "0.3",  # nested section
        "APP__ASSISTANTS__CARBON__TOOLS": '["carbon_footprint"]',
        "APP__ACCOUNTING__PRICES__GPT-X": "{input = 1.5, output = 6}",  # inline table
        "APP__ACCOUNTING__WATTS_PER_CORE": "7.5",
        "APP__SERVER__PUBLIC_ORIGIN": '"https://city.example.org"',  # quoted string
    }
    settings = load_settings(None, env)
    assert settings.server.port == 9001
    assert settings.server.graceful_shutdown_s == 2.5
    assert settings.database.sqlite_wal is False
    assert settings.llm.model == "12345"
    assert settings.logging.level == "DEBUG"
    assert settings.cors.allow_origins == ("https://a.example", "https://b.example")
    assert settings.auth.allowed_origins == ("https://c.example",)
    assert settings.assistants.report.temperature == 0.3
    assert settings.assistants.carbon.tools == ("carbon_footprint",)
    assert settings.accounting.prices["gpt-x"].input == 1.5
    assert settings.accounting.prices["gpt-x"].output == 6.0
    assert settings.accounting.watts_per_core == 7.5
    assert settings.server.public_origin == "https://city.example.org"


def test_conventional_names_and_precedence() -> None:
    env = {
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1",
        "DATABASE_URL": "postgresql+asyncpg://u:pw@db.example/app",
        "REDIS_URL": "redis://127.0.0.1:6379/3",
        "JWT_SECRET": SECRET,
    }
    settings = load_settings(None, env)
    assert settings.llm.api_key == "sk-test"
    assert settings.llm.base_url == "http://127.0.0.1:11434/v1"
    assert settings.database.url == "postgresql+asyncpg://u:pw@db.example/app"
    assert settings.redis.url == "redis://127.0.0.1:6379/3"
    assert settings.auth.jwt_secret == SECRET
    # The explicit APP__ scheme wins over the conventional name.
    both = load_settings(None, {**env, "APP__REDIS__URL": "redis://other:6379/0"})
    assert both.redis.url == "redis://other:6379/0"


def test_empty_value_unsets_an_optional_key(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[redis]\nurl = "redis://127.0.0.1:6379/0"\n')
    settings = load_settings(config, {"JWT_SECRET": SECRET, "APP__REDIS__URL": ""})
    assert settings.redis.url is None
    assert 'server.host: expected non-empty string, got ""' in problems_of(
        {"APP__SERVER__HOST": ""}
    )


def test_file_then_env(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[server]\nport = 7000\nhost = "0.0.0.0"\n[llm]\nmodel = "from-file"\n')
    settings = load_settings(config, {"JWT_SECRET": SECRET, "APP__SERVER__PORT": "7001"})
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 7001)
    assert settings.llm.model == "from-file"
    via_env = load_settings(None, {"JWT_SECRET": SECRET, "APP_CONFIG": str(config)})
    assert via_env.server.port == 7000


def test_missing_explicit_file_and_invalid_toml(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert problems_of({}, missing) == [f"config file: {missing} does not exist"]
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\nport = 1\n")
    (problem,) = problems_of({}, broken)
    assert problem.startswith(f"config file: {broken} is not valid TOML")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"APP__SERVER__PORT": "abc"}, 'server.port: expected int in 1..65535, got "abc"'),
        ({"APP__SERVER__PORT": "70000"}, "server.port: expected int in 1..65535, got 70000"),
        ({"APP__SERVER__WORKERS": "0"}, "server.workers: expected int >= 1, got 0"),
        ({"APP__SERVER__BACKLOG": "10"}, "server.backlog: expected int in 128..65535, got 10"),
        (
            {"APP__SERVER__LOOP": "trio"},
            'server.loop: expected one of "auto", "asyncio", "uvloop", got "trio"',
        ),
        (
            {"APP__LLM__REASONING": "yes"},
            'llm.reasoning: expected one of "auto", "always", "never", got "yes"',
        ),
        (
            {"APP__SERVER__MODE": "prod"},
            'server.mode: expected one of "development", "production", got "prod"',
        ),
        ({"APP__DATABASE__SQLITE_WAL": "yes"}, 'database.sqlite_wal: expected boolean, got "yes"'),
        (
            {"APP__AUTH__ACCESS_TOKEN_TTL_S": "300"},
            "auth.access_token_ttl_s: expected int >= 301, got 300",
        ),
        ({"APP__RUNS__KEEPALIVE_S": "0"}, "runs.keepalive_s: expected number > 0, got 0"),
        ({"APP__SERVER__BOGUS": "1"}, "server.bogus: unknown key"),
        ({"APP__NOPE__X": "1"}, "nope: unknown key"),
        ({"APP__SERVER": "1"}, "APP__SERVER: expected APP__<SECTION>__<KEY>"),
        (
            {"APP__AUTH__ALLOWED_ORIGINS": '["https://*.example.org", "https://a.example/"]'},
            'auth.allowed_origins: expected array of exact origins like "https://example.org" '
            "(scheme://host[:port] as browsers send it: no wildcard, path or trailing slash), "
            'got ["https://*.example.org", "https://a.example/"]',
        ),
        (
            {"APP__CORS__ALLOW_ORIGINS": '["*"]'},
            'cors.allow_origins: expected array of exact origins like "https://example.org" '
            "(scheme://host[:port] as browsers send it: no wildcard, path or trailing slash), "
            'got ["*"]',
        ),
        (
            {"DATABASE_URL": "mysql://db/app"},
            'database.url: expected URL "sqlite+aiosqlite:///path.db" or '
            '"postgresql+asyncpg://user@host/db", got "mysql://db/app"',
        ),
        (
            {"APP__ASSISTANTS__PLANNER__TEMPERATURE": "3"},
            "assistants.planner.temperature: expected number in 0..2, got 3",
        ),
        (
            {"APP__ACCOUNTING__PRICES__M": "{input = -1, output = 1}"},
            "accounting.prices.m.input: expected number >= 0, got -1",
        ),
        (
            {"APP__ACCOUNTING__PRICES__M": "{input = 1}"},
            "accounting.prices.m.output: required (number)",
        ),
        (
            {"APP__ACCOUNTING__WATTS_PER_CORE": "501"},
            "accounting.watts_per_core: expected number in 0..500, got 501",
        ),
        (
            {"APP__ACCOUNTING__WATTS_PER_CORE": "-2.5"},
            "accounting.watts_per_core: expected number in 0..500, got -2.5",
        ),
        (
            {"JWT_SECRET": "short"},
            'auth.jwt_secret: expected string of at least 32 bytes, got "short"',
        ),
        (
            {"APP__LLM__PROVIDER": "openai"},
            'llm.api_key: required when llm.provider is "openai" (set OPENAI_API_KEY)',
        ),
        (
            {"APP__SERVER__WORKERS": "2"},
            "server.workers: more than 1 worker needs redis.url (REDIS_URL): in-memory channels "
            "and stores are per process, so live run events would not reach every subscriber",
        ),
        (
            {"APP__RUNS__HEARTBEAT_S": "30"},
            "runs.heartbeat_s: expected less than runs.lease_s (30), got 30",
        ),
        (
            {"APP__AUTH__RP_ID": "https://x.example"},
            'auth.rp_id: expected a bare domain like "example.org", got "https://x.example"',
        ),
    ],
)
def test_each_bad_value_has_its_message(env: dict[str, str], expected: str) -> None:
    assert expected in problems_of(env)


def test_all_problems_are_reported_at_once() -> None:
    problems = problems_of(
        {
            "APP__SERVER__PORT": "abc",
            "APP__SERVER__WORKERS": "0",
            "APP__SERVER__MODE": "production",
            "APP__LOGGING__LEVEL": "LOUD",
        }
    )
    assert sorted(problems) == [
        "auth.jwt_secret: required in production mode (set JWT_SECRET, at least 32 bytes)",
        'logging.level: expected one of "DEBUG", "INFO", "WARNING", "ERROR", got "LOUD"',
        'server.port: expected int in 1..65535, got "abc"',
        "server.workers: expected int >= 1, got 0",
    ]


def test_production_requires_jwt_secret_and_development_generates_one() -> None:
    assert "auth.jwt_secret: required in production mode (set JWT_SECRET, at least 32 bytes)" in (
        problems_of({"APP__SERVER__MODE": "production"})
    )
    production = load_settings(
        None, {"APP__SERVER__MODE": "production", "JWT_SECRET": STRONG_SECRET}
    )
    assert production.auth.jwt_secret == STRONG_SECRET
    first = load_settings(None, {})
    second = load_settings(None, {})
    assert first.auth.jwt_secret is not None
    assert len(first.auth.jwt_secret) >= 32
    assert first.auth.jwt_secret != second.auth.jwt_secret
    assert load_settings(None, {}, generate_dev_secret=False).auth.jwt_secret is None


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("a" * 32, "the pattern 'a' repeated"),
        ("a" * 64, "the pattern 'a' repeated"),
        ("changeme-changeme-changeme-1234567", 'placeholder "changeme"'),
        ("CHANGE_ME_" + "x9Tq2" * 6, 'placeholder "changeme"'),
        ("my-super-secret-jwt-key-for-prod-2026", 'placeholder "supersecret"'),
        ("0123456789" * 4, "the pattern '01234567'… repeated"),
        ("abababababababababababababababab9", "only 3 different characters"),
        ("aaaaaaaaaaaaaaaaaaaaaaaabcdefghijk", "estimated strength"),
    ],
)
def test_production_refuses_weak_jwt_secrets(secret: str, reason: str) -> None:
    [problem] = problems_of({"APP__SERVER__MODE": "production", "JWT_SECRET": secret})
    assert problem.startswith("auth.jwt_secret: too weak for production mode: "), problem
    assert reason in problem
    assert "secrets.token_urlsafe(48)" in problem
    assert secret not in problem  # the refusal never echoes the secret
    # Development still starts with it (only tokens for local accounts are at stake).
    assert load_settings(None, {"JWT_SECRET": secret}).auth.jwt_secret == secret


@pytest.mark.parametrize(
    "secret",
    [
        STRONG_SECRET,
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # openssl rand -hex 32
        "3q2+7w==Zk1pT0xYbG9wZXJhdGlvbnM6dW5pcXVlIGtleQ",  # base64 of 32 random-looking bytes
    ],
)
def test_production_accepts_generated_secrets(secret: str) -> None:
    settings = load_settings(None, {"APP__SERVER__MODE": "production", "JWT_SECRET": secret})
    assert settings.auth.jwt_secret == secret


def test_origin_and_rp_id_derivation() -> None:
    default = load_settings(None, {"JWT_SECRET": SECRET, "APP__SERVER__PORT": "8123"})
    assert default.public_origin() == "http://localhost:8123"
    assert default.rp_id() == "localhost"
    assert default.allowed_origins() == ("http://localhost:8123",)
    proxied = load_settings(
        None, {"JWT_SECRET": SECRET, "APP__SERVER__PUBLIC_ORIGIN": "https://city.example.org/"}
    )
    assert proxied.public_origin() == "https://city.example.org"
    assert proxied.rp_id() == "city.example.org"
    assert proxied.allowed_origins() == ("https://city.example.org",)
    explicit = load_settings(
        None,
        {
            "JWT_SECRET": SECRET,
            "APP__AUTH__RP_ID": "example.org",
            "APP__AUTH__ALLOWED_ORIGINS": '["https://a.example.org", "https://b.example.org"]',
        },
    )
    assert explicit.rp_id() == "example.org"
    assert explicit.allowed_origins() == ("https://a.example.org", "https://b.example.org")


def test_secrets_never_appear_in_representations() -> None:
    settings = load_settings(
        None,
        {
            "JWT_SECRET": SECRET,
            "OPENAI_API_KEY": "sk-very-secret",
            "DATABASE_URL": "postgresql+asyncpg://app:db-password@db.example/app",
            "REDIS_URL": "redis://:redis-password@cache.example:6379/0",
        },
    )
    for text in (
        repr(settings),
        str(settings.redacted()),
        repr(settings.auth),
        repr(settings.database),
        repr(settings.redis),
    ):
        assert SECRET not in text
        assert "sk-very-secret" not in text
        assert "db-password" not in text
        assert "redis-password" not in text
    redacted = settings.redacted()
    assert redacted["auth"]["jwt_secret"] == "***"
    assert redacted["llm"]["api_key"] == "***"
    assert redacted["database"]["url"] == "postgresql+asyncpg://app:***@db.example/app"


CORS_EXPECTED = (
    'cors.allow_origins: expected array of exact origins like "https://example.org" '
    "(scheme://host[:port] as browsers send it: no wildcard, path or trailing slash), got "
)


@pytest.mark.parametrize(
    "origin",
    [
        "https://*.example.org",  # Litestar would make it the regex https://.*\.example\.org
        "https://*",
        "*",
        "https://app.example.*",
        "https://example.org/",  # a browser never sends the slash: would never match
        "https://example.org/app",
        "https://example.org?x=1",
        "https://example.org#top",
        "https://user@example.org",
        "HTTPS://Example.org",
        "https://example.org:443",  # browsers omit the default port
        "https://example.org:99999",
        "https://example.org:",
        "ftp://example.org",
        "example.org",
    ],
)
def test_cors_origins_must_be_exact(origin: str) -> None:
    value = json.dumps([origin])
    assert problems_of({"APP__CORS__ALLOW_ORIGINS": value}) == [CORS_EXPECTED + value]


def test_cors_accepts_serialized_origins() -> None:
    origins = ("http://localhost:5173", "https://app.example.org", "https://[::1]:8443")
    settings = load_settings(
        None, {"JWT_SECRET": SECRET, "APP__CORS__ALLOW_ORIGINS": json.dumps(origins)}
    )
    assert settings.cors.allow_origins == origins


def _registered() -> str:
    return ", ".join(json.dumps(n) for n in sorted(ToolRegistry.from_catalog().names()))


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"APP__ASSISTANTS__CARBON__TOOLS": '["grid_intensty", "carbon_footprint"]'},
            [
                "assistants.carbon.tools: expected registered tool names "
                f'(one of {_registered()}), got "grid_intensty"'
            ],
        ),
        (
            {
                "APP__ASSISTANTS__PLANNER__TOOLS": '["a", "b"]',
                "APP__ASSISTANTS__REPORT__TOOLS": '["render_chart", "c"]',
            },
            [
                f"assistants.planner.tools: expected registered tool names "
                f"(one of {_registered()}), "
                'got "a", "b"',
                f"assistants.report.tools: expected registered tool names "
                f"(one of {_registered()}), "
                'got "c"',
            ],
        ),
        (
            {"APP__ASSISTANTS__ANALYSIS__HOSTED_TOOLS": '["code_interpreter", "web_search"]'},
            [
                "assistants.analysis.hosted_tools: expected supported hosted tool names "
                '(one of "code_interpreter"), got "web_search"'
            ],
        ),
    ],
)
def test_assistant_tool_names_must_exist(env: dict[str, str], expected: list[str]) -> None:
    assert problems_of(env) == expected


def test_known_tool_names_pass() -> None:
    settings = load_settings(
        None,
        {
            "JWT_SECRET": SECRET,
            "APP__ASSISTANTS__CARBON__TOOLS": '["grid_intensity", "render_chart"]',
            "APP__ASSISTANTS__REPORT__TOOLS": "[]",
            "APP__ASSISTANTS__REPORT__HOSTED_TOOLS": '["code_interpreter"]',
        },
    )
    assert settings.assistants.carbon.tools == ("grid_intensity", "render_chart")
    assert settings.assistants.report.hosted_tools == ("code_interpreter",)


GRID = "timestamp,value\n2026-11-01T00:00:00Z,250\n2026-11-01T00:30:00Z,240\n"
FACTOR = {
    "category": "electricity",
    "region": "ie",
    "unit": "kWh",
    "kgco2e_per_unit": 0.296,
    "year": 2024,
    "scope": 2,
    "ghg_category": "Scope 2: purchased electricity (location-based)",
    "source": "test",
}
GRID_ENV = {"APP__TOOLS__GRID_SOURCE": "file", "APP__TOOLS__GRID_FILE": "grid.csv"}
FACTORS_ENV = {"APP__TOOLS__EMISSION_FACTORS_FILE": "factors.json"}
FACTORS_INVALID = (
    "tools.emission_factors_file: expected a TOML or JSON file of emission factors, got "
)


@pytest.mark.parametrize(
    ("files", "env", "expected"),
    [
        ({}, GRID_ENV, "tools.grid_file: file grid.csv does not exist"),
        ({"grid.csv/": ""}, GRID_ENV, "tools.grid_file: cannot read grid.csv (Is a directory)"),
        (
            {"grid.csv": "time,intensity\n2026-11-01T00:00:00Z,250\n"},
            GRID_ENV,
            "tools.grid_file: expected a CSV or JSON grid series "
            "(timestamp,value[,is_forecast][,region]), got grid.csv "
            "(grid.csv: CSV header must include timestamp,value)",
        ),
        (
            {"grid.csv": "timestamp,value\n2026-11-01T00:00:00Z,-5\n"},
            GRID_ENV,
            "tools.grid_file: expected a CSV or JSON grid series "
            "(timestamp,value[,is_forecast][,region]), got grid.csv "
            "(grid.csv line 2: value must be a non-negative number, got '-5')",
        ),
        ({}, FACTORS_ENV, "tools.emission_factors_file: file factors.json does not exist"),
        (
            {"factors.json/": ""},
            FACTORS_ENV,
            "tools.emission_factors_file: cannot read factors.json (Is a directory)",
        ),
        (
            {"factors.json": "{"},
            FACTORS_ENV,
            FACTORS_INVALID
            + "factors.json (Expecting property name enclosed in double quotes: line 1 "
            "column 2 (char 1))",
        ),
        (
            {"factors.json": '{"factors": {}}'},
            FACTORS_ENV,
            FACTORS_INVALID + "factors.json (Expected `array`, got `object` - at `$.factors`)",
        ),
        (
            {"factors.json": json.dumps({"factors": [{**FACTOR, "kgco2e_per_unit": -1}]})},
            FACTORS_ENV,
            FACTORS_INVALID + "factors.json (emission factor for 'electricity' is negative)",
        ),
        (
            {"factors.toml": "factors = 1"},
            {"APP__TOOLS__EMISSION_FACTORS_FILE": "factors.toml"},
            FACTORS_INVALID + "factors.toml (Expected `array`, got `int` - at `$.factors`)",
        ),
    ],
)
def test_tool_files_must_exist_and_parse(
    tmp_path: Path, files: dict[str, str], env: dict[str, str], expected: str
) -> None:
    for name, text in files.items():
        if name.endswith("/"):
            (tmp_path / name).mkdir()
        else:
            (tmp_path / name).write_text(text)
    assert problems_of(env) == [expected]


def test_valid_tool_files_pass(tmp_path: Path) -> None:
    (tmp_path / "grid.csv").write_text(GRID)
    (tmp_path / "factors.json").write_text(json.dumps({"factors": [FACTOR]}))
    settings = load_settings(None, {"JWT_SECRET": SECRET, **GRID_ENV, **FACTORS_ENV})
    assert settings.tools.grid_file == "grid.csv"
    assert settings.tools.emission_factors_file == "factors.json"
    # The grid file is only read when it is the configured source.
    load_settings(None, {"JWT_SECRET": SECRET, "APP__TOOLS__GRID_FILE": "missing.csv"})


@pytest.mark.parametrize(
    ("toml", "table"),
    [
        ('[assistants.carbon]\ntools = ["grid_intensty"]\n', "assistants.carbon"),
        (
            '[assistants.extra.water]\ndescription = "d"\ninstructions = "i"\n'
            'tools = ["grid_intensty"]\n',
            "assistants.extra.water",
        ),
    ],
)
def test_python_m_app_exits_2_on_an_unknown_tool(tmp_path: Path, toml: str, table: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    result = run_app("--config", str(config))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "configuration error:",
        f"  {table}.tools: expected registered tool names "
        f'(one of {_registered()}), got "grid_intensty"',
    ]


def test_emission_factors_can_be_given_inline(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        "[[tools.emission_factors]]\n"
        + "".join(f"{key} = {json.dumps(value)}\n" for key, value in FACTOR.items())
    )
    settings = load_settings(config, {"JWT_SECRET": SECRET})
    (factor,) = settings.tools.emission_factors
    assert (factor.category, factor.region, factor.kgco2e_per_unit) == ("electricity", "ie", 0.296)
    # The environment takes the same list as JSON.
    env = {"JWT_SECRET": SECRET, "APP__TOOLS__EMISSION_FACTORS": json.dumps([FACTOR])}
    assert load_settings(None, env).tools.emission_factors == (factor,)


def test_unusable_inline_emission_factors_fail_at_start_up() -> None:
    bad = json.dumps([{**FACTOR, "unit": "furlong"}])
    (problem,) = problems_of({"JWT_SECRET": SECRET, "APP__TOOLS__EMISSION_FACTORS": bad})
    assert problem.startswith(
        "tools.emission_factors: expected usable emission factors, got emission factor for "
        "'electricity': "
    )
    assert "furlong" in problem


WATER_TOML = """
[assistants.extra.water]
description = "water use of sites: litres, leaks, savings"
instructions = "You are the water assistant."
tools = ["analyze_table", "render_chart"]
temperature = 0.2
"""


def test_extra_assistants_come_from_the_file_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        WATER_TOML + '[assistants.extra.waste]\ndescription = "d"\ninstructions = "i"\n'
    )
    extra = load_settings(config, {"JWT_SECRET": SECRET}).assistants.extra
    assert list(extra) == ["water", "waste"]
    water = extra["water"]
    assert water.description == "water use of sites: litres, leaks, savings"
    assert water.instructions == "You are the water assistant."
    assert water.tools == ("analyze_table", "render_chart")
    assert (water.temperature, water.model, water.hosted_tools) == (0.2, None, ())
    assert extra["waste"].tools == ()
    # Key by key, or a whole assistant as an inline table, over the file's.
    env = {
        "JWT_SECRET": SECRET,
        "APP__ASSISTANTS__EXTRA__WATER__MODEL": "gpt-4.1",
        "APP__ASSISTANTS__EXTRA__WATER__TOOLS": '["analyze_table"]',
        "APP__ASSISTANTS__EXTRA__ENERGY": '{description = "e", instructions = "i", tools = []}',
    }
    extra = load_settings(config, env).assistants.extra
    assert list(extra) == ["water", "waste", "energy"]
    assert (extra["water"].model, extra["water"].tools) == ("gpt-4.1", ("analyze_table",))
    assert extra["water"].description == water.description
    assert (extra["energy"].description, extra["energy"].instructions) == ("e", "i")


def test_the_orchestrator_settings_carry_the_extra_assistants(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(WATER_TOML)
    settings = load_settings(config, {"JWT_SECRET": SECRET})
    assert settings.orchestrator_settings().assistants.extra == settings.assistants.extra


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[assistants.extra.Water]\ndescription = "d"\ninstructions = "i"\n',
            [
                "assistants.extra.Water: expected an assistant name of lowercase letters, "
                "digits and _, starting with a letter (at most 40 characters), not "
                '"system", got "Water"'
            ],
        ),
        (
            '[assistants.extra."water use"]\ndescription = "d"\ninstructions = "i"\n',
            [
                "assistants.extra.water use: expected an assistant name of lowercase letters, "
                "digits and _, starting with a letter (at most 40 characters), not "
                '"system", got "water use"'
            ],
        ),
        (
            '[assistants.extra.system]\ndescription = "d"\ninstructions = "i"\n',
            [
                "assistants.extra.system: expected an assistant name of lowercase letters, "
                "digits and _, starting with a letter (at most 40 characters), not "
                '"system", got "system"'
            ],
        ),
        (
            '[assistants.extra.carbon]\ndescription = "d"\ninstructions = "i"\n',
            [
                "assistants.extra.carbon: expected a name that is not a built-in assistant's "
                '(configure the carbon assistant in [assistants.carbon]), got "carbon"'
            ],
        ),
        (
            '[assistants.extra.water]\ninstructions = "i"\n',
            ["assistants.extra.water.description: required (string)"],
        ),
        (
            '[assistants.extra.water]\ndescription = "d"\n',
            ["assistants.extra.water.instructions: required (string)"],
        ),
        (
            '[assistants.extra.water]\ndescription = " "\ninstructions = ""\n',
            [
                'assistants.extra.water.description: expected non-empty string, got " "',
                'assistants.extra.water.instructions: expected non-empty string, got ""',
            ],
        ),
        (
            '[assistants.extra.water]\ndescription = "d"\ninstructions = "i"\n'
            'tools = ["analyze_table", "read_meter"]\nhosted_tools = ["web_search"]\n',
            [
                "assistants.extra.water.tools: expected registered tool names "
                f'(one of {_registered()}), got "read_meter"',
                "assistants.extra.water.hosted_tools: expected supported hosted tool names "
                '(one of "code_interpreter"), got "web_search"',
            ],
        ),
        (
            '[assistants.extra.water]\ndescription = "d"\ninstructions = "i"\n'
            "temperature = 3\nmax_output_tokens = 0\n",
            [
                "assistants.extra.water.temperature: expected number in 0..2, got 3",
                "assistants.extra.water.max_output_tokens: expected int >= 1 (or unset), got 0",
            ],
        ),
        (
            '[assistants.extra.water]\ndescription = "d"\ninstructions = "i"\ntool = []\n',
            ["assistants.extra.water.tool: unknown key"],
        ),
        ("[assistants]\nextra = 3\n", ["assistants.extra: expected table of table, got 3"]),
    ],
)
def test_each_bad_extra_assistant_has_its_message(
    tmp_path: Path, toml: str, expected: list[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(toml)
    assert problems_of({"JWT_SECRET": SECRET}, config) == expected


def test_every_problem_of_extra_assistants_is_reported_at_once(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        WATER_TOML.replace('"render_chart"', '"render_chrat"')
        + "[assistants.extra.Waste]\ntemperature = 5\n"
    )
    assert problems_of({"JWT_SECRET": SECRET}, config) == [
        "assistants.extra.Waste: expected an assistant name of lowercase letters, digits and _, "
        'starting with a letter (at most 40 characters), not "system", got "Waste"',
        "assistants.extra.Waste.temperature: expected number in 0..2, got 5",
        "assistants.extra.Waste.description: required (string)",
        "assistants.extra.Waste.instructions: required (string)",
        "assistants.extra.water.tools: expected registered tool names "
        f'(one of {_registered()}), got "render_chrat"',
    ]
