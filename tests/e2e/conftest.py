"""Real-browser fixtures: Debian Chromium through Playwright, with a CDP virtual authenticator.

``browser`` is module-scoped: sync Playwright owns the main thread's event loop while it is
alive, so one long-lived (session) instance would collide with modules that start their own
and with async tests; a module-scoped one is started once per browser module and stopped
before the next module runs. A module may still define its own ``browser``.

``authenticator_page(base_url)`` opens a fresh context and page with its own virtual
authenticator (ctap2, internal, resident keys, user verification) — fresh per call because a
virtual authenticator holds at most 3 resident credentials.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
]


@dataclass
class AuthenticatorPage:
    """A page whose browser context has one CDP virtual authenticator."""

    page: Page
    context: BrowserContext
    cdp: CDPSession
    authenticator_id: str

    def set_user_verified(self, verified: bool) -> None:
        self.cdp.send(
            "WebAuthn.setUserVerified",
            {"authenticatorId": self.authenticator_id, "isUserVerified": verified},
        )

    def credentials(self) -> list[dict[str, object]]:
        """The authenticator's credentials (ids are standard base64, not base64url)."""
        result = self.cdp.send(
            "WebAuthn.getCredentials", {"authenticatorId": self.authenticator_id}
        )
        creds: list[dict[str, object]] = result["credentials"]
        return creds


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is missing (CI=true: browser tests must run)")
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROME_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def authenticator_page(browser: Browser) -> Iterator[Callable[[str], AuthenticatorPage]]:
    """Factory: ``authenticator_page("http://localhost:PORT")`` → a fresh page + authenticator.

    ``WebAuthn.enable`` is sent before anything else: without it ``navigator.credentials``
    calls hang in headless Chromium instead of failing.
    """
    contexts: list[BrowserContext] = []

    def factory(base_url: str) -> AuthenticatorPage:
        context = browser.new_context(base_url=base_url)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        cdp = context.new_cdp_session(page)
        cdp.send("WebAuthn.enable", {"enableUI": False})
        added = cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "ctap2Version": "ctap2_1",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )
        return AuthenticatorPage(page, context, cdp, str(added["authenticatorId"]))

    yield factory
    for context in contexts:
        context.close()
