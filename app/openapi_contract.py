"""The last touches that make ``/openapi.json`` say exactly what the server enforces.

Litestar derives the document from the handlers' types, and three things get lost on the way:

- a body struct declared ``forbid_unknown_fields=True`` is refused with extra keys, but its
  schema is open (no ``additionalProperties: false``), so a client (or a fuzzer) following
  the document sends extras and gets a 400;
- integer bounds come out as floats (``maximum: 100.0``), and a large one is rounded
  (``2**63 - 1`` becomes ``9.223372036854776e+18``, one past the real limit);
- the question length limit is configuration (``runs.max_question_chars``), not a type;
- Litestar has no way to declare OpenAPI links (which response id feeds which request).

:func:`apply_contract` fixes the generated document in place; the contract tests and the fuzz
tier (``tests/app/foundation/test_api_fuzz.py``) hold the server to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from app.settings import Settings

__all__ = ["apply_contract", "closed_structs"]

_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_RUN_ID = {"run_id": "$response.body#/run_id"}
_CONVERSATION_ID = {"conversation_id": "$response.body#/conversation_id"}
# OpenAPI links: where an id in a response can be used next (for client generators, and for
# schemathesis' stateful phase). (method, path, status) -> link name -> (method, path, params).
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict[str, str]]]] = {
    ("post", "/ask", "200"): {
        "GetRun": ("get", "/runs/{run_id}", _RUN_ID),
        "RunEvents": ("get", "/runs/{run_id}/events", _RUN_ID),
        "RunTicket": ("post", "/runs/{run_id}/ticket", _RUN_ID),
        "CancelRun": ("post", "/runs/{run_id}/cancel", _RUN_ID),
        "GetConversation": ("get", "/conversations/{conversation_id}", _CONVERSATION_ID),
        "ContinueConversation": (
            "post",
            "/conversations/{conversation_id}/messages",
            _CONVERSATION_ID,
        ),
        "DeleteConversation": ("delete", "/conversations/{conversation_id}", _CONVERSATION_ID),
    },
    ("post", "/datasets", "201"): {
        "GetDataset": (
            "get",
            "/datasets/{dataset_id}",
            {"dataset_id": "$response.body#/dataset_id"},
        ),
        "DeleteDataset": (
            "delete",
            "/datasets/{dataset_id}",
            {"dataset_id": "$response.body#/dataset_id"},
        ),
    },
    ("get", "/auth/credentials", "200"): {
        "RenamePasskey": (
            "patch",
            "/auth/credentials/{credential_id}",
            {"credential_id": "$response.body#/credentials/0/id"},
        ),
        "DeletePasskey": (
            "delete",
            "/auth/credentials/{credential_id}",
            {"credential_id": "$response.body#/credentials/0/id"},
        ),
    },
    ("post", "/auth/tokens", "201"): {
        "RevokeToken": ("delete", "/auth/tokens/{token_id}", {"token_id": "$response.body#/id"}),
    },
}
# Body schemas whose ``question`` is limited by ``runs.max_question_chars``.
_QUESTION_BODIES = ("AskRequest", "ContinueRequest")


def _subclasses(cls: type[msgspec.Struct]) -> Iterator[type[msgspec.Struct]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def closed_structs() -> dict[str, set[str]]:
    """Struct name → its field names (as encoded), for every struct that refuses unknown
    fields, among the structs imported so far (the app's are, once it is built)."""
    closed: dict[str, set[str]] = {}
    for struct in _subclasses(msgspec.Struct):
        if struct.__struct_config__.forbid_unknown_fields:
            closed[struct.__name__] = set(struct.__struct_encode_fields__)
    return closed


def _integer_bounds(node: Any) -> None:
    """Every integer schema's float bounds as the integers they stand for."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            for key in _BOUNDS:
                value = node.get(key)
                if isinstance(value, float) and value.is_integer():
                    node[key] = int(value)
        for child in node.values():
            _integer_bounds(child)
    elif isinstance(node, list):
        for child in node:
            _integer_bounds(child)


def apply_contract(document: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """``document`` (the output of ``app.openapi_schema.to_schema()``), corrected in place."""
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    closed = closed_structs()
    for name, schema in schemas.items():
        fields = closed.get(schema.get("title", name))
        # The properties must match too: two structs may share a class name.
        if fields is not None and set(schema.get("properties", {})) == fields:
            schema["additionalProperties"] = False
    for name in _QUESTION_BODIES:
        question = schemas.get(name, {}).get("properties", {}).get("question")
        if question is not None:
            question["maxLength"] = settings.runs.max_question_chars
    _integer_bounds(document)
    _add_links(document.get("paths", {}))
    return document


def _add_links(paths: dict[str, Any]) -> None:
    for (method, path, status), links in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        response["links"] = {
            name: {
                "operationId": paths[target_path][target_method]["operationId"],
                "parameters": parameters,
            }
            for name, (target_method, target_path, parameters) in links.items()
            if target_method in paths.get(target_path, {})
        }
