"""The OpenAI providers' probe: ``GET /models`` through the provider's own SDK client.

Listing models is free on every OpenAI-compatible server (OpenAI, Azure, Ollama, vLLM,
llama.cpp's ``llama-server``, LiteLLM), answers in milliseconds and needs the same base URL,
credentials and proxy settings as a model call: a server that answers it is reachable with
this configuration. No model runs, no token is spent.

A model counts as served when the list has its exact id, or its Ollama ``:latest`` tag. Azure
lists the resource's models, not its deployments, so there only reachability is checked. A
server that does not implement the list (HTTP 404/405) is reachable and cannot say more: ok.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import openai

from orchestrator.providers.base import ProbeResult

__all__ = ["probe_models", "server_label"]

_SHOWN_MODELS = 8
_UNLISTED = frozenset({404, 405, 501})


def server_label(client: openai.AsyncOpenAI) -> str:
    """The server's scheme://host[:port]/path, without user info (a URL may carry a password)."""
    parts = urlsplit(str(client.base_url))
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"


def _served(model: str, ids: set[str]) -> bool:
    return model in ids or f"{model}:latest" in ids


async def probe_models(
    client: openai.AsyncOpenAI, models: tuple[str, ...], timeout_s: float, *, check_models: bool
) -> ProbeResult:
    """List the server's models once (no SDK retries, ``timeout_s`` for the whole request)."""
    where = server_label(client)
    started = time.perf_counter()
    try:
        page = await client.with_options(timeout=timeout_s, max_retries=0).models.list()
    except openai.APITimeoutError:
        return ProbeResult(
            status="unreachable",
            message=f"model server {where} did not answer within {timeout_s:g} s",
        )
    except openai.APIConnectionError as err:
        cause = err.__cause__
        detail = f" ({type(cause).__name__})" if cause is not None else ""
        return ProbeResult(status="unreachable", message=f"cannot connect to {where}{detail}")
    except openai.APIStatusError as err:
        latency = _ms_since(started)
        status = err.status_code
        if status in _UNLISTED:
            return ProbeResult(
                status="ok",
                message=f"model server {where} reachable (it does not list models)",
                latency_ms=latency,
            )
        if status in (401, 403):
            return ProbeResult(
                status="rejected",
                message=f"model server {where} rejected the credentials (HTTP {status})",
                latency_ms=latency,
            )
        return ProbeResult(
            status="error",
            message=f"model server {where} answered HTTP {status} to GET /models",
            latency_ms=latency,
        )
    except openai.OpenAIError as err:  # an unparsable list: the server answered, oddly
        return ProbeResult(
            status="error",
            message=f"model server {where} sent an unreadable model list ({type(err).__name__})",
            latency_ms=_ms_since(started),
        )
    latency = _ms_since(started)
    ids = {str(model.id) for model in page.data if getattr(model, "id", None)}
    available = tuple(sorted(ids)[:_SHOWN_MODELS])
    missing = tuple(m for m in dict.fromkeys(models) if not _served(m, ids)) if check_models else ()
    if missing:
        listed = ", ".join(available) + (", …" if len(ids) > len(available) else "")
        return ProbeResult(
            status="model_missing",
            message=(
                f"model {', '.join(repr(m) for m in missing)} not served by {where} "
                f"(it lists: {listed or 'no models'})"
            ),
            latency_ms=latency,
            missing=missing,
            available=available,
        )
    checked = f", serves {', '.join(repr(m) for m in models)}" if check_models and models else ""
    return ProbeResult(
        status="ok",
        message=f"model server {where} reachable{checked}",
        latency_ms=latency,
        available=available,
    )


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
