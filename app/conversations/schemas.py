"""The conversations API's response bodies (OpenAPI components), apart from the queries.

``Deleted`` keeps the component name it was published under
(``conversations_controller_Deleted``, from the module it used to live in): generated
clients name their types after it, and the datasets domain has a struct of the same name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar.params import KwargDefinition

__all__ = [
    "ConversationDetail",
    "ConversationList",
    "ConversationView",
    "Deleted",
    "DeletedResponse",
    "MessageView",
]


class ConversationView(msgspec.Struct, kw_only=True):
    id: int
    title: str
    created_at: datetime
    updated_at: datetime
    user_id: str


class MessageView(msgspec.Struct, kw_only=True):
    id: int
    conversation_id: int
    role: Literal["user", "assistant"]
    content: str
    timestamp: datetime
    run_id: str | None


class ConversationList(msgspec.Struct, kw_only=True):
    conversations: list[ConversationView]


class ConversationDetail(msgspec.Struct, kw_only=True):
    conversation: ConversationView
    messages: list[MessageView]


class Deleted(msgspec.Struct, kw_only=True):
    message: str


DeletedResponse = Annotated[
    Deleted, KwargDefinition(schema_component_key="conversations_controller_Deleted")
]
"""The return annotation of ``DELETE /conversations/{id}``: its published component name."""
