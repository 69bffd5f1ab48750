"""The typed app errors: each class sends its own status, code and detail, and documents them.

:class:`AppError` subclasses are raised from a real route of the real app and read back over
HTTP, and :func:`error_responses` is checked to describe a route from the classes it names, so
the document and the sent code come from one place.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar, get
from litestar.params import FromQuery
from litestar.testing import AsyncTestClient

import app
from app.auth.errors import AuthError, InvalidName, RateLimited, RefreshTokenExpired
from app.conversations.errors import ConversationNotFound, InvalidConversationId
from app.datasets.errors import DatasetNotFound, DatasetQuotaExceeded
from app.errors import AppError, DomainError
from app.main import create_app
from app.openapi_errors import DESCRIPTIONS, error_responses
from app.runs.errors import QUESTION_ERRORS, RunFinished, TooManyRuns
from orchestrator import question_problem
from tests.conftest import make_settings


@get("/_test/typed", opt={"exclude_from_auth": True}, sync_to_thread=False)
def typed_failure(kind: FromQuery[str]) -> None:
    if kind == "default":
        raise ConversationNotFound
    raise DatasetQuotaExceeded("You already have 3 datasets.", datasets=3, max_datasets=3)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    service = create_app(make_settings(tmp_path))
    service.register(typed_failure)
    async with AsyncTestClient(app=service) as test_client:
        yield test_client


def _app_error_classes() -> set[type[AppError]]:
    for info in pkgutil.walk_packages(app.__path__, "app."):
        if info.name.endswith(".errors"):
            importlib.import_module(info.name)
    found: set[type[AppError]] = set()
    pending = list(AppError.__subclasses__())
    while pending:
        cls = pending.pop()
        found.add(cls)
        pending += cls.__subclasses__()
    # The per-domain bases (ConversationError, …) are for ``except``; they are never raised.
    return {cls for cls in found if cls.__subclasses__() == []}


async def test_a_typed_error_sends_its_class_status_code_and_detail(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.get("/_test/typed", params={"kind": "default"})
    assert response.status_code == 404
    body = response.json()
    assert (body["code"], body["detail"]) == ("conversation_not_found", "Conversation not found.")


async def test_a_typed_error_may_say_its_own_detail_and_extra_fields(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.get("/_test/typed", params={"kind": "quota"})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "dataset_quota_exceeded"
    assert body["detail"] == "You already have 3 datasets."
    assert (body["datasets"], body["max_datasets"]) == (3, 3)


def test_a_typed_error_is_a_domain_error_with_the_class_attributes() -> None:
    error = RunFinished("The run already ended (completed).")
    assert isinstance(error, DomainError)
    assert (error.status, error.code) == (409, "run_finished")
    assert error.detail == "The run already ended (completed)."
    assert RunFinished().detail == RunFinished.detail


def test_every_failure_class_has_its_own_code_and_an_error_status() -> None:
    classes = _app_error_classes()
    assert {ConversationNotFound, DatasetNotFound, TooManyRuns} <= classes
    codes = [cls.code for cls in classes]
    assert sorted(codes) == sorted(set(codes)), "two classes share a code"
    for cls in classes:
        assert 400 <= cls.status <= 599, cls
        assert cls.detail, cls
        assert f"`{cls.code}`" not in cls.when, f"{cls.__name__}.when repeats its code"


def test_a_class_documents_its_status_with_its_code() -> None:
    specs = error_responses(401, ConversationNotFound)
    assert specs[404].description == "No such conversation for this user (`conversation_not_found`)"
    assert specs[401].description == DESCRIPTIONS[401]
    assert set(specs) == {401, 404, 500}


def test_classes_of_one_status_are_listed_together_in_order() -> None:
    described = error_responses(ConversationNotFound, DatasetNotFound)[404].description
    assert described == (
        "No such conversation for this user (`conversation_not_found`), "
        "or no such dataset for this user (`dataset_not_found`)"
    )


def test_a_class_is_listed_after_an_explicit_description_of_its_status() -> None:
    specs = error_responses((400, "Bad id (`validation_error`)"), InvalidConversationId)
    assert specs[400].description == (
        "Bad id (`validation_error`), or the conversation id is not an integer or a string "
        "of digits (`invalid_conversation_id`)"
    )


def test_a_plain_status_after_a_class_does_not_replace_it() -> None:
    specs = error_responses(DatasetNotFound, 404)
    assert specs[404].description == DatasetNotFound.description()


def test_a_non_error_status_is_refused() -> None:
    with pytest.raises(ValueError, match="302 is not an error status"):
        error_responses(302)


def test_a_class_given_twice_is_listed_once() -> None:
    described = error_responses(DatasetNotFound, DatasetNotFound)[404].description
    assert described == DatasetNotFound.description()


def test_a_class_whose_code_the_text_already_names_leaves_the_text_as_written() -> None:
    text = "Not an integer (`validation_error`, `invalid_conversation_id`)"
    specs = error_responses((400, text), InvalidConversationId)
    assert specs[400].description == text


@pytest.mark.parametrize(
    ("question", "code"), [("  ", "invalid_question"), ("x" * 11, "question_too_long")]
)
def test_every_question_problem_has_its_class(question: str, code: str) -> None:
    problem = question_problem(question, limit=10)
    assert problem is not None
    error = QUESTION_ERRORS[problem.code](problem.message)
    assert (error.status, error.code, error.detail) == (400, code, problem.message)


def test_an_auth_401_carries_the_bearer_challenge_and_a_429_its_wait() -> None:
    refused = RefreshTokenExpired()
    assert (refused.status, refused.code, refused.detail) == (
        401,
        "refresh_token_expired",
        "Refresh token expired",
    )
    assert refused.headers == {"WWW-Authenticate": "Bearer"}
    limited = RateLimited("Too many sign-in requests", 0)
    assert (limited.status, limited.code, limited.headers) == (
        429,
        "rate_limited",
        {"Retry-After": "1"},
    )
    assert isinstance(limited, AuthError)
    assert InvalidName("A token name cannot be blank").headers == {}
