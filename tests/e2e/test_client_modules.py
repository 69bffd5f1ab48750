"""The web client's pure ES modules (Markdown renderer, SSE parser, run view) in real Chromium.

The modules are served by a tiny static server of this test under the page's real
Content-Security-Policy, so a module that needed inline script or ``eval`` would fail here too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from app.web.routes import CONTENT_SECURITY_POLICY, STATIC_DIR
from bench.markdown import cases

pytestmark = [pytest.mark.browser]

HARNESS_HTML = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>harness</title>
<script type="module" src="/harness.js"></script></head>
<body>
<progress id="progress" max="100" value="0"></progress><span id="progress-label"></span>
<p id="run-status"></p><ol id="plan"></ol><div id="live-output" hidden></div><ol id="timeline"></ol>
<div id="out"></div>
</body></html>"""

HARNESS_JS = b"""
import * as markdown from "/client/static/markdown.js";
import * as sse from "/client/static/sse.js";
import * as report from "/client/static/report.js";
import * as api from "/client/static/api.js";
import { RunView } from "/client/static/run-view.js";
window.violations = [];
document.addEventListener(
  "securitypolicyviolation", (e) => window.violations.push(e.violatedDirective));
window.md = markdown; window.sse = sse; window.report = report; window.RunView = RunView;
window.api = api;
const $ = (id) => document.getElementById(id);
window.makeView = () => new RunView({progress: $("progress"), progressLabel: $("progress-label"),
  status: $("run-status"), plan: $("plan"), live: $("live-output"), timeline: $("timeline")});
window.harnessReady = true;
"""


class _Handler(SimpleHTTPRequestHandler):
    """Serves the harness and ``/client/static/*`` from the real static directory."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(STATIC_DIR), **kwargs)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        super().end_headers()

    def do_GET(self) -> None:
        if self.path in ("/harness.html", "/harness.js"):
            body = HARNESS_HTML if self.path.endswith(".html") else HARNESS_JS
            self.send_response(200)
            kind = "text/html" if self.path.endswith(".html") else "text/javascript"
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path.startswith("/client/static/"):
            self.path = self.path.removeprefix("/client/static")
            super().do_GET()
            return
        self.send_error(404)


@pytest.fixture(scope="module")
def static_origin() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def client_browser_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


@pytest.fixture
def harness(client_browser_page: Page, static_origin: str) -> Iterator[Page]:
    page = client_browser_page
    page.goto(f"{static_origin}/harness.html")
    page.wait_for_function("window.harnessReady === true")
    yield page
    assert page.evaluate("window.violations") == []


def render(page: Page, source: str) -> str:
    """The HTML the renderer builds for ``source`` (serialised by the browser for comparison)."""
    result: str = page.evaluate(
        "src => { const d = document.createElement('div'); d.append(md.renderMarkdown(src));"
        " return d.innerHTML; }",
        source,
    )
    return result


# ---- Markdown ---------------------------------------------------------------------------------


def test_markdown_blocks(harness: Page) -> None:
    html = render(
        harness,
        "# Title\n\nSome **bold**, *italic*, ~~old~~ and `x < y`.\n\n"
        "- one\n- two\n  - nested\n\n3. three\n4. four\n\n> quoted\n\n---\n",
    )
    assert html == (
        "<h2>Title</h2>"
        "<p>Some <strong>bold</strong>, <em>italic</em>, <del>old</del> and "
        "<code>x &lt; y</code>.</p>"
        "<ul><li>one</li><li>two<ul><li>nested</li></ul></li></ul>"
        '<ol start="3"><li>three</li><li>four</li></ol>'
        "<blockquote><p>quoted</p></blockquote><hr>"
    )


def test_markdown_table_with_alignment_and_escaped_pipe(harness: Page) -> None:
    html = render(harness, "| Hour | g/kWh |\n|:---|---:|\n| 02:00 | 120 \\| low |\n| 18:00 |\n")
    assert html == (
        '<div class="table-scroll" tabindex="0"><table><thead><tr>'
        '<th scope="col" style="text-align: left;">Hour</th>'
        '<th scope="col" style="text-align: right;">g/kWh</th></tr></thead><tbody>'
        '<tr><td style="text-align: left;">02:00</td>'
        '<td style="text-align: right;">120 | low</td></tr>'
        '<tr><td style="text-align: left;">18:00</td><td style="text-align: right;"></td></tr>'
        "</tbody></table></div>"
    )


def test_markdown_fenced_code_keeps_ascii_dashboard_verbatim(harness: Page) -> None:
    dashboard = "+------+-----+\n| **a** | <b> |\n+------+-----+"
    html = render(harness, f"Intro\n```text\n{dashboard}\n```\nafter")
    assert html == (
        "<p>Intro</p>"
        '<pre tabindex="0"><code data-language="text">'
        "+------+-----+\n| **a** | &lt;b&gt; |\n+------+-----+</code></pre>"
        "<p>after</p>"
    )


def test_markdown_links_only_http(harness: Page) -> None:
    html = render(
        harness,
        "[ok](https://example.org/a?b=1) [bad](javascript:alert(1)) [data](data:text/html,x) "
        "see https://grid.example/x. and <http://e.org>",
    )
    assert html == (
        '<p><a href="https://example.org/a?b=1" rel="noopener noreferrer" target="_blank">ok</a>'
        " bad data see "
        '<a href="https://grid.example/x" rel="noopener noreferrer" target="_blank">'
        "https://grid.example/x</a>. and "
        '<a href="http://e.org/" rel="noopener noreferrer" target="_blank">http://e.org</a></p>'
    )


def test_markdown_literal_asterisks_and_underscores(harness: Page) -> None:
    html = render(harness, "2 * 3 * 4 and snake_case_name and \\*not em\\*")
    assert html == "<p>2 * 3 * 4 and snake_case_name and *not em*</p>"


def test_markdown_html_is_text_and_never_runs(harness: Page) -> None:
    hostile = (
        '<script>window.pwned = "script"</script>\n\n'
        "<img src=x onerror=\"window.pwned = 'img'\">\n\n"
        '# <svg onload="window.pwned = 1">\n\n'
        '| <iframe src="javascript:window.pwned=2"> |\n|---|\n| <b onmouseover=x>cell</b> |\n\n'
        "[click](javascript:window.pwned=3) ![img](javascript:window.pwned=4)"
    )
    harness.evaluate(
        "src => document.getElementById('out').append(md.renderMarkdown(src))", hostile
    )
    harness.wait_for_timeout(200)  # give any (wrongly) created image time to fail and fire
    assert harness.evaluate("window.pwned") is None
    counts = harness.evaluate(
        "() => ['script','img','svg','iframe','b','a'].map("
        "t => document.querySelectorAll('#out ' + t).length)"
    )
    assert counts == [0, 0, 0, 0, 0, 0]
    text = harness.evaluate("document.getElementById('out').textContent")
    assert '<script>window.pwned = "script"</script>' in text
    assert "<img src=x onerror=" in text
    assert "<b onmouseover=x>cell</b>" in text


# Inputs that made the old renderer quadratic (or overflow its stack) must render correctly,
# and in time proportional to their size: each within a generous multiple of a normal report
# of the same size rendered in the same page (the figures themselves: python -m bench.markdown).
PATHOLOGICAL_SIZE = 48_000
TIME_RATIO_BOUND = 20


def test_markdown_pathological_inputs_render_in_linear_time(harness: Page) -> None:
    inputs = cases(PATHOLOGICAL_SIZE)
    timings: dict[str, float] = harness.evaluate(
        """inputs => {
          const out = {};
          for (const [name, src] of Object.entries(inputs)) {
            let best = Infinity;
            for (let k = 0; k < 3; k += 1) {
              const holder = document.createElement("div");
              const start = performance.now();
              holder.append(md.renderMarkdown(src));
              best = Math.min(best, performance.now() - start);
            }
            out[name] = best;
          }
          return out;
        }""",
        inputs,
    )
    baseline = max(timings.pop("normal report"), 1.0)  # performance.now() is coarse
    slow = {name: round(ms / baseline, 1) for name, ms in timings.items()}
    assert {n: r for n, r in slow.items() if r > TIME_RATIO_BOUND} == {}, (baseline, slow)


def test_markdown_pathological_inputs_keep_their_text(harness: Page) -> None:
    underscores = "_a " * 8000
    assert render(harness, underscores) == f"<p>{underscores.strip()}</p>"
    spaced = "a * " * 100
    assert render(harness, spaced) == f"<p>{spaced.strip()}</p>"
    brackets = "[" * 5000 + "x"
    assert render(harness, brackets) == f"<p>{brackets}</p>"


def test_markdown_deep_quotes_nest_eight_levels_then_are_text(harness: Page) -> None:
    html = render(harness, ">" * 5000 + " a")
    assert html == "<blockquote>" * 8 + "<p>" + "&gt;" * 4992 + " a</p>" + "</blockquote>" * 8


def test_markdown_nested_spans_share_one_walk(harness: Page) -> None:
    assert render(harness, "**bold _em ~~del `code`~~_** [a *b*](https://e.org) c_") == (
        "<p><strong>bold <em>em <del>del <code>code</code></del></em></strong> "
        '<a href="https://e.org/" rel="noopener noreferrer" target="_blank">a <em>b</em></a>'
        " c_</p>"
    )
    # An opener whose first closer lies outside its enclosing span stays literal.
    assert render(harness, "*a _b* c_") == "<p><em>a _b</em> c_</p>"


def test_markdown_heading_and_fence_without_backtracking_patterns(harness: Page) -> None:
    assert render(harness, "## Title ##") == "<h3>Title</h3>"
    assert render(harness, "# C# and F#") == "<h2>C# and F#</h2>"
    assert render(harness, "#hashtag") == "<p>#hashtag</p>"
    assert render(harness, "#") == "<h2></h2>"
    assert render(harness, "# a" + " " * 20 + "b   ") == "<h2>a" + " " * 20 + "b</h2>"
    assert render(harness, "```py extra\ncode\n```") == (
        '<pre tabindex="0"><code data-language="py">code</code></pre>'
    )
    assert render(harness, "```a`b") == "<p>```a`b</p>"


def test_markdown_code_spans_close_on_an_equal_run(harness: Page) -> None:
    assert render(harness, "``a ` b`` and `c`") == "<p><code>a ` b</code> and <code>c</code></p>"
    assert render(harness, "`a``") == "<p>`a``</p>"


def test_markdown_tables_wider_than_64_columns_are_text(harness: Page) -> None:
    wide = "|".join(["h"] * 65) + "\n" + "|".join(["-"] * 65)
    assert render(harness, wide).startswith("<p>h|h|")
    narrow = "|".join(["h"] * 64) + "\n" + "|".join(["-"] * 64)
    assert render(harness, narrow).count("<th ") == 64


def test_markdown_unusable_bare_url_is_text(harness: Page) -> None:
    assert (
        render(harness, "see (http://[bad(http://x.org") == "<p>see (http://[bad(http://x.org</p>"
    )


# ---- SSE parser ---------------------------------------------------------------------------------

STREAM = (
    ": keep-alive\r\n\r\n"
    'id: 1\r\nevent: started\r\ndata: {"event": {"seq": 1}}\r\n\r\n'
    "data: line one\ndata: line two\n\n"
    "id: 3\revent: completed\rdata:no-space\r\r"
    "data: unterminated"
)
EXPECTED = [
    {"id": "1", "event": "started", "data": '{"event": {"seq": 1}}'},
    {"id": "1", "event": "message", "data": "line one\nline two"},
    {"id": "3", "event": "completed", "data": "no-space"},
]


def test_sse_parser_whole_stream(harness: Page) -> None:
    events = harness.evaluate("s => new sse.SSEParser().feed(s)", STREAM)
    assert events == EXPECTED


def test_sse_parser_every_split_point_gives_the_same_events(harness: Page) -> None:
    mismatches = harness.evaluate(
        """([s, expected]) => {
            const bad = [];
            for (let i = 0; i <= s.length; i++) {
              for (const j of [i, Math.min(s.length, i + 1), Math.min(s.length, i + 7)]) {
                const p = new sse.SSEParser();
                const got = [...p.feed(s.slice(0, i)), ...p.feed(s.slice(i, j)),
                             ...p.feed(s.slice(j))];
                if (JSON.stringify(got) !== JSON.stringify(expected)) bad.push([i, j]);
              }
            }
            return bad;
        }""",
        [STREAM, EXPECTED],
    )
    assert mismatches == []


def test_read_run_events_from_a_streamed_body(harness: Page) -> None:
    seqs = harness.evaluate(
        """async () => {
            const chunks = ['id: 1\\nevent: started\\n',
                            'data: {"event": {"event_type": "started", "se',
                            'q": 1}}\\n\\n: ping\\n\\ndata: not json\\n\\n',
                            'data: {"event": {"event_type": "completed", "seq": 2}}\\n\\n'];
            const body = new ReadableStream({ start(c) {
                for (const ch of chunks) c.enqueue(new TextEncoder().encode(ch)); c.close(); } });
            const out = [];
            for await (const e of sse.readRunEvents(new Response(body))) {
                out.push([e.event_type, e.seq]);
            }
            return out;
        }"""
    )
    assert seqs == [["started", 1], ["completed", 2]]


# ---- run view and report ------------------------------------------------------------------------


def _event(seq: int, event_type: str, progress: int, **data: Any) -> dict[str, Any]:
    return {
        "event_type": event_type,
        "run_id": "run-1",
        "seq": seq,
        "timestamp": "2026-11-26T02:00:00.000+00:00",
        "agent_name": "Planner" if seq < 3 else "Carbon",
        "message": f"message {seq}",
        "data": {"progress": progress, **data},
    }


RUN_EVENTS = [
    _event(1, "started", 0, run_id="run-1", conversation_id=17, question="q"),
    _event(
        2,
        "agent_thinking",
        5,
        state="planning",
        plan=[{"kind": "carbon", "task": "Find the grid"}, {"kind": "report", "task": "Write"}],
    ),
    _event(3, "agent_thinking", 10, state="running_step", step="carbon", step_index=0),
    _event(4, "agent_thinking", 12, state="running_step", step="carbon", partial_text="Hel"),
    _event(5, "agent_thinking", 13, state="running_step", step="carbon", partial_text="Hello"),
    _event(
        6,
        "tool_execution",
        20,
        step="carbon",
        call_id="call-1",
        tool="grid_forecast",
        status="started",
        arguments={"zone": "IE"},
    ),
    _event(
        7,
        "tool_execution",
        40,
        step="carbon",
        call_id="call-1",
        tool="grid_forecast",
        status="finished",
        arguments={"zone": "IE"},
        duration_ms=12.5,
        result_summary="48 hours, min 120 g/kWh at 03:00",
    ),
    _event(
        8,
        "agent_response",
        60,
        step="carbon",
        step_index=0,
        output="done",
        usage={"input_tokens": 10, "output_tokens": 5},
        duration_ms=1500,
    ),
]


def test_run_view_applies_events_once(harness: Page) -> None:
    result = harness.evaluate(
        """events => {
            const $ = (id) => document.getElementById(id);
            const view = makeView();
            const applied = events.map(e => view.apply(e));
            const again = events.map(e => view.apply(e));   // a replay after reconnect
            const liveText = $('live-output').textContent;
            return {applied, again, progress: $('progress').value,
              label: $('progress-label').textContent,
              plan: [...document.querySelectorAll('.plan-step')].map(li => li.dataset.state),
              entries: [...document.querySelectorAll('#timeline > li')].map(li => li.dataset.seq),
              tool: document.querySelector('#timeline .tool summary').textContent,
              toolResult: document.querySelector('#timeline .tool .tool-result').textContent,
              toolArgs: JSON.parse(
                document.querySelector('#timeline .tool .tool-args').textContent),
              liveText, conversation: view.conversationId};
        }""",
        RUN_EVENTS,
    )
    assert result["applied"] == [True] * 8
    assert result["again"] == [False] * 8
    assert result["progress"] == 60
    assert result["label"] == "60%"
    assert result["plan"] == ["done", "pending"]
    # partial text of one step is one entry; the tool call's two events are one entry
    assert result["entries"] == ["1", "2", "3", "4", "6", "8"]
    assert result["tool"] == "grid_forecast — finished (13 ms)"
    assert result["toolResult"] == "Result: 48 hours, min 120 g/kWh at 03:00"
    assert result["toolArgs"] == {"zone": "IE"}
    assert result["liveText"] == ""  # hidden again once the step answered
    assert result["conversation"] == 17  # the service's ids are JSON integers


def test_run_view_shows_an_added_step_kind_by_its_name(harness: Page) -> None:
    labels = harness.evaluate(
        """events => {
            const view = makeView();
            events.forEach(e => view.apply(e));
            return [...document.querySelectorAll('.plan-step .plan-kind')].map(s => s.textContent);
        }""",
        [
            _event(
                1,
                "agent_thinking",
                5,
                state="planning",
                plan=[
                    {"kind": "water", "task": "Read the meters"},
                    {"kind": "constructor", "task": "A name Object.prototype also has"},
                    {"kind": "report", "task": "Write"},
                ],
            )
        ],
    )
    assert labels == ["water", "constructor", "Report"]


def test_progress_never_decreases(harness: Page) -> None:
    values = harness.evaluate(
        """events => {
            const $ = (id) => document.getElementById(id);
            const view = makeView();
            return events.map(e => { view.apply(e); return $('progress').value; });
        }""",
        [
            _event(1, "started", 30),
            _event(2, "agent_thinking", 10, state="x"),
            _event(3, "error", 50, code="cancelled", error="stopped"),
        ],
    )
    assert values == [30, 30, 50]


def test_chart_svg_is_shown_as_an_inert_image(harness: Page) -> None:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20" onload="top.pwned=1">'
        "<script>top.pwned = 2</script>"
        '<rect width="40" height="20" fill="green"/><text x="2" y="12">é CO₂</text></svg>'
    )
    result = harness.evaluate(
        """async svg => {
            const out = document.getElementById('out');
            report.renderCharts(out, [{id: 'c1', title: 'Grid <b>intensity</b>', svg}]);
            const img = out.querySelector('img');
            await img.decode();
            return {w: img.naturalWidth, alt: img.alt, src: img.src.slice(0, 26),
                    svgs: out.querySelectorAll('svg, script').length,
                    caption: out.querySelector('figcaption').textContent};
        }""",
        svg,
    )
    assert result == {
        "w": 40,
        "alt": "Grid <b>intensity</b>",
        "src": "data:image/svg+xml;base64,",
        "svgs": 0,
        "caption": "Grid <b>intensity</b>",
    }
    assert harness.evaluate("window.pwned") is None


def test_usage_of_an_offline_run_shows_cpu_time_and_labelled_estimates(harness: Page) -> None:
    shown = harness.evaluate(
        """usages => usages.map(usage => {
            const out = document.getElementById('out');
            report.renderUsage(out, usage, 1500);
            return [...out.querySelectorAll('dt')].map(dt =>
                `${dt.textContent}: ${dt.nextElementSibling.textContent}`);
        })""",
        [
            {
                "llm_calls": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "cost_usd": 0.0,
                "energy_wh": 0.0,
                "cpu_ms": 12.34,
                "cpu_energy_wh": 0.0000343,
                "emissions_g_co2e": 0.0000103,
                "energy_basis": "cpu_time",
            },
            {
                "llm_calls": 3,
                "input_tokens": 1200,
                "output_tokens": 300,
                "cost_usd": 0.0012,
                "energy_wh": 0.45,
                "emissions_g_co2e": 0.135,
                "energy_basis": "llm_tokens",
            },
        ],
    )
    offline, model = shown
    assert offline[:3] == [
        "Language model: none (offline engine): 0 tokens, no cost",
        "CPU time: 12.3 ms (measured)",
        "Energy: 0.0000343 Wh (estimate from CPU time)",
    ]
    assert not any("Tokens" in row or "cost_usd" in row for row in offline)
    assert "Energy: 0.450 Wh (estimate from tokens)" in model
    assert "Tokens in / out: 1,200 / 300" in model


def test_the_reports_own_chart_links_are_left_to_the_chart_figures(harness: Page) -> None:
    markdown = (
        "## Summary\n\nText.\n\n## Chart images\n\n"
        "![Grid \\[ie\\]](/images/chart-aa.png)\n\n![Other](/images/other.png)\n"
    )
    charts = [{"id": "c1", "title": "Grid", "svg": "<svg/>", "url": "/images/chart-aa.png"}]
    kept = harness.evaluate("([m, c]) => report.withoutChartLinks(m, c)", [markdown, charts])
    assert "/images/chart-aa.png" not in kept
    assert "![Other](/images/other.png)" in kept  # not one of the run's charts: kept
    only_charts = markdown.replace("![Other](/images/other.png)\n", "")
    trimmed = harness.evaluate("([m, c]) => report.withoutChartLinks(m, c)", [only_charts, charts])
    assert trimmed == "## Summary\n\nText.\n"
    unchanged = harness.evaluate("([m, c]) => report.withoutChartLinks(m, c)", [markdown, []])
    assert unchanged == markdown


# ---- API client: tokens, silent refresh, errors -------------------------------------------------

# Replaces window.fetch with a script of responses per path and records every call, and
# window.setTimeout with a recorder of delays (the silent-refresh timer).
FAKE_NETWORK = """(script) => {
    const calls = [], delays = [];
    window.fetch = async (path, init) => {
      calls.push([path, init.headers.Authorization ?? null, init.body ?? null]);
      const [status, body] = script[path].shift();
      return new Response(typeof body === "string" ? body : JSON.stringify(body), {status});
    };
    window.setTimeout = (fn, ms) => { delays.push(ms); return 0; };
    window.clearTimeout = () => {};
    sessionStorage.clear();
    return {calls, delays};
}"""


def test_api_refreshes_once_on_401_and_retries(harness: Page) -> None:
    result = harness.evaluate(
        """async (fake) => {
            const net = eval_fake(fake);
            const changes = [];
            const client = new api.Api({onSessionChange: (u) => changes.push(u)});
            client.setTokens({access_token: "A1", refresh_token: "R1", expires_in: 900});
            const result = await client.json("GET", "/things");
            return {result, calls: net.calls, delays: net.delays, changes,
                    stored: sessionStorage.getItem("sca.refresh_token"), token: client.accessToken};
        }""".replace("eval_fake(fake)", f"({FAKE_NETWORK})(fake)"),
        {
            "/things": [[401, {"detail": "expired", "code": "token_expired"}], [200, {"ok": True}]],
            "/auth/refresh-token": [
                [200, {"access_token": "A2", "refresh_token": "R2", "expires_in": 900}]
            ],
        },
    )
    assert result["result"] == {"ok": True}
    assert result["calls"] == [
        ["/things", "Bearer A1", None],
        ["/auth/refresh-token", None, '{"refresh_token":"R1"}'],
        ["/things", "Bearer A2", None],
    ]
    # refreshed 5 minutes before expiry, after the first login and after the refresh
    assert result["delays"] == [600_000, 600_000]
    assert result["stored"] == "R2"
    assert result["token"] == "A2"
    assert result["changes"] == []


def test_api_rejected_refresh_ends_the_session(harness: Page) -> None:
    result = harness.evaluate(
        """async (fake) => {
            const net = eval_fake(fake);
            const changes = [];
            const client = new api.Api({onSessionChange: (u) => changes.push(u)});
            client.setTokens({access_token: "A1", refresh_token: "R1", expires_in: 900});
            let error = null;
            try { await client.json("GET", "/things"); } catch (e) { error = e; }
            return {name: error.name, status: error.status, detail: error.detail, code: error.code,
                    changes, stored: sessionStorage.getItem("sca.refresh_token"),
                    signedIn: client.signedIn, calls: net.calls.length};
        }""".replace("eval_fake(fake)", f"({FAKE_NETWORK})(fake)"),
        {
            "/things": [[401, {"detail": "Token expired", "code": "token_expired"}]],
            "/auth/refresh-token": [[401, {"detail": "reused", "code": "refresh_reused"}]],
        },
    )
    assert result == {
        "name": "ApiError",
        "status": 401,
        "detail": "Token expired",
        "code": "token_expired",
        "changes": [None],
        "stored": None,
        "signedIn": False,
        "calls": 2,
    }


def test_api_errors_carry_detail_and_code(harness: Page) -> None:
    result = harness.evaluate(
        """async (fake) => {
            eval_fake(fake);
            const client = new api.Api();
            const out = [];
            for (const path of ["/a", "/b"]) {
              try { await client.json("POST", path, {body: {x: 1}, auth: false}); }
              catch (e) { out.push([e.status, e.detail, e.code]); }
            }
            return out;
        }""".replace("eval_fake(fake)", f"({FAKE_NETWORK})(fake)"),
        {
            "/a": [[422, {"detail": "question: must not be empty", "code": "validation_error"}]],
            "/b": [[502, "<html>bad gateway</html>"]],
        },
    )
    assert result == [
        [422, "question: must not be empty", "validation_error"],
        [502, "The service answered 502", "http_502"],
    ]
