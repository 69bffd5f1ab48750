"""Assistant specifications: what one step runs (model, instructions, tools, sampling)."""

from __future__ import annotations

import msgspec

__all__ = ["AssistantSpec"]


class AssistantSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One LLM "assistant": executed statelessly through a provider, never stored remotely.

    ``tools`` names function tools from the tool registry; ``hosted_tools`` names provider-side
    tools (``code_interpreter``) that only the OpenAI Responses provider supports.
    """

    name: str
    model: str
    instructions: str
    tools: tuple[str, ...] = ()
    temperature: float = 0.0
    max_output_tokens: int | None = None
    hosted_tools: tuple[str, ...] = ()
