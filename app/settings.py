"""Service settings: ``config.toml`` + environment overrides, decoded into frozen msgspec Structs.

CONTRACT (attribute names are relied on by app/auth, app/runs and others). The loader
(``load_settings``) is implemented by the foundation work: see README "Configuration".
"""

from __future__ import annotations

from typing import Literal

import msgspec

from orchestrator.config import (
    AccountingConfig,
    AssistantsConfig,
    BudgetConfig,
    LLMConfig,
    OrchestratorSettings,
    ToolsConfig,
)

__all__ = [
    "AuthSettings",
    "CorsSettings",
    "DatabaseSettings",
    "DatasetSettings",
    "LoggingSettings",
    "RateLimitSettings",
    "RedisSettings",
    "RunSettings",
    "ServerSettings",
    "Settings",
]


class ServerSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    mode: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # Public origin users reach the service at; WebAuthn origin/RP ID follow it unless set.
    public_origin: str | None = None
    max_request_body_bytes: int = 1_048_576
    graceful_shutdown_s: float = 10.0


class DatabaseSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    url: str = "sqlite+aiosqlite:///var/app.db"
    sqlite_wal: bool = True
    sqlite_busy_timeout_ms: int = 5000
    pool_size: int = 10
    max_overflow: int = 10
    pool_pre_ping: bool = True
    echo: bool = False
    migrate_on_start: bool = True


class RedisSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    url: str | None = None
    key_prefix: str = "sca"


class AuthSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # WebAuthn relying party. None -> derived from server.public_origin / host:port.
    rp_id: str | None = None
    rp_name: str = "Sustainable City AI"
    allowed_origins: tuple[str, ...] = ()
    user_verification: Literal["preferred", "required", "discouraged"] = "preferred"
    challenge_ttl_s: int = 300
    # JWT. Secret from JWT_SECRET (required in production mode). Never logged.
    jwt_secret: str | None = None
    jwt_algorithm: Literal["HS256", "ES256"] = "HS256"
    jwt_private_key_file: str | None = None
    jwt_public_key_file: str | None = None
    jwt_issuer: str = "sustainable-city-ai"
    jwt_audience: str = "sustainable-city-ai"
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 1_209_600
    run_ticket_ttl_s: int = 60


class RateLimitSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    enabled: bool = True
    ceremony_per_minute: int = 30


class CorsSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    allow_origins: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age_s: int = 600


class LoggingSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "console"] = "auto"


class RunSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    max_question_chars: int = 4000
    max_concurrent_per_user: int = 3
    max_concurrent_per_process: int = 64
    cancel_on_disconnect: bool = False
    keepalive_s: float = 15.0
    lease_s: float = 30.0
    heartbeat_s: float = 5.0


class DatasetSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    max_bytes: int = 5_242_880
    max_rows: int = 100_000


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    auth: AuthSettings = AuthSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    cors: CorsSettings = CorsSettings()
    logging: LoggingSettings = LoggingSettings()
    runs: RunSettings = RunSettings()
    datasets: DatasetSettings = DatasetSettings()
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
