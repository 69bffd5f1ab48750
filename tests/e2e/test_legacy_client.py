"""Issue 13's "done when": the predecessor's web client works against this backend.

Existing users still run the predecessor's React client. ``tests/e2e/legacy_client/`` is a
vanilla-JS stand-in that makes that client's calls with their exact shapes and keeps its
assumptions: SimpleWebAuthn-style passkey ceremonies, a bearer token in ``localStorage``
treated as expired 5 minutes early, answers read from a POST with ``fetch`` + a stream reader
(``data:`` lines ``JSON.parse``'d one by one), conversation ids held as text by the router and
``parseInt``'d for every call, the predecessor's health keys, and charts shown with a plain
``<img src="/images/…png">``.

The page is served by Playwright (``context.route``) under the real server's own origin,
``http://localhost:PORT/legacy-client/``, so WebAuthn's origin checks are the real ones and
every API call, stream and image goes to the real service (granian, offline engine) in
real headless Chromium with a CDP virtual authenticator. Each test fails where the old
client would: a string id turns into ``NaN`` (or the wrong number) under ``parseInt`` and the
reopen 404s, a missing health key throws, a chart that does not load has ``naturalWidth 0``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Request, Route, expect

from tests.live_server import LiveServer, start_server

if TYPE_CHECKING:  # the fixture's type; conftest modules are not imported at run time
    from tests.e2e.conftest import AuthenticatorPage

pytestmark = [pytest.mark.browser, pytest.mark.server]

CLIENT_DIR = Path(__file__).resolve().parent / "legacy_client"
CLIENT_PATH = "/legacy-client/"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
GRID_QUESTION = "When is the best time to charge my EV in Ireland tomorrow?"
FOLLOW_UPS = {
    "number": "When is the cleanest time to run my dishwasher tomorrow in Ireland?",
    "string": "When is the best time to run my heat pump tomorrow in Ireland?",
    "path": "When is the cleanest time to charge my EV in Ireland tomorrow?",
}
CHART_LINK = re.compile(r"/images/chart-[0-9a-f]{32}\.png")
# The data directory /health counts: exactly these files, so the count has a known meaning.
DATA_FILES = ("readings-2026-01.csv", "readings-2026-02.csv", "README.txt")
TEST_API_KEY = "sk-legacy-client-test-not-a-real-key"


@dataclass(frozen=True)
class SentRequest:
    """A request the page sent, as the server received it."""

    method: str
    path: str
    resource_type: str
    headers: dict[str, str]
    body: Any


@dataclass
class LegacyPage:
    """The legacy client open in a page with its own virtual authenticator."""

    page: Page
    authenticator: AuthenticatorPage
    sent: list[SentRequest] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def call(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)

    def requests_to(self, method: str, path: str) -> list[SentRequest]:
        return [r for r in self.sent if r.method == method and r.path == path]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real service with the offline engine, a dummy API key (so ``api_key_configured``
    is true while no OpenAI client exists) and a data directory of known contents."""
    data_dir = tmp_path_factory.mktemp("legacy-data")
    for name in DATA_FILES:
        (data_dir / name).write_text("x\n", encoding="utf-8")
    env = {
        "APP__RATE_LIMIT__ENABLED": "false",
        "APP__SERVER__DATA_DIR": str(data_dir),
        "OPENAI_API_KEY": TEST_API_KEY,
    }
    live = start_server(env, [], log_dir=tmp_path_factory.mktemp("legacy-server"))
    try:
        yield live
    finally:
        live.stop()


def _serve_client_file(route: Route) -> None:
    name = route.request.url.split(CLIENT_PATH, 1)[1].split("?", 1)[0] or "index.html"
    path = CLIENT_DIR / name
    if path.parent != CLIENT_DIR or not path.is_file():
        route.fulfill(status=404, body="not part of the legacy client")
        return
    route.fulfill(status=200, body=path.read_bytes(), content_type=CONTENT_TYPES[path.suffix])


@pytest.fixture
def open_legacy(
    server: LiveServer, authenticator_page: Callable[[str], AuthenticatorPage]
) -> Iterator[Callable[[], LegacyPage]]:
    """Open the legacy client at ``http://localhost:PORT/legacy-client/`` (the WebAuthn
    origin); every request it sends to the service is recorded with its headers and body."""
    opened: list[LegacyPage] = []

    def factory() -> LegacyPage:
        origin = f"http://localhost:{server.port}"
        authenticator = authenticator_page(origin)
        legacy = LegacyPage(authenticator.page, authenticator)
        opened.append(legacy)
        authenticator.context.route(f"{origin}{CLIENT_PATH}**", _serve_client_file)

        def record(request: Request) -> None:
            path = request.url.removeprefix(origin)
            if path.startswith(CLIENT_PATH) or not request.url.startswith(origin):
                return
            body = request.post_data
            legacy.sent.append(
                SentRequest(
                    method=request.method,
                    path=path,
                    resource_type=request.resource_type,
                    headers=request.all_headers(),
                    body=json.loads(body) if body else None,
                )
            )

        legacy.page.on("request", record)
        legacy.page.on("pageerror", lambda error: legacy.errors.append(str(error)))
        legacy.page.goto(f"{CLIENT_PATH}index.html")
        expect(legacy.page.locator("body")).to_have_attribute("data-ready", "true")
        return legacy

    yield factory
    # No uncaught script error on any page: the old client must never crash.
    assert [legacy.errors for legacy in opened] == [[] for _ in opened]


def new_email() -> str:
    return f"legacy-{uuid.uuid4().hex[:10]}@example.org"


def sign_up_and_in(legacy: LegacyPage) -> dict[str, Any]:
    email = new_email()
    legacy.call("email => legacy.register(email)", email)
    signed_in: dict[str, Any] = legacy.call("email => legacy.login(email)", email)
    assert signed_in["me"]["email"] == email
    return signed_in


def assert_run_stream(stream: dict[str, Any], conversation_id: int | None = None) -> int:
    """A streamed run as the old client read it: one JSON object per ``data:`` line, from
    ``started`` (with an integer conversation id) to ``completed`` (with the markdown)."""
    assert stream["contentType"].startswith("text/event-stream")
    events = stream["events"]
    types = [event["event_type"] for event in events]
    assert types[0] == "started"
    assert types[-1] == "completed", events[-1]
    assert types.count("completed") == 1
    assert {"agent_thinking", "agent_response", "tool_execution"} <= set(types)
    seqs = [event["seq"] for event in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    progress = [event["data"]["progress"] for event in events]
    assert progress == sorted(progress)
    assert progress[0] == 0
    assert progress[-1] == 100
    assert len({event["run_id"] for event in events}) == 1
    started_id = stream["conversationId"]
    assert type(started_id) is int
    assert started_id > 0
    if conversation_id is not None:
        assert started_id == conversation_id
    assert stream["content"]
    assert stream["content"] == events[-1]["data"]["full_content"]
    assert stream["finalResponse"] == stream["content"]
    return started_id


def assert_alternating(messages: list[dict[str, Any]], conversation_id: int) -> None:
    assert [m["role"] for m in messages] == ["user", "assistant"] * (len(messages) // 2)
    assert all(type(m["id"]) is int for m in messages)
    assert all(m["conversation_id"] == conversation_id for m in messages)


def assert_loaded_images(legacy: LegacyPage, shown: list[dict[str, Any]]) -> None:
    """Every ``<img>`` loaded a real picture, and its request carried no credentials."""
    for image in shown:
        assert image["outcome"] == "load", image
        assert image["naturalWidth"] > 0
        assert image["naturalHeight"] > 0
        [request] = legacy.requests_to("GET", image["src"])
        assert request.resource_type == "image"
        assert "authorization" not in request.headers


# ---- tests --------------------------------------------------------------------------------------


def test_passkey_sign_up_and_sign_in_with_simplewebauthn_shapes(
    open_legacy: Callable[[], LegacyPage],
) -> None:
    legacy = open_legacy()
    email = new_email()
    registered = legacy.call("email => legacy.register(email)", email)

    # The options are at the top level, ready for startRegistration({optionsJSON}).
    options = registered["options"]
    assert options["rp"]["id"] == "localhost"
    assert {"challenge", "user", "pubKeyCredParams", "authenticatorSelection"} <= set(options)
    assert options["user"]["name"] == email
    # ...and the server accepted RegistrationResponseJSON exactly as SimpleWebAuthn builds it.
    [complete] = legacy.requests_to("POST", "/auth/register/complete")
    assert complete.body == registered["sent"]
    assert set(complete.body) == {
        "id",
        "rawId",
        "response",
        "type",
        "clientExtensionResults",
        "authenticatorAttachment",
    }
    assert {"attestationObject", "clientDataJSON", "transports", "publicKeyAlgorithm"} <= set(
        complete.body["response"]
    )
    assert registered["result"]["message"] == "Registration successful"
    assert registered["result"]["user_id"]

    signed_in = legacy.call("email => legacy.login(email)", email)
    [login_complete] = legacy.requests_to("POST", "/auth/login/complete")
    assert login_complete.body == signed_in["sent"]
    assert set(login_complete.body["response"]) == {
        "authenticatorData",
        "clientDataJSON",
        "signature",
        "userHandle",
    }
    result = signed_in["result"]
    assert result["message"] == "Authentication successful"
    assert result["token_type"] == "bearer"
    assert result["user"] == {"id": registered["result"]["user_id"], "email": email}
    # The client counts a token as expired 5 minutes early: it must still be valid now.
    assert result["expires_in"] > 300
    assert signed_in["tokenValid"] is True
    assert signed_in["me"]["email"] == email

    # Its refresh call: GET with the refresh token as the bearer, tokens rotated.
    refreshed = legacy.call("() => legacy.refreshToken()")
    assert refreshed["access_token"] != result["access_token"]
    assert refreshed["refresh_token"] != result["refresh_token"]
    assert refreshed["expires_in"] > 300
    assert legacy.call("() => legacy.isTokenValid()") is True
    [refresh] = legacy.requests_to("GET", "/auth/refresh-token")
    assert refresh.headers["authorization"] == f"Bearer {result['refresh_token']}"
    assert legacy.call("() => legacy.loadHistory()") == []


def test_ask_history_reopen_continue_show_charts_and_delete(
    open_legacy: Callable[[], LegacyPage],
) -> None:
    legacy = open_legacy()
    sign_up_and_in(legacy)

    # Ask with streaming: fetch + reader, every data: line parsed on its own.
    asked = legacy.call("q => legacy.ask(q)", GRID_QUESTION)
    conversation_id = assert_run_stream(asked)
    [ask_request] = legacy.requests_to("POST", "/ask-stream")
    assert ask_request.body == {"question": GRID_QUESTION}
    assert ask_request.headers["authorization"].startswith("Bearer ")

    # History, then reopen through the router as a user does: the link holds the id as text
    # ("#/conversations/<id>"), the client parseInt's it and GETs /conversations/<n>. A
    # non-integer id fails right here (NaN -> 400, "46278a…" -> 46278 -> 404).
    [listed] = legacy.call("() => legacy.loadHistory()")
    legacy.page.locator("#history a").click()
    conversation = legacy.page.locator("#conversation")
    expect(conversation).to_have_attribute("data-state", "loaded")
    assert listed["id"] == conversation_id
    assert {"id", "title", "created_at", "updated_at", "user_id"} <= set(listed)
    round_trip = legacy.call(
        "id => parseInt(String(id)) === id && Number.isInteger(id)", listed["id"]
    )
    assert round_trip is True
    expect(conversation).to_have_attribute("data-id", str(conversation_id))
    assert legacy.call("() => legacy.route.params.id") == str(conversation_id)
    [reopen] = legacy.requests_to("GET", f"/conversations/{conversation_id}")
    assert reopen.headers["authorization"].startswith("Bearer ")
    expect(legacy.page.locator("#messages > li")).to_have_count(2)

    # Continue it three ways: the id as a number, as the router's string, and in the path.
    for number_of_runs, (how, question) in enumerate(FOLLOW_UPS.items(), start=2):
        stream = legacy.call("([q, how]) => legacy.continueConversation(q, how)", [question, how])
        assert assert_run_stream(stream, conversation_id) == conversation_id
        reopened = legacy.call("() => legacy.openConversation(legacy.route.params.id)")
        assert reopened["parsedId"] == conversation_id
        messages = reopened["detail"]["messages"]
        assert len(messages) == 2 * number_of_runs
        assert_alternating(messages, conversation_id)
        assert messages[-2]["content"] == question
    by_number, by_string = legacy.requests_to("POST", "/ask-stream")[1:]
    assert by_number.body == {"question": FOLLOW_UPS["number"], "conversation_id": conversation_id}
    assert by_string.body == {
        "question": FOLLOW_UPS["string"],
        "conversation_id": str(conversation_id),
    }
    [by_path] = legacy.requests_to("POST", f"/conversations/{conversation_id}/messages")
    assert by_path.body == {"question": FOLLOW_UPS["path"]}
    [still_one] = legacy.call("() => legacy.loadHistory()")
    assert still_one["id"] == conversation_id

    # The answer's chart links, shown with plain <img> tags (no Authorization header).
    links = legacy.call("md => legacy.imageLinks(md)", asked["content"])
    chart_links = [link for link in links if CHART_LINK.fullmatch(link)]
    assert chart_links, asked["content"]
    shown = legacy.call("md => legacy.showAnswerImages(md)", asked["content"])
    assert [image["src"] for image in shown] == links
    assert_loaded_images(legacy, shown)

    # Delete it by its parsed id; it leaves the history, and so do its charts.
    deleted = legacy.call("() => legacy.deleteConversation()")
    assert deleted == {"message": "Conversation deleted successfully"}
    assert legacy.requests_to("DELETE", f"/conversations/{conversation_id}")
    assert legacy.call("() => legacy.loadHistory()") == []
    with pytest.raises(PlaywrightError, match=r"404 conversation_not_found"):
        legacy.call("id => legacy.openConversation(id)", str(conversation_id))
    gone = legacy.call(
        """async src => {
          const response = await fetch(src, { cache: "no-store" });
          return { status: response.status, body: await response.json() };
        }""",
        chart_links[0],
    )
    assert gone["status"] == 404
    assert gone["body"]["code"] == "image_not_found"


def test_an_id_that_parseint_cannot_read_is_a_clear_400(
    open_legacy: Callable[[], LegacyPage],
) -> None:
    """What the old client met with uuid ids: ``parseInt`` gives NaN and the call fails. Here
    it fails loudly, with a ``detail`` the client shows, never a 500."""
    legacy = open_legacy()
    sign_up_and_in(legacy)
    with pytest.raises(PlaywrightError, match=r"400 invalid_conversation_id"):
        legacy.call("id => legacy.openConversation(id)", "c0a8012e-7f3b-4b8e-9d7c-1f2e3d4c5b6a")
    assert legacy.requests_to("GET", "/conversations/NaN")
    expect(legacy.page.locator("#error")).to_contain_text("a conversation id is a positive integer")


def test_health_page_reads_every_legacy_key(open_legacy: Callable[[], LegacyPage]) -> None:
    legacy = open_legacy()
    legacy.page.click('nav a[href="#/health"]')
    expect(legacy.page.locator("#health")).to_have_attribute("data-state", "loaded")
    shown = {
        key: legacy.page.locator(f'#health-keys dd[data-key="{key}"]').inner_text()
        for key in ("agents", "openaiClient", "openaiApi", "apiKey", "dataDirectory", "dataFiles")
    }
    assert shown == {
        "agents": "INITIALIZED",
        "openaiClient": "NOT_CONNECTED",
        "openaiApi": "UNKNOWN",
        "apiKey": "Configured",
        "dataDirectory": "Present",
        "dataFiles": str(len(DATA_FILES)),
    }

    loaded = legacy.call("() => legacy.loadHealth()")
    assert loaded["status"] == 200
    health = loaded["health"]
    assert health["status"] == "healthy"
    components = health["components"]
    # The orchestrator of this worker is built; the offline engine is no OpenAI client, so
    # nothing is connected and nothing was learned about the API, though a key is set.
    assert components["agents_status"] == "initialized"
    assert components["openai_client_status"] == "not_connected"
    assert components["openai_api_status"] == "unknown"
    assert components["api_key_configured"] is True
    assert components["data_directory_exists"] is True
    assert type(components["data_files_count"]) is int
    assert components["data_files_count"] == len(DATA_FILES)
    # The real checks stay next to the scalar keys.
    assert components["database"]["status"] == "healthy"
    assert components["provider"]["status"] == "healthy"
    assert health["api_error"] is None
    checked_at = datetime.fromisoformat(health["uptime_check"])
    assert checked_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - checked_at) < timedelta(minutes=1)
    assert health["uptime_check"] == health["timestamp"]
    [request] = legacy.requests_to("GET", "/health")[-1:]
    assert "authorization" not in request.headers


def test_co2plot_images_load_in_plain_img_tags(open_legacy: Callable[[], LegacyPage]) -> None:
    legacy = open_legacy()
    today = datetime.now(UTC).date()
    last_month_end = today.replace(day=1) - timedelta(days=1)
    last_month_start = last_month_end.replace(day=1)
    plots: list[tuple[str, date, date]] = [
        ("day", today, today),
        ("month", last_month_start, last_month_end),
    ]
    shown = [
        legacy.call(
            "([period, start, end]) => legacy.showCo2Plot(period, start, end)",
            [period, start.isoformat(), end.isoformat()],
        )
        for period, start, end in plots
    ]
    assert [image["src"] for image in shown] == [
        f"/images/co2plot_{period}_all_{start}_{end}.png" for period, start, end in plots
    ]
    assert_loaded_images(legacy, shown)
    # A name the service refuses does not load: the check above can fail.
    refused = legacy.call("() => legacy.showCo2Plot('year', '2026-03-01', '2026-03-01')")
    assert refused["outcome"] == "error"
    assert refused["naturalWidth"] == 0
