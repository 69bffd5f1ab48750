"""The /client page against the real service in real Chromium with a virtual authenticator.

Two real servers: one with the offline engine (the README's default) and one whose model is the
scripted fake OpenAI server (tests/fakes/openai_server.py, run as a process with latency), so a
run lasts long enough to stop or reload it and its report can contain hostile HTML on purpose.
Screenshots of the main states go to test-artifacts/client/ (not committed).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import (
    FilePayload,
    Page,
    Request,
    expect,
)

from tests.fakes.openai_server import run_process
from tests.live_server import REPO_ROOT, start_server

if TYPE_CHECKING:  # the fixture's type; conftest modules are not imported at run time
    from tests.e2e.conftest import AuthenticatorPage

pytestmark = [pytest.mark.browser, pytest.mark.server]

ARTIFACTS = REPO_ROOT / "test-artifacts" / "client"
GRID_QUESTION = "When is the cleanest time to run my dishwasher tomorrow in Ireland?"
PLAN_JSON = json.dumps(
    {"steps": [{"kind": "report", "task": "Answer the question for the user"}], "notes": None}
)
HOSTILE_REPORT = (
    "# Scripted report\n\n"
    'Before <script>window.pwned = "script"</script> after.\n\n'
    "<img src=x onerror=\"window.pwned = 'img'\">\n\n"
    "| col |\n|---|\n| <b onmouseover=\"window.pwned = 'b'\">bold?</b> |\n\n"
    "[click me](javascript:window.pwned=1)\n"
)

# Loopback calls must never go through an HTTP proxy from the environment.
LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Server:
    base_url: str


@dataclass(frozen=True)
class FakeLLM:
    base_url: str


@dataclass
class ClientPage:
    page: Page
    authenticator: AuthenticatorPage
    errors: list[str] = field(default_factory=list)


@contextlib.contextmanager
def start_service(workdir: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    """The real service; the page is opened as http://localhost:PORT (its WebAuthn origin)."""
    server = start_server({"APP__RATE_LIMIT__ENABLED": "false", **(env or {})}, [], log_dir=workdir)
    try:
        yield Server(f"http://localhost:{server.port}")
    finally:
        server.stop()


@contextlib.contextmanager
def start_fake_llm(workdir: Path, latency_ms: int) -> Iterator[FakeLLM]:
    with run_process(workdir, by_model={}, latency_ms=latency_ms) as base_url:
        yield FakeLLM(base_url.removesuffix("/v1"))


@pytest.fixture(scope="module")
def offline_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with start_service(tmp_path_factory.mktemp("offline")) as server:
        yield server


@pytest.fixture(scope="module")
def fake_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeLLM]:
    with start_fake_llm(tmp_path_factory.mktemp("fake-llm"), latency_ms=700) as fake:
        yield fake


@pytest.fixture(scope="module")
def scripted_server(
    tmp_path_factory: pytest.TempPathFactory, fake_llm: FakeLLM
) -> Iterator[Server]:
    env = {
        "APP__LLM__PROVIDER": "openai_chat",
        "APP__LLM__BASE_URL": f"{fake_llm.base_url}/v1",
        "APP__LLM__API_KEY": "test-key",
        # Canned reports (the hostile one quotes "=1"): the grounding checks would ask again.
        "APP__ORCHESTRATOR__GROUNDING_CHECKS": "false",
    }
    with start_service(tmp_path_factory.mktemp("scripted"), env=env) as server:
        yield server


PageFactory = Callable[[Server], ClientPage]


@pytest.fixture
def open_client(
    authenticator_page: Callable[[str], AuthenticatorPage],
) -> Iterator[PageFactory]:
    """Open /client of a server in a fresh context with its own virtual authenticator."""
    clients: list[ClientPage] = []

    def factory(server: Server) -> ClientPage:
        opened = authenticator_page(server.base_url)
        client = ClientPage(opened.page, opened)
        clients.append(client)
        page = opened.page
        page.set_viewport_size({"width": 1280, "height": 900})
        page.on("pageerror", lambda error: client.errors.append(str(error)))
        page.on(
            "console",
            lambda message: (
                client.errors.append(message.text)
                if message.type == "error" and "Refused to" in message.text
                else None
            ),
        )
        page.goto("/client")
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        return client

    yield factory
    # No uncaught script error and no Content-Security-Policy violation on any page.
    assert [client.errors for client in clients] == [[] for _ in clients]


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.org"


def sign_up(page: Page, email: str) -> None:
    page.fill("#email", email)
    page.click("#sign-up")
    expect(page.locator("#auth-status")).to_contain_text("Passkey created")


def sign_in(page: Page, email: str | None) -> None:
    """Press "Sign in with passkey"; with ``email`` the field must already hold it (focusing
    the field would start passkey autofill, which the virtual authenticator answers at once)."""
    expect(page.locator("#email")).to_have_value(email or "")
    page.click("#sign-in")
    expect(page.locator("#app-view")).to_be_visible()


def new_account(page: Page) -> str:
    """Create a passkey for a fresh email and sign in with it; the email."""
    email = new_email()
    sign_up(page, email)
    sign_in(page, email)
    return email


def ask(page: Page, question: str) -> None:
    page.fill("#question", question)
    page.click("#ask-submit")
    expect(page.locator("#run-view")).to_be_visible()


def stored_refresh_token_after(page: Page, previous: str, timeout: float = 10.0) -> str | None:
    """The refresh token in sessionStorage once it differs from `previous` (or at the deadline).

    Polled from Python, so the wait never depends on page timers, which a test may have
    replaced with Playwright's fake clock.
    """
    deadline = time.monotonic() + timeout
    while True:
        token: str | None = page.evaluate("sessionStorage.getItem('sca.refresh_token')")
        if token != previous or time.monotonic() >= deadline:
            return token
        time.sleep(0.02)


def wait_report(page: Page) -> None:
    expect(page.locator("#report-view")).to_be_visible(timeout=30_000)
    expect(page.locator("#progress-label")).to_have_text("100%")


def timeline_seqs(page: Page) -> list[int]:
    seqs: list[str] = page.eval_on_selector_all(
        "#timeline > li", "ls => ls.map(l => l.dataset.seq)"
    )
    return [int(s) for s in seqs]


def script_fake(fake: FakeLLM, *turns: dict[str, Any]) -> None:
    reset = urllib.request.Request(f"{fake.base_url}/_fake/reset", method="POST", data=b"{}")
    LOOPBACK.open(reset, timeout=5).close()
    request = urllib.request.Request(
        f"{fake.base_url}/_fake/script",
        method="POST",
        data=json.dumps(list(turns)).encode(),
        headers={"Content-Type": "application/json"},
    )
    LOOPBACK.open(request, timeout=5).close()


# ---- tests --------------------------------------------------------------------------------------


def test_full_flow_offline(open_client: PageFactory, offline_server: Server) -> None:
    client = open_client(offline_server)
    page = client.page
    shot(page, "01-signed-out")
    email = new_account(page)
    expect(page.locator("#session-email")).to_have_text(email)
    expect(page.locator("#history-empty")).to_be_visible()

    # Ask the grid-timing question with the offline engine.
    page.locator("[data-example]").first.click()
    expect(page.locator("#question")).to_have_value(GRID_QUESTION)
    page.click("#ask-submit")
    wait_report(page)
    shot(page, "02-report")

    steps = page.locator("#plan .plan-step")
    assert steps.count() >= 1
    assert set(steps.evaluate_all("ls => ls.map(l => l.dataset.state)")) == {"done"}
    types = set(page.eval_on_selector_all("#timeline > li", "ls => ls.map(l => l.dataset.type)"))
    assert {"started", "agent_thinking", "tool_execution", "agent_response", "completed"} <= types
    seqs = timeline_seqs(page)
    assert seqs == sorted(set(seqs))

    # A tool call expands to its arguments and result.
    page.click("#timeline-box > summary")  # collapsed once the report arrived
    tool = page.locator("#timeline li.tool").first
    tool.locator("summary").click()
    expect(tool.locator(".tool-args")).to_be_visible()
    assert json.loads(tool.locator(".tool-args").inner_text()) != {}
    expect(tool.locator(".tool-result")).to_contain_text("Result:")
    expect(tool.locator("summary")).to_contain_text("finished")
    shot(page, "03-timeline-expanded")

    # Report: rendered markdown, a chart image, usage and provenance.
    assert page.locator("#report-body h2, #report-body h3").count() >= 1
    chart = page.locator("#charts img").first
    expect(chart).to_have_attribute("src", re.compile(r"^data:image/svg\+xml;base64,"))
    assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
    # The report's own chart links (for text-only clients) are left to the figures above.
    expect(page.locator("#report-body")).not_to_contain_text("Chart images")
    expect(page.locator("#usage")).to_contain_text("Energy")
    assert page.locator("#sources li").count() >= 1

    # Download as Markdown: the report's own text, not the rendered HTML.
    with page.expect_download() as download:
        page.click("#download-report")
    markdown = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename == "sustainable-city-report.md"
    assert markdown.startswith("I read this as: ")
    assert re.search(r"\]\(/images/chart-[0-9a-f]{32}\.png\)", markdown)
    first_heading = page.locator("#report-body h2, #report-body h3").first.inner_text()
    assert first_heading in markdown

    # History lists it; open it, continue it.
    item = page.locator(".history-item").first
    expect(item).to_contain_text(GRID_QUESTION[:40])
    expect(item).to_have_attribute("data-id", re.compile(r"^[0-9]+$"))  # an integer id
    item.click()
    expect(page.locator("#transcript > li")).to_have_count(2)
    expect(item).to_have_attribute("aria-current", "true")
    page.click("#continue-conversation")
    expect(page.locator("#continuing")).to_be_visible()
    ask(page, "How green was the Irish grid last week?")
    wait_report(page)
    expect(page.locator(".history-item")).to_have_count(1)
    page.locator(".history-item").first.click()
    expect(page.locator("#transcript > li")).to_have_count(4)
    shot(page, "04-conversation")

    # Delete it.
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete-conversation")
    expect(page.locator(".history-item")).to_have_count(0)
    expect(page.locator("#history-empty")).to_be_visible()

    # Sign out: back to the passkey screen, tokens gone from the tab.
    page.click("#sign-out")
    expect(page.locator("#auth-view")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('sca.refresh_token')") is None
    page.reload()
    expect(page.locator("#auth-view")).to_be_visible()


def test_usernameless_and_autofill_sign_in(
    open_client: PageFactory, offline_server: Server
) -> None:
    page = open_client(offline_server).page
    email = new_email()
    sign_up(page, email)
    page.reload()
    expect(page.locator("#email")).to_have_value("")
    sign_in(page, None)  # no email: the browser offers its discoverable passkey
    expect(page.locator("#session-email")).to_have_text(email)

    # Passkey autofill: focusing the field starts a conditional request; the virtual
    # authenticator answers it at once, as a user picking the suggestion would.
    page.click("#sign-out")
    expect(page.locator("#auth-view")).to_be_visible()
    page.focus("#email")
    expect(page.locator("#app-view")).to_be_visible()
    expect(page.locator("#session-email")).to_have_text(email)


def test_cancel_mid_run(
    open_client: PageFactory, scripted_server: Server, fake_llm: FakeLLM
) -> None:
    page = open_client(scripted_server).page
    new_account(page)
    script_fake(
        fake_llm,
        {"text": PLAN_JSON},
        {"text": "never shown", "fault": "stall", "fault_after": 1, "stall_s": 20},
    )
    ask(page, "A question we will stop")
    expect(page.locator("#stop")).to_be_visible()
    expect(page.locator("#plan .plan-step")).to_have_count(1)
    page.click("#stop")
    expect(page.locator("#notice")).to_contain_text("stopped")
    last = page.locator("#timeline > li").last
    expect(last).to_have_attribute("data-type", "error")
    expect(last).to_contain_text("cancelled")
    expect(page.locator("#stop")).to_be_hidden()
    expect(page.locator("#ask-submit")).to_be_enabled()
    expect(page.locator("#report-view")).to_be_hidden()
    assert int(page.locator("#progress").evaluate("p => p.value")) < 100
    shot(page, "05-cancelled")


def test_reload_mid_run_resumes_without_duplicates(
    open_client: PageFactory, scripted_server: Server, fake_llm: FakeLLM
) -> None:
    page = open_client(scripted_server).page
    new_account(page)
    script_fake(fake_llm, {"text": PLAN_JSON}, {"text": "# Done\n\nResumed fine."})
    resumed: list[Request] = []
    page.on(
        "request",
        lambda request: resumed.append(request) if "/events" in request.url else None,
    )
    ask(page, "A question we reload during")
    expect(page.locator("#plan .plan-step")).to_have_count(1)
    before = timeline_seqs(page)
    assert page.locator("#timeline > li[data-type=completed]").count() == 0
    page.reload()
    wait_report(page)
    after = timeline_seqs(page)
    assert after == sorted(set(after))
    assert after[: len(before)] == before
    assert len(resumed) == 1
    last_event_id = resumed[0].headers.get("last-event-id")
    assert last_event_id is not None
    assert int(last_event_id) >= before[-1]
    expect(page.locator("#report-body")).to_contain_text("Resumed fine.")
    shot(page, "06-resumed")


def test_hostile_report_is_text(
    open_client: PageFactory, scripted_server: Server, fake_llm: FakeLLM
) -> None:
    page = open_client(scripted_server).page
    new_account(page)
    script_fake(fake_llm, {"text": PLAN_JSON}, {"text": HOSTILE_REPORT})
    ask(page, "Show me something nasty")
    wait_report(page)
    body = page.locator("#report-body")
    expect(body).to_contain_text('<script>window.pwned = "script"</script>')
    expect(body).to_contain_text("<img src=x onerror=")
    assert body.locator("script, img, b, a").count() == 0
    page.locator(".history-item").first.click()
    expect(page.locator("#transcript")).to_contain_text("<img src=x onerror=")
    assert page.locator("#transcript script, #transcript img, #transcript b").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("window.pwned") is None
    shot(page, "07-hostile-report")


def csv_file(name: str, content: bytes) -> FilePayload:
    return {"name": name, "mimeType": "text/csv", "buffer": content}


def test_dataset_upload_is_sent_with_the_question(
    open_client: PageFactory, offline_server: Server
) -> None:
    page = open_client(offline_server).page
    new_account(page)

    broken = csv_file("broken.csv", b"month,kwh\n2025-01,\x00\n")
    page.set_input_files("#dataset-file", files=broken)
    expect(page.locator("#notice")).to_contain_text("Upload failed")
    expect(page.locator("#dataset-remove")).to_be_hidden()

    rows = "\n".join(f"2025-{m:02d},{1000 + 37 * m}" for m in range(1, 13))
    page.set_input_files(
        "#dataset-file", files=csv_file("energy.csv", f"month,kwh\n{rows}\n".encode())
    )
    expect(page.locator("#dataset-status")).to_contain_text("Attached energy.csv: 12 rows")
    with page.expect_request(lambda r: r.url.endswith("/ask-stream")) as asked:
        ask(page, "Analyse the monthly energy use in my data and suggest savings.")
    body = json.loads(asked.value.post_data or "{}")
    assert body["dataset_id"]
    wait_report(page)
    shot(page, "08-dataset-report")


def test_phone_width_dark_theme(open_client: PageFactory, offline_server: Server) -> None:
    page = open_client(offline_server).page
    page.set_viewport_size({"width": 375, "height": 740})
    page.emulate_media(color_scheme="dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 21, 18)"  # the dark palette, from prefers-color-scheme
    new_account(page)
    ask(page, GRID_QUESTION)
    wait_report(page)
    shot(page, "09-phone-dark")
    # Nothing wider than the screen: wide tables and dashboards scroll inside their box.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_passkey_failures_are_explained(open_client: PageFactory, offline_server: Server) -> None:
    client = open_client(offline_server)
    page = client.page
    email = new_email()
    sign_up(page, email)

    # The service refuses a second account for the same email: its detail is shown.
    page.click("#sign-up")
    expect(page.locator("#auth-status")).to_contain_text("already")
    expect(page.locator("#app-view")).to_be_hidden()

    # The user does not verify (cancels the prompt): NotAllowedError, explained.
    client.authenticator.set_user_verified(False)
    page.click("#sign-in")
    expect(page.locator("#auth-status")).to_contain_text("cancelled or timed out")
    expect(page.locator("#app-view")).to_be_hidden()
    expect(page.locator("#sign-in")).to_be_enabled()
    shot(page, "10-passkey-cancelled")


def test_page_and_assets_are_public_with_security_headers(offline_server: Server) -> None:
    with LOOPBACK.open(f"{offline_server.base_url}/client", timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/html")
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "default-src 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    for asset, kind in (("app.js", "javascript"), ("styles.css", "text/css")):
        with LOOPBACK.open(f"{offline_server.base_url}/client/static/{asset}", timeout=5) as r:
            assert r.status == 200
            assert kind in r.headers["Content-Type"]
    for outside in ("../routes.py", "%2e%2e/routes.py", "..%2froutes.py"):
        with pytest.raises(urllib.error.HTTPError) as missing:
            LOOPBACK.open(f"{offline_server.base_url}/client/static/{outside}", timeout=5)
        missing.value.close()  # an HTTPError holds the response and its socket
        assert missing.value.code == 404


def test_browser_without_webauthn_is_told_so(
    authenticator_page: Callable[[str], AuthenticatorPage], offline_server: Server
) -> None:
    page = authenticator_page(offline_server.base_url).page
    page.add_init_script("delete window.PublicKeyCredential")
    page.goto("/client")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#auth-status")).to_contain_text("cannot use passkeys")
    expect(page.locator("#auth-status")).to_have_attribute("data-kind", "error")
    expect(page.locator("#sign-in")).to_be_disabled()
    expect(page.locator("#sign-up")).to_be_disabled()


def test_silent_refresh_before_expiry(open_client: PageFactory, offline_server: Server) -> None:
    client = open_client(offline_server)
    page = client.page
    page.clock.install()  # fake timers: the refresh is due 5 minutes before the 15-minute expiry
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    bearer: list[str] = []
    page.on(
        "request",
        lambda r: (
            bearer.append(r.headers.get("authorization", ""))
            if r.url.endswith(("/conversations", "/ask-stream"))
            else None
        ),
    )
    new_account(page)
    expect(page.locator("#history-empty")).to_be_visible()
    first = page.evaluate("sessionStorage.getItem('sca.refresh_token')")

    with page.expect_response(lambda r: r.url.endswith("/auth/refresh-token")) as refreshed:
        page.clock.fast_forward("10:01")
    assert refreshed.value.status == 200
    # The response arriving does not mean the page has stored it yet: wait for the rotation.
    rotated = stored_refresh_token_after(page, first)
    assert rotated
    assert rotated != first

    # The page now uses the new access token, and the service accepts it.
    ask(page, GRID_QUESTION)
    wait_report(page)
    assert bearer[0].startswith("Bearer ")
    assert bearer[-1].startswith("Bearer ")
    assert bearer[-1] != bearer[0]


def test_keyboard_only_question(open_client: PageFactory, offline_server: Server) -> None:
    page = open_client(offline_server).page
    new_account(page)
    # Signing in puts the caret in the question box; Ctrl+Enter asks.
    expect(page.locator("#question")).to_be_focused()
    page.keyboard.type(GRID_QUESTION)
    page.keyboard.press("Control+Enter")
    wait_report(page)
    # When the report arrives, focus moves to it (screen readers continue from there).
    expect(page.locator("#report-title")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#copy-report")).to_be_focused()


# ---- report actions, provenance and a browser EventSource ---------------------------------------

EVENT_TYPES = [
    "started",
    "agent_thinking",
    "agent_response",
    "tool_execution",
    "completed",
    "error",
]

# Follow a run with a real EventSource until its terminal event (or an error that closes the
# connection). Every named event type gets a listener; `message` catches any unnamed event.
FOLLOW_WITH_EVENT_SOURCE = """
async ({url, types, timeoutMs}) => new Promise((resolve) => {
  const source = new EventSource(url);
  const received = [];
  const errors = [];
  const finish = (reason) => {
    clearTimeout(timer);
    source.close();
    resolve({reason, received, errors, readyState: source.readyState});
  };
  const timer = setTimeout(() => finish("timeout"), timeoutMs);
  for (const type of [...types, "message"]) {
    source.addEventListener(type, (e) => {
      if (!(e instanceof MessageEvent)) return;  // a connection error, not an `error` event
      received.push({type: e.type, lastEventId: e.lastEventId, envelope: JSON.parse(e.data)});
      if (type === "completed" || type === "error") finish(type);
    });
  }
  source.onerror = () => {
    errors.push(source.readyState);
    if (source.readyState === EventSource.CLOSED) finish("closed");
  };
})
"""

FETCH_JSON = """
async ({method, path, token}) => {
  const response = await fetch(path, {
    method, headers: {Authorization: `Bearer ${token}`, Accept: "application/json"},
  });
  return {status: response.status, body: await response.json()};
}
"""


@dataclass(frozen=True)
class AskedRun:
    run_id: str
    token: str  # the page's own access token, as it sent it with the question


def ask_capturing_run(page: Page, question: str) -> AskedRun:
    """Ask through the page; the run id and bearer token come from the page's own request."""
    page.fill("#question", question)
    is_ask = "**/ask-stream"
    with page.expect_request(is_ask) as asked, page.expect_response(is_ask) as answered:
        page.click("#ask-submit")
    authorization = asked.value.headers["authorization"]
    assert authorization.startswith("Bearer ")
    assert answered.value.ok
    return AskedRun(answered.value.headers["x-run-id"], authorization.removeprefix("Bearer "))


def page_fetch_json(page: Page, method: str, path: str, token: str) -> Any:
    result = page.evaluate(FETCH_JSON, {"method": method, "path": path, "token": token})
    assert result["status"] == 200, result
    return result["body"]


def test_copy_markdown_puts_the_report_on_the_clipboard(
    open_client: PageFactory, offline_server: Server
) -> None:
    client = open_client(offline_server)
    page = client.page
    client.authenticator.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=offline_server.base_url
    )
    new_account(page)
    run = ask_capturing_run(page, GRID_QUESTION)
    wait_report(page)

    page.evaluate("navigator.clipboard.writeText('not the report')")
    page.click("#copy-report")
    # copyText awaits the clipboard write before the notice is shown.
    expect(page.locator("#notice")).to_contain_text("Report copied as Markdown.")
    copied: str = page.evaluate("navigator.clipboard.readText()")

    with page.expect_download() as download:
        page.click("#download-report")
    downloaded = Path(download.value.path()).read_text(encoding="utf-8")
    stored = page_fetch_json(page, "GET", f"/runs/{run.run_id}", run.token)
    assert stored["status"] == "completed"
    assert copied.startswith("I read this as: ")
    assert copied == downloaded == stored["report"]


def test_synthetic_sources_carry_the_synthetic_badge(
    open_client: PageFactory, offline_server: Server
) -> None:
    page = open_client(offline_server).page
    new_account(page)
    run = ask_capturing_run(page, GRID_QUESTION)
    wait_report(page)

    stored = page_fetch_json(page, "GET", f"/runs/{run.run_id}", run.token)
    sources: list[dict[str, Any]] = stored["sources"]
    synthetic = [s for s in sources if s["synthetic"]]
    assert synthetic, sources  # the offline engine has no network: its grid data is generated

    items = page.locator("#sources > li.source")
    expect(items).to_have_count(len(sources))
    for index, source in enumerate(sources):
        item = items.nth(index)
        expect(item.locator("strong")).to_have_text(source["name"])
        expect(item.locator(".source-kind")).to_have_text(f" {source['kind']}")
        badge = item.locator(".badge")
        expect(badge).to_have_count(1)
        if source["synthetic"]:
            expect(badge).to_have_class("badge synthetic")
            expect(badge).to_have_text("synthetic")
            expect(badge).to_be_visible()
        else:
            expect(badge).to_have_class("badge measured")
            expect(badge).to_have_text("measured")
    shot(page, "11-provenance")


def test_browser_event_source_follows_a_run_with_a_ticket(
    open_client: PageFactory, scripted_server: Server, fake_llm: FakeLLM
) -> None:
    page = open_client(scripted_server).page
    new_account(page)
    script_fake(fake_llm, {"text": PLAN_JSON}, {"text": "# Followed\n\nBy an EventSource."})
    run = ask_capturing_run(page, "A question an EventSource follows")

    # Usually still live (each model call takes 700 ms): a ticket, then a plain EventSource,
    # which replays from seq 1 and follows the rest.
    ticket = page_fetch_json(page, "POST", f"/runs/{run.run_id}/ticket", run.token)
    assert ticket["events_url"] == f"/runs/{run.run_id}/events?ticket={ticket['ticket']}"
    followed = page.evaluate(
        FOLLOW_WITH_EVENT_SOURCE,
        {"url": ticket["events_url"], "types": EVENT_TYPES, "timeoutMs": 30_000},
    )
    assert followed["reason"] == "completed", followed
    assert followed["readyState"] == 2  # closed by the page after `completed`
    received: list[dict[str, Any]] = followed["received"]
    events = [r["envelope"]["event"] for r in received]
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(events) + 1))
    assert [r["type"] for r in received] == [e["event_type"] for e in events]
    assert [r["lastEventId"] for r in received] == [str(s) for s in seqs]
    assert {e["run_id"] for e in events} == {run.run_id}
    assert events[0]["event_type"] == "started"
    assert events[-1]["event_type"] == "completed"
    assert events[-1]["data"]["progress"] == 100
    assert events[-1]["data"]["full_content"].startswith("# Followed")
    progress = [e["data"]["progress"] for e in events]
    assert progress == sorted(progress)
    wait_report(page)  # the page's own stream saw the same run end

    # A forged ticket: the service answers 401, so the EventSource fails and closes, no events.
    bad = page.evaluate(
        FOLLOW_WITH_EVENT_SOURCE,
        {
            "url": f"/runs/{run.run_id}/events?ticket=not-a-ticket",
            "types": EVENT_TYPES,
            "timeoutMs": 10_000,
        },
    )
    assert bad == {"reason": "closed", "received": [], "errors": [2], "readyState": 2}


def _me_status(server: Server, token: str) -> int:
    request = urllib.request.Request(
        f"{server.base_url}/auth/me", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with LOOPBACK.open(request, timeout=5) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def test_personal_access_tokens_panel(open_client: PageFactory, offline_server: Server) -> None:
    page = open_client(offline_server).page
    email = new_account(page)
    page.click("#tokens-box > summary")
    expect(page.locator("#tokens-empty")).to_be_visible()

    page.fill("#token-name", "nightly script")
    page.fill("#token-days", "7")
    page.click("#token-create")
    expect(page.locator("#token-created")).to_be_visible()
    expect(page.locator("#token-status")).to_contain_text("will not be shown again")
    secret = page.input_value("#token-secret")
    assert secret.startswith("sca_pat_")
    expect(page.locator("#token-example")).to_contain_text(f"Bearer {secret}")
    item = page.locator("#token-list > li")
    expect(item).to_have_count(1)
    expect(item.locator(".token-name")).to_have_text("nightly script")
    expect(item.locator(".token-meta")).to_contain_text(f"…{secret[-4:]}")
    expect(page.locator("#tokens-empty")).to_be_hidden()
    shot(page, "09-token-created")
    assert _me_status(offline_server, secret) == 200

    # A blank name is refused on the page, before any request.
    page.fill("#token-name", "   ")
    page.click("#token-create")
    expect(page.locator("#token-status")).to_have_attribute("data-kind", "error")
    expect(page.locator("#token-list > li")).to_have_count(1)

    item.get_by_role("button", name="Revoke token nightly script").click()
    expect(page.locator("#token-list > li")).to_have_count(0)
    expect(page.locator("#token-status")).to_contain_text("revoked")
    assert _me_status(offline_server, secret) == 401

    # Signing out forgets the secret shown on the page.
    page.click("#sign-out")
    expect(page.locator("#auth-view")).to_be_visible()
    assert page.input_value("#token-secret") == ""
    assert email
