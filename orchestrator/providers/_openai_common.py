"""What both OpenAI providers share: the SDK client, the streamed POST, and error mapping.

The SDK stays in charge of transport, auth headers, base URL / Azure deployment routing and
error classification; we only ask it for the raw streamed ``httpx2.Response`` (the documented
``client.post(path, cast_to=httpx2.Response)`` escape hatch, plus the stream marker header its
own ``with_streaming_response`` uses) and parse the bytes ourselves. Measured per 4-step run:
the typed ``create()`` spends ~5 ms just transforming request params and ~35 ms building
pydantic event models; this path costs about what raw HTTP does (``bench/providers.py``).

Retries: the SDK's own retries are turned off for these streamed calls (``max_retries=0`` per
request). The state machine is the single retry layer: it knows the run's time budget, honours
``retry_after`` and never repeats a turn whose tool calls already ran. Two stacked retry layers
would multiply attempts against a struggling server.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx2
import msgspec
import openai

from orchestrator.config import LLMConfig, ReasoningMode
from orchestrator.providers._openai_probe import probe_models
from orchestrator.providers._openai_sse import SSEFrame, iter_sse_frames
from orchestrator.providers.base import (
    AuthenticationFailed,
    BadResponse,
    ProbeResult,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)

__all__ = [
    "AuthFailureRecorder",
    "ErrorBody",
    "OpenAIProviderBase",
    "build_client",
    "drain",
    "error_from_payload",
    "is_reasoning_model",
    "map_sdk_error",
    "map_transport_error",
    "stream_post",
    "takes_temperature",
]

_JSON = msgspec.json.Encoder()
# Ask the SDK for the undecoded, still-streaming httpx2.Response (see _base_client).
_STREAM_HEADERS = {"X-Stainless-Raw-Response": "stream", "Content-Type": "application/json"}
_MISSING_KEY = "missing-api-key"
_RETRY_AFTER_CAP_S = 600.0
_DRAIN_S = 1.0
# A 5xx body that says the request itself is wrong (not retried: it would fail the same way).
_REFUSED_REQUEST = re.compile(
    r"validation error|(?:cannot|can't|could not|couldn't|failed to|unable to) (?:parse|decode)"
    r"|invalid (?:request|json|schema|grammar)|unsupported (?:param|value|schema)",
    re.IGNORECASE,
)
# OpenAI's reasoning model families (they reject ``temperature``). The ``gpt-5*-chat*``
# models are the non-reasoning ChatGPT snapshots of the family.
_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")
_NON_REASONING_MARK = "-chat"


def is_reasoning_model(model: str, mode: ReasoningMode = "auto") -> bool:
    """Whether ``model`` is a reasoning model: by name (``o1``/``o3``/``o4``/``gpt-5`` families,
    except their ``-chat`` snapshots) unless the configuration says so explicitly."""
    if mode != "auto":
        return mode == "always"
    return model.startswith(_REASONING_PREFIXES) and _NON_REASONING_MARK not in model


def takes_temperature(model: str, mode: ReasoningMode = "auto") -> bool:
    """Whether the model accepts a ``temperature`` (reasoning models do not)."""
    return not is_reasoning_model(model, mode)


def _api_key(config: LLMConfig, env_name: str) -> tuple[str, bool]:
    """The configured key, else the environment's; a placeholder lets keyless local servers work."""
    key = config.api_key or os.environ.get(env_name)
    if key:
        return key, True
    return _MISSING_KEY, False


def build_client(
    config: LLMConfig, *, http_client: httpx2.AsyncClient | None, azure: bool
) -> tuple[openai.AsyncOpenAI, bool]:
    """One SDK client per provider instance; returns it and whether a real key was configured."""
    timeout = httpx2.Timeout(
        connect=config.connect_timeout_s,
        read=config.read_timeout_s,
        write=config.read_timeout_s,
        pool=config.connect_timeout_s,
    )
    if azure:
        if not config.base_url:
            raise ValueError(
                "llm.base_url must be the Azure endpoint (https://NAME.openai.azure.com)"
            )
        key, has_key = _api_key(config, "AZURE_OPENAI_API_KEY")
        client: openai.AsyncOpenAI = openai.AsyncAzureOpenAI(
            azure_endpoint=config.base_url,
            # Without an explicit deployment, the model name is the deployment name.
            azure_deployment=config.azure_deployment or config.model,
            api_version=config.azure_api_version,
            api_key=key,
            timeout=timeout,
            # Only for non-streamed requests made with this client; model calls pass 0.
            max_retries=config.max_retries,
            http_client=http_client,
        )
        return client, has_key
    key, has_key = _api_key(config, "OPENAI_API_KEY")
    client = openai.AsyncOpenAI(
        api_key=key,
        organization=config.organization,
        project=config.project,
        base_url=config.base_url,
        timeout=timeout,
        max_retries=config.max_retries,  # model calls pass 0: see the module docstring
        http_client=http_client,
    )
    return client, has_key


class AuthFailureRecorder:
    """Remembers the last 401/403 so ``/health`` can tell the operator (never the key)."""

    def __init__(self) -> None:
        self.last_auth_failure: str | None = None

    def record(self, message: str) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        self.last_auth_failure = f"{stamp} {message}"


def _retry_after(headers: httpx2.Headers) -> float | None:
    """Seconds from ``retry-after-ms`` / ``retry-after`` (delta seconds or HTTP date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return min(max(float(raw_ms) / 1000.0, 0.0), _RETRY_AFTER_CAP_S)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return min(max(float(raw), 0.0), _RETRY_AFTER_CAP_S)
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    delta = moment.timestamp() - time.time()
    return min(max(delta, 0.0), _RETRY_AFTER_CAP_S)


def _status_message(err: openai.APIStatusError) -> str:
    body = err.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return err.message


def map_sdk_error(
    err: openai.OpenAIError, *, where: str, has_key: bool, auth: AuthFailureRecorder
) -> ProviderError:
    """Translate an SDK exception into our typed provider errors (stable codes)."""
    if isinstance(err, openai.APITimeoutError):
        return ProviderTimeout(f"{where}: the request timed out")
    if isinstance(err, openai.APIConnectionError):
        cause = err.__cause__
        detail = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
        return ProviderUnavailable(
            f"{where}: cannot connect to the model server{detail}",
            # The server closed a pooled keep-alive connection as the request went out on it
            # ("Server disconnected without sending a response"): a fresh connection works.
            stale_connection=isinstance(cause, httpx2.RemoteProtocolError),
        )
    if isinstance(err, openai.APIStatusError):
        status = err.status_code
        text = _status_message(err)
        if status in (401, 403):
            hint = "" if has_key else " No API key is configured: set OPENAI_API_KEY."
            message = f"{where}: the model server rejected the credentials (HTTP {status}).{hint}"
            auth.record(message)
            return AuthenticationFailed(message)
        if status == 429:
            return RateLimited(
                f"{where}: rate limited (HTTP 429): {text}",
                retry_after=_retry_after(err.response.headers),
            )
        if status == 408:
            return ProviderTimeout(f"{where}: the server timed out the request (HTTP 408)")
        if status >= 500 and _REFUSED_REQUEST.search(text):
            # Some servers (llama.cpp, proxies) answer a request they cannot parse with a 500:
            # the same request would fail again, so it is not an outage to retry.
            return BadResponse(
                f"{where}: the server could not process the request (HTTP {status}): {text}"
            )
        if status >= 500:
            return ProviderUnavailable(
                f"{where}: server error (HTTP {status}): {text}",
                retry_after=_retry_after(err.response.headers),
            )
        return BadResponse(f"{where}: the server refused the request (HTTP {status}): {text}")
    return BadResponse(f"{where}: {type(err).__name__}: {err}")


def map_transport_error(err: httpx2.HTTPError, *, where: str) -> ProviderError:
    """Failures while reading the body: after the headers, outside the SDK's reach."""
    if isinstance(err, httpx2.TimeoutException):
        return ProviderTimeout(f"{where}: the stream stalled (read timeout)")
    return ProviderUnavailable(f"{where}: the stream broke off ({type(err).__name__})")


class ErrorBody(msgspec.Struct):
    """The ``error`` object of OpenAI error payloads (top level or inside a response)."""

    message: str | None = None
    code: str | int | None = None
    type: str | None = None


def error_from_payload(error: ErrorBody | None, *, where: str) -> ProviderError:
    """An error reported inside a stream (``error`` / ``response.failed`` events)."""
    if error is None:
        return BadResponse(f"{where}: the model server reported a failure without details")
    code = str(error.code or error.type or "")
    message = f"{where}: {error.message or 'failed'}" + (f" ({code})" if code else "")
    if "rate_limit" in code:
        return RateLimited(message)
    if code in {"server_error", "overloaded", "service_unavailable", "internal_error"}:
        return ProviderUnavailable(message)
    if code in {"invalid_api_key", "authentication_error"}:
        return AuthenticationFailed(message)
    return BadResponse(message)


@asynccontextmanager
async def stream_post(
    client: openai.AsyncOpenAI,
    path: str,
    body: dict[str, Any],
    *,
    where: str,
    has_key: bool,
    auth: AuthFailureRecorder,
) -> AsyncIterator[AsyncGenerator[bytes, None]]:
    """POST ``body`` through the SDK and yield the raw response byte stream.

    Status errors and connection failures before the first byte come back as the SDK's typed
    exceptions and are mapped here; failures while streaming are mapped too. The response is
    always closed.
    """
    try:
        response = await client.post(
            path,
            cast_to=httpx2.Response,
            content=_JSON.encode(body),
            options={"headers": _STREAM_HEADERS, "max_retries": 0},
        )
    except openai.OpenAIError as err:
        raise map_sdk_error(err, where=where, has_key=has_key, auth=auth) from err
    chunks = _guarded(response, where)
    try:
        yield chunks
    finally:
        await chunks.aclose()
        await response.aclose()


async def _guarded(response: httpx2.Response, where: str) -> AsyncGenerator[bytes, None]:
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    except httpx2.HTTPError as err:
        raise map_transport_error(err, where=where) from err


async def drain(frames: AsyncIterator[object]) -> None:
    """Read what follows the final event, so the keep-alive connection can be reused.

    Closing a response before its body ended discards the connection: every model call would
    then pay a new TCP (and TLS) handshake. Bounded, because the answer is already complete.
    """
    try:
        async with asyncio.timeout(_DRAIN_S):
            async for _ in frames:
                pass
    except (TimeoutError, ProviderError):
        return


class OpenAIProviderBase:
    """The SDK client, key check and auth-failure memory one OpenAI provider instance owns."""

    def __init__(
        self, config: LLMConfig, *, http_client: httpx2.AsyncClient | None, azure: bool
    ) -> None:
        self.config = config
        self._client, self._has_key = build_client(config, http_client=http_client, azure=azure)
        self._auth = AuthFailureRecorder()

    @property
    def last_auth_failure(self) -> str | None:
        """``"<UTC time> <message>"`` of the last rejected key, for ``/health``; never the key."""
        return self._auth.last_auth_failure

    async def aclose(self) -> None:
        await self._client.close()

    async def probe(self, models: tuple[str, ...], timeout_s: float) -> ProbeResult:
        """``GET /models`` on the configured server (:mod:`._openai_probe`); Azure lists
        models, not deployments, so there only reachability is checked."""
        check = not isinstance(self._client, openai.AsyncAzureOpenAI)
        return await probe_models(self._client, models, timeout_s, check_models=check)

    @asynccontextmanager
    async def _frames(
        self, path: str, body: dict[str, Any], *, where: str
    ) -> AsyncIterator[AsyncGenerator[SSEFrame, None]]:
        """The SSE frames of one streamed POST; response and parser are closed on exit."""
        async with (
            stream_post(
                self._client, path, body, where=where, has_key=self._has_key, auth=self._auth
            ) as chunks,
            aclosing(iter_sse_frames(chunks)) as frames,
        ):
            yield frames
