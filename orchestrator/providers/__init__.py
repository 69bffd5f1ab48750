"""LLM providers behind one protocol; :func:`build_provider` picks one from configuration.

The OpenAI SDK (and its transport) is imported only when an OpenAI provider is configured, so
the offline default starts without it.
"""

from __future__ import annotations

from orchestrator.config import LLMConfig, ToolsConfig
from orchestrator.providers.base import Provider

__all__ = ["build_provider"]


def build_provider(llm: LLMConfig, tools: ToolsConfig | None = None) -> Provider:
    """The provider ``llm.provider`` names; ``tools`` configures the offline engine's data."""
    if llm.provider == "openai":
        from orchestrator.providers.openai_responses import OpenAIResponsesProvider

        return OpenAIResponsesProvider(llm)
    if llm.provider == "openai_chat":
        from orchestrator.providers.openai_chat import OpenAIChatProvider

        return OpenAIChatProvider(llm)
    from orchestrator.providers.offline import OfflineProvider

    return OfflineProvider(tools)
