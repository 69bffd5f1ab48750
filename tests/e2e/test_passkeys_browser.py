"""Passkeys in real headless Chromium against the real server (granian on a free port).

The page is the server's own ``/health`` (same origin, ``http://localhost:PORT``); the
ceremonies run as page JavaScript with the browser's native WebAuthn JSON helpers
(``PublicKeyCredential.parse*OptionsFromJSON`` and ``credential.toJSON()``), so the server
sees exactly what a browser sends and this test does not depend on the /client page.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.conftest import AuthenticatorPage
from tests.live_server import LiveServer, start_server

pytestmark = [pytest.mark.browser, pytest.mark.server]

CEREMONIES_JS = """
(() => {
  async function call(method, path, body, token) {
    const headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`HTTP ${response.status} ${text}`);
    return JSON.parse(text);
  }
  window.pk = {
    call,
    async register(email) {
      const options = await call("POST", "/auth/register/begin", { email });
      const credential = await navigator.credentials.create({
        publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options),
      });
      return call("POST", "/auth/register/complete", credential.toJSON());
    },
    async login(email, mediation) {
      const options = await call("POST", "/auth/login/begin", email ? { email } : {});
      const request = { publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) };
      if (mediation) request.mediation = mediation;
      const credential = await navigator.credentials.get(request);
      return call("POST", "/auth/login/complete", credential.toJSON());
    },
  };
})();
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    log_dir: Path = tmp_path_factory.mktemp("passkeys-server")
    live = start_server({"APP__RATE_LIMIT__CEREMONY_PER_MINUTE": "1000"}, [], log_dir=log_dir)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def open_page(
    server: LiveServer, authenticator_page: Callable[[str], AuthenticatorPage]
) -> Callable[[], AuthenticatorPage]:
    """A fresh page on ``http://localhost:PORT/health`` (the WebAuthn origin) with helpers."""

    def factory() -> AuthenticatorPage:
        opened = authenticator_page(f"http://localhost:{server.port}")
        opened.context.add_init_script(script=CEREMONIES_JS)
        opened.page.goto("/health")
        return opened

    return factory


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.org"


def b64url(standard_b64: object) -> str:
    raw = base64.b64decode(str(standard_b64))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def evaluate(page: AuthenticatorPage, script: str, arg: Any = None) -> Any:
    return page.page.evaluate(script, arg)


def test_register_login_me_logout(open_page: Callable[[], AuthenticatorPage]) -> None:
    page = open_page()
    email = new_email()
    registered = evaluate(page, "email => pk.register(email)", email)
    assert registered["message"] == "Registration successful"

    [stored] = page.credentials()
    assert stored["rpId"] == "localhost"
    assert stored["isResidentCredential"] is True
    assert base64.b64decode(str(stored["userHandle"])) != email.encode()
    counter_after_registration = int(str(stored["signCount"]))

    result = evaluate(page, "email => pk.login(email)", email)
    assert result["message"] == "Authentication successful"
    assert result["user"] == {"id": registered["user_id"], "email": email}
    assert result["expires_in"] > 300
    [after_login] = page.credentials()
    assert int(str(after_login["signCount"])) > counter_after_registration

    token = result["access_token"]
    me = evaluate(page, "t => pk.call('GET', '/auth/me', undefined, t)", token)
    assert me["email"] == email
    listed = evaluate(page, "t => pk.call('GET', '/auth/credentials', undefined, t)", token)
    [credential] = listed["credentials"]
    assert credential["credential_id"] == b64url(stored["credentialId"])
    assert credential["transports"] == ["internal"]

    out = evaluate(page, "t => pk.call('POST', '/auth/logout', undefined, t)", token)
    assert out == {"message": "Logged out successfully"}
    with pytest.raises(PlaywrightError, match=r"HTTP 401 .*token_revoked"):
        evaluate(page, "t => pk.call('GET', '/auth/me', undefined, t)", token)


def test_usernameless_login_after_reload(open_page: Callable[[], AuthenticatorPage]) -> None:
    page = open_page()
    email = new_email()
    registered = evaluate(page, "email => pk.register(email)", email)
    page.page.reload()
    result = evaluate(page, "() => pk.login(null)")
    assert result["user"]["id"] == registered["user_id"]
    assert result["user"]["email"] == email


def test_conditional_mediation_autofill(open_page: Callable[[], AuthenticatorPage]) -> None:
    page = open_page()
    email = new_email()
    evaluate(page, "email => pk.register(email)", email)
    available = evaluate(page, "() => PublicKeyCredential.isConditionalMediationAvailable()")
    assert available is True
    evaluate(
        page,
        """() => {
          const input = document.createElement("input");
          input.autocomplete = "username webauthn";
          document.body.append(input);
          input.focus();
        }""",
    )
    result = evaluate(page, "() => pk.login(null, 'conditional')")
    assert result["user"]["email"] == email


def test_user_verification_failure_is_refused(
    open_page: Callable[[], AuthenticatorPage],
) -> None:
    page = open_page()
    email = new_email()
    evaluate(page, "email => pk.register(email)", email)
    page.set_user_verified(False)
    with pytest.raises(PlaywrightError, match="NotAllowedError"):
        evaluate(page, "email => pk.login(email)", email)
    page.set_user_verified(True)
    assert evaluate(page, "email => pk.login(email)", email)["user"]["email"] == email


def test_registering_twice_on_one_authenticator_is_excluded(
    open_page: Callable[[], AuthenticatorPage],
) -> None:
    """A signed-in user adding a passkey: excludeCredentials stops a duplicate on the device."""
    page = open_page()
    email = new_email()
    evaluate(page, "email => pk.register(email)", email)
    token = evaluate(page, "email => pk.login(email)", email)["access_token"]
    script = """async token => {
      const options = await pk.call("POST", "/auth/credentials/begin", {}, token);
      return navigator.credentials.create({
        publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options),
      });
    }"""
    with pytest.raises(PlaywrightError, match=re.compile("InvalidStateError")):
        evaluate(page, script, token)
