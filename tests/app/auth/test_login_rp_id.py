"""Sign-in with an assertion signed for another RP ID: refused, and the passkey is untouched.

``test_ceremony_rejections.py`` covers a wrong RP ID at registration; here the passkey is
genuine and registered, but the authenticator signs the login for ``evil.example`` (the
``rpIdHash`` in its authenticator data), as a phishing page's relay would.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.webauthn import SoftAuthenticator, signed_in_user

Client = AsyncTestClient[Litestar]
EVIL_RP_ID = "evil.example"


async def _login_options(client: Client, email: str | None) -> dict[str, Any]:
    response = await client.post(
        "/auth/login/begin", json={} if email is None else {"email": email}
    )
    assert response.status_code == 200, response.text
    options: dict[str, Any] = response.json()
    return options


@pytest.mark.parametrize("email", ["ann@example.org", None], ids=["by_email", "usernameless"])
async def test_an_assertion_for_another_rp_id_is_refused_and_updates_nothing(
    auth_client: Client, authenticator: SoftAuthenticator, email: str | None
) -> None:
    ann = await signed_in_user(auth_client, "ann@example.org", authenticator=authenticator)
    before = (await auth_client.get("/auth/credentials", headers=ann.headers)).json()
    (passkey,) = before["credentials"]
    assert passkey["last_used_at"] is not None  # set by the sign-in above
    (credential,) = authenticator.credentials.values()
    stored_count = credential.sign_count

    options = await _login_options(auth_client, email)
    real_rp_id = options["rpId"]
    assert credential.rp_id == real_rp_id
    credential.rp_id = EVIL_RP_ID
    try:
        assertion = authenticator.get(options | {"rpId": EVIL_RP_ID})
    finally:
        credential.rp_id = real_rp_id
    refused_count = credential.sign_count
    assert refused_count == stored_count + 1

    refused = await auth_client.post("/auth/login/complete", json=assertion)
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"].startswith("application/json")
    body = refused.json()
    assert body["code"] == "authentication_failed"
    assert "RP ID" in body["detail"], body
    assert "access_token" not in body

    # Neither the last-used time nor anything else of the passkey changed…
    after = (await auth_client.get("/auth/credentials", headers=ann.headers)).json()
    assert after == before
    # …and the refused counter was not stored: the genuine authenticator's next assertion,
    # with that same counter value, is not a regression.
    options = await _login_options(auth_client, email)
    accepted = await auth_client.post(
        "/auth/login/complete", json=authenticator.get(options, sign_count=refused_count)
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["user"]["id"] == ann.user_id
    (used,) = (await auth_client.get("/auth/credentials", headers=ann.headers)).json()[
        "credentials"
    ]
    last_used = datetime.fromisoformat(used["last_used_at"])
    assert last_used > datetime.fromisoformat(passkey["last_used_at"])
