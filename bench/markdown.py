"""The ``/client`` Markdown renderer in real Chromium: a normal report vs pathological inputs.

Each case is about ``--size`` characters (96 KB by default, the size of the report that froze
a tab for 15 s); the table gives the best of ``--repeat`` renders of each, and the ratio to the
normal report of the same size rendered in the same page (the baseline: ratios survive a
noisy machine, milliseconds do not). A linear-time renderer keeps every ratio near or below 1.

``--compare DIR`` also times markdown-it + DOMPurify on the same inputs (``DIR`` holds
``markdown-it.esm.min.mjs`` from markdown-it's ``dist/browser`` and ``purify.es.mjs`` from
DOMPurify's ``dist``, e.g. unpacked from ``npm pack markdown-it dompurify``): rendered with
``html: false, linkify: true`` and sanitized to a DOM fragment, the way the client would have
to use them. Usage::

    .venv/bin/python -m bench.markdown [--size 96000] [--repeat 5] [--compare DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from app.web.routes import CONTENT_SECURITY_POLICY, STATIC_DIR

CHROMIUM = "/usr/bin/chromium"

NORMAL_REPORT = """## Executive summary

The cleanest 3-hour window on the **Republic of Ireland** grid is 21:00-00:00 IST, averaging
204 gCO2/kWh (*medium* for the period). Starting now would average 208 gCO2/kWh, so waiting
saves 4 gCO2/kWh (1.9%). See https://grid.example/ie and [the method](https://example.org/m).

## Key figures

- **Best window**: 2026-06-01 21:00-00:00 IST (20:00-23:00 UTC)
- **Window mean**: 204 gCO2/kWh, `window_mean`
  - low up to 189 gCO2/kWh, high above 207 gCO2/kWh
- **Saving vs now**: 4 gCO2/kWh (1.9%) ~~none~~

| Hour | g/kWh | level |
|:---|---:|:---:|
| 02:00 | 120 | low |
| 18:00 | 310 | high |

> Figures are computed from SYNTHETIC data; treat them as an illustration.

```text
Best window ██████████████████████████· 204 gCO2/kWh
Now         ███████████████████████████ 208 gCO2/kWh
```

---

"""


def cases(size: int) -> dict[str, str]:
    """The normal report and the pathological inputs, each about ``size`` characters."""

    def fill(unit: str) -> str:
        return unit * max(1, size // len(unit))

    half = size // 4
    return {
        "normal report": fill(NORMAL_REPORT),
        "'_a ' repeated": fill("_a "),
        "'a * ' repeated": fill("a * "),
        "'**a ' repeated": fill("**a "),
        "unclosed backtick runs": "".join("`" * k + " x " for k in range(1, 2000))[:size],
        "'[' repeated": fill("["),
        "'[a](' + 'b[a]' repeated": "[a](" + fill("b[a]"),
        "'(http://a' repeated": fill("(http://a"),
        "nested emphasis": "*_" * half + "a" + "_*" * half,
        "'>' nested quotes": fill(">") + " a",
        "heading + spaces": "# a" + " " * size + "b",
        "fence info + letters": "```" + "a" * size + "`",
        "table separator + spaces": "a|b\n|" + " " * size + "x",
    }


HARNESS_HTML = b"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bench</title>
<script type="module" src="/bench.js"></script></head><body></body></html>"""

HARNESS_JS = b"""
import { renderMarkdown } from "/client/static/markdown.js";
window.ours = (src) => renderMarkdown(src);
try {
  const { default: markdownit } = await import("/compare/markdown-it.esm.min.mjs");
  const { default: DOMPurify } = await import("/compare/purify.es.mjs");
  const md = markdownit({ html: false, linkify: true });
  window.theirs = (src) => DOMPurify.sanitize(md.render(src), { RETURN_DOM_FRAGMENT: true });
} catch (error) {
  window.theirs = null;
}
window.timeRender = (name, src, repeat) => {
  const render = window[name];
  let best = Infinity;
  for (let k = 0; k < repeat; k += 1) {
    const holder = document.createElement("div");
    const start = performance.now();
    try {
      holder.append(render(src));
    } catch (error) {
      return String(error).slice(0, 40);
    }
    best = Math.min(best, performance.now() - start);
  }
  return best;
};
window.ready = true;
"""


def _handler(compare: Path | None) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(STATIC_DIR), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            return

        def end_headers(self) -> None:
            self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            super().end_headers()

        def _send(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/bench.html":
                self._send(HARNESS_HTML, "text/html")
            elif self.path == "/bench.js":
                self._send(HARNESS_JS, "text/javascript")
            elif self.path.startswith("/client/static/"):
                self.path = self.path.removeprefix("/client/static")
                super().do_GET()
            elif compare is not None and self.path.startswith("/compare/"):
                file = compare / self.path.removeprefix("/compare/")
                if file.is_file():
                    self._send(file.read_bytes(), "text/javascript")
                else:
                    self.send_error(404)
            else:
                self.send_error(404)

    return Handler


@contextlib.contextmanager
def _serve(compare: Path | None) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(compare))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _cells(ms: float | str, baseline_ms: float | str) -> str:
    if isinstance(ms, str) or isinstance(baseline_ms, str):
        return f" {ms} | - |"  # the renderer threw (e.g. a stack overflow)
    return f" {ms:.1f} | {ms / max(baseline_ms, 0.1):.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=96_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--compare", type=Path, default=None)
    args = parser.parse_args()
    with _serve(args.compare) as origin, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        page.set_default_timeout(600_000)
        page.goto(f"{origin}/bench.html")
        page.wait_for_function("window.ready === true")
        renderers = ["ours"] + (["theirs"] if page.evaluate("window.theirs !== null") else [])
        rows: list[tuple[str, int, list[float | str]]] = []
        for name, source in cases(args.size).items():
            timings: list[float | str] = [
                page.evaluate("a => timeRender(...a)", [r, source, args.repeat]) for r in renderers
            ]
            rows.append((name, len(source), timings))
        browser.close()
    baseline = rows[0][2]
    header = "| Input | chars | markdown.js ms | ratio |"
    rule = "|---|---:|---:|---:|"
    if len(renderers) == 2:
        header += " markdown-it + DOMPurify ms | ratio |"
        rule += "---:|---:|"
    print(header)
    print(rule)
    for name, length, timings in rows:
        cells = "".join(_cells(t, b) for t, b in zip(timings, baseline, strict=True))
        print(f"| {name} | {length:,} |{cells}")


if __name__ == "__main__":
    main()
