"""Raw-byte fuzzing of every JSON body of the live service: whatever the bytes, no 5xx.

schemathesis sends JSON that serialises cleanly; a client (or an attacker) sends bytes. For
every operation that takes a JSON body, hypothesis generates bodies from the operation's own
fields and from any JSON at all, then breaks them the ways real traffic does: deep nesting,
other encodings (UTF-16/32, a BOM, escaped surrogates), NUL, huge and odd numbers, duplicate
keys, non-JSON tokens (``NaN``, comments, trailing commas), truncation and stray bytes. Each
answer must be below 500, a status the document declares for the operation, and (for an
error) an :class:`~app.openapi_errors.ErrorBody` sent as ``application/json``. Uploaded JSON
datasets get the same treatment. Seeds are derived from the test names (hypothesis
``derandomize``), so a failure reproduces.

The end of this file pins the server errors issue 14 found (rows 3 and 4): nesting deeper
than the recursion limit, invalid UTF-8 inside a JSON string, an uploaded JSON dataset too
deep or with a > 4,300-digit integer, and (on PostgreSQL) NUL in stored text: each is a 4xx.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from app.openapi_errors import ErrorBody
from tests.app.fuzz.conftest import FuzzTarget

# The fuzz tier: a real server per backend (`-m "not fuzz"` leaves it out of a quick run).
pytestmark = [pytest.mark.fuzz, pytest.mark.server]

# The operations that take a JSON body (a test checks this list against the document).
JSON_OPERATIONS = (
    ("POST", "/ask"),
    ("POST", "/ask-stream"),
    ("POST", "/conversations/{conversation_id}/messages"),
    ("POST", "/auth/register/begin"),
    ("POST", "/auth/register/complete"),
    ("POST", "/auth/login/begin"),
    ("POST", "/auth/login/complete"),
    ("POST", "/auth/refresh-token"),
    ("POST", "/auth/credentials/complete"),
    ("PATCH", "/auth/credentials/{credential_id}"),
    ("POST", "/auth/tokens"),
)
EXAMPLES_PER_OPERATION = 100
# Past the one JSON decoder's depth limit and Python's 4,300-digit integer limit (both 400s).
MAX_DEPTH = 3_000
MAX_DIGITS = 6_000
# Derandomized (seeded from the test), so CI is repeatable; FUZZ_SEED=<n> explores locally.
EXPLORE_SEED = os.environ.get("FUZZ_SEED")
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=EXPLORE_SEED is None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fuzzed(test: Callable[[], None]) -> Callable[[], None]:
    """``FUZZ_SETTINGS``, and the ``FUZZ_SEED`` when one is given."""
    test = FUZZ_SETTINGS(test)
    return seed(int(EXPLORE_SEED))(test) if EXPLORE_SEED is not None else test


@pytest.fixture(scope="module")
def http(fuzz_target: FuzzTarget) -> Iterator[httpx.Client]:
    # A connection per request: some answers (413) close the connection, and a request already
    # queued on it would fail in the client, which is not what this tier tests.
    with httpx.Client(
        base_url=fuzz_target.base_url,
        headers=fuzz_target.user.headers,
        trust_env=False,
        timeout=60,
        limits=httpx.Limits(max_keepalive_connections=0),
    ) as client:
        yield client


@pytest.fixture(scope="module")
def document(http: httpx.Client) -> dict[str, Any]:
    body: dict[str, Any] = http.get("/openapi.json").json()
    return body


@pytest.fixture(scope="module")
def urls(http: httpx.Client) -> dict[str, str]:
    """A real URL for each path template (a conversation and a passkey of the fuzz user)."""
    asked = http.post("/ask", json={"question": "What is a kWh?"})
    assert asked.status_code == 200, asked.text
    passkeys = http.get("/auth/credentials").json()["credentials"]
    return {
        "/conversations/{conversation_id}/messages": (
            f"/conversations/{asked.json()['conversation_id']}/messages"
        ),
        "/auth/credentials/{credential_id}": f"/auth/credentials/{passkeys[0]['id']}",
    }


def _text(nul: bool) -> st.SearchStrategy[str]:
    excluded = () if nul else ("\x00",)
    return st.text(
        st.characters(codec="utf-8", exclude_characters=excluded), max_size=40
    ) | st.sampled_from(["", " ", "a@b", "public-key", "x" * 5000, "\u202e", "\U0001f600"])


def json_values(nul: bool) -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**300, -0])
        | st.floats(allow_nan=False, allow_infinity=False)
        | _text(nul)
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(_text(nul), children, max_size=4)
        ),
        max_leaves=20,
    )


def shaped(fields: list[str], nul: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with the operation's own field names (so the handler, not just the decoder,
    sees them) and maybe an unknown one."""
    keys = st.sampled_from([*fields, "unexpected"]) if fields else _text(nul)
    return st.dictionaries(keys, json_values(nul), max_size=len(fields) + 1)


@st.composite
def deep(draw: st.DrawFn, nul: bool) -> str:
    depth = draw(st.integers(1, MAX_DEPTH))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    core = json.dumps(draw(json_values(nul)))
    return opener * depth + core + closer * depth


def odd_numbers() -> st.SearchStrategy[str]:
    digits = st.integers(1, MAX_DIGITS).map(lambda n: "9" * n)
    exponents = st.integers(-2000, 2000).map(lambda e: f"1e{e}")
    return (
        digits
        | digits.map(lambda d: "-" + d)
        | exponents
        | st.sampled_from(["-0", "0.0e0", "1E+2", "1.5e308", "01", "+1", ".5", "0x10", "1_000"])
    )


@st.composite
def documents(draw: st.DrawFn, fields: list[str], nul: bool) -> str:
    """JSON text (or almost-JSON text) for a body."""
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return json.dumps(draw(shaped(fields, nul)), ensure_ascii=draw(st.booleans()))
    if kind == 1:
        return json.dumps(draw(json_values(nul)), ensure_ascii=draw(st.booleans()))
    if kind == 2:
        return draw(deep(nul))
    if kind == 3:
        key = draw(st.sampled_from(fields or ["x"]))
        return f'{{"{key}": {draw(odd_numbers())}}}'
    key = draw(st.sampled_from(fields or ["x"]))
    return draw(
        st.sampled_from(
            [
                f'{{"{key}": NaN}}',
                f'{{"{key}": Infinity}}',
                f'{{"{key}": "a", "{key}": "b"}}',
                f'{{"{key}": 1,}}',
                f'{{"{key}": 1}} // comment',
                f"{{'{key}': 1}}",
                f'{{"{key}": "\\ud800"}}',
                f'{{"{key}": "\\u0000"}}' if nul else f'{{"{key}": "\\u0001"}}',
                f'{{"{key}": "{"x" * 70_000}"}}',
                "[" * 20,
                "",
                "   ",
                "null",
                '"just a string"',
            ]
        )
    )


@st.composite
def bodies(draw: st.DrawFn, fields: list[str], nul: bool) -> bytes:
    """Bytes on the wire: the text encoded, maybe re-encoded, truncated or padded."""
    text = draw(documents(fields, nul))
    how = draw(st.integers(0, 6))
    if how == 0 and text:
        text = text[: draw(st.integers(0, len(text) - 1))]  # truncated at a character
    encoding = draw(st.sampled_from(["utf-8"] * 6 + ["utf-8-sig", "utf-16", "utf-16-le", "utf-32"]))
    raw = text.encode(encoding, errors="surrogatepass")
    if how == 1:
        raw = draw(st.sampled_from([b"\xff", b"\xfe\xff", b"\x00", b"\x80"])) + raw
    elif how == 2:
        raw += draw(st.sampled_from([b"\xff", b"\x00", b"}", b"\n\n", b" garbage"]))
    return raw


def check(response: httpx.Response, operation: dict[str, Any], where: str) -> None:
    status = str(response.status_code)
    assert response.status_code < 500, f"{where} -> {status}: {response.text[:500]}"
    assert status in operation["responses"], f"{where} -> undeclared {status}: {response.text}"
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/json"), where
        msgspec.json.decode(response.content, type=ErrorBody)


def _fields(document: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    ref = schema.get("$ref")
    if ref is not None:
        schema = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return sorted(schema.get("properties", {}))


def test_the_list_of_json_bodies_is_the_documents(document: dict[str, Any]) -> None:
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    }
    assert documented == set(JSON_OPERATIONS)


@pytest.mark.parametrize(("method", "path"), JSON_OPERATIONS)
def test_no_body_gets_a_5xx(
    fuzz_target: FuzzTarget,
    http: httpx.Client,
    document: dict[str, Any],
    urls: dict[str, str],
    method: str,
    path: str,
) -> None:
    operation = document["paths"][path][method.lower()]
    fields = _fields(document, operation)
    url = urls.get(path, path)

    @fuzzed
    @given(body=bodies(fields, nul=True))
    def send(body: bytes) -> None:
        response = http.request(
            method, url, content=body, headers={"content-type": "application/json"}
        )
        check(response, operation, f"{method} {path} {body[:300]!r}")

    send()
    # The fuzz user is still signed in and whole.
    assert http.get("/auth/me").status_code == 200


@st.composite
def dataset_files(draw: st.DrawFn, nul: bool) -> bytes:
    rows = draw(
        st.lists(
            st.dictionaries(
                st.sampled_from(["city", "kwh", "year", "note"]), json_values(nul), max_size=4
            ),
            max_size=6,
        )
    )
    text = draw(st.sampled_from([json.dumps(rows), json.dumps({"rows": rows}), draw(deep(nul))]))
    return text.encode()


def test_no_uploaded_json_dataset_gets_a_5xx(
    fuzz_target: FuzzTarget, http: httpx.Client, document: dict[str, Any]
) -> None:
    operation = document["paths"]["/datasets"]["post"]

    @fuzzed
    @given(content=dataset_files(nul=True))
    def upload(content: bytes) -> None:
        response = http.post("/datasets", files={"file": ("data.json", content)})
        check(response, operation, f"POST /datasets {content[:300]!r}")

    upload()


# --- The server errors issue 14 found (rows 3 and 4), pinned ---------------------------------


def _expect_refused(response: httpx.Response, where: str) -> None:
    """A 4xx error body, never a 500."""
    assert 400 <= response.status_code < 500, f"{where}: {response.status_code} {response.text}"
    msgspec.json.decode(response.content, type=ErrorBody)


@pytest.mark.parametrize(("method", "path"), JSON_OPERATIONS)
def test_nesting_beyond_the_recursion_limit_is_a_400(
    fuzz_target: FuzzTarget, http: httpx.Client, urls: dict[str, str], method: str, path: str
) -> None:
    body = b"[" * 5_000 + b"]" * 5_000
    response = http.request(
        method, urls.get(path, path), content=body, headers={"content-type": "application/json"}
    )
    _expect_refused(response, f"{method} {path}")


@pytest.mark.parametrize(("method", "path"), JSON_OPERATIONS)
def test_invalid_utf8_inside_a_string_is_a_400(
    fuzz_target: FuzzTarget, http: httpx.Client, urls: dict[str, str], method: str, path: str
) -> None:
    body = b'{"question": "caf\xe9", "email": "\xff@b", "name": "\xc3"}'
    response = http.request(
        method, urls.get(path, path), content=body, headers={"content-type": "application/json"}
    )
    _expect_refused(response, f"{method} {path}")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"[" * 5_000 + b"]" * 5_000, id="deep"),
        pytest.param(b'[{"kwh": ' + b"9" * 5_000 + b"}]", id="huge-integer"),
    ],
)
def test_an_uploaded_json_dataset_too_deep_or_too_long_a_number_is_refused(
    fuzz_target: FuzzTarget, http: httpx.Client, content: bytes
) -> None:
    response = http.post("/datasets", files={"file": ("data.json", content)})
    _expect_refused(response, "POST /datasets")


NUL_IN_TEXT = (
    ("POST", "/ask", {"question": "a\x00b"}),
    ("PATCH", "/auth/credentials/{credential_id}", {"name": "a\x00b"}),
    ("POST", "/auth/tokens", {"name": "a\x00b"}),
)


@pytest.mark.parametrize(("method", "path", "body"), NUL_IN_TEXT)
def test_nul_in_stored_text_is_never_a_500(
    http: httpx.Client, urls: dict[str, str], method: str, path: str, body: dict[str, str]
) -> None:
    response = http.request(method, urls.get(path, path), json=body)
    _expect_refused(response, f"{method} {path}")


def test_nul_in_a_dataset_name_is_never_a_500(http: httpx.Client) -> None:
    response = http.post(
        "/datasets", files={"file": ("d.csv", b"a,b\n1,2\n")}, data={"name": "a\x00b"}
    )
    _expect_refused(response, "POST /datasets")
