"""Login sessions: listed, ended one or all-but-this, refresh tokens rotated, and a reused
refresh token revoking its session, against the real Redis."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from app.models import User
from tests.conftest import TwoTenants, bearer
from tests.factories import PASSWORD

ME = "/api/v1/me"
SESSIONS = "/api/v1/auth/sessions"
REFRESH = "/api/v1/auth/refresh"


def _login(client: FlaskClient, user: User, agent: str = "test-agent/1.0") -> dict[str, Any]:
    response = client.post(
        "/api/v1/auth/login",
        json={"email": user.email, "password": PASSWORD},
        headers={"User-Agent": agent},
    )
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def _sessions(client: FlaskClient, access: str) -> list[dict[str, Any]]:
    response = client.get(SESSIONS, headers=bearer(access))
    assert response.status_code == 200, response.get_json()
    listed: list[dict[str, Any]] = response.get_json()
    return listed


def _refresh(client: FlaskClient, refresh: str) -> Any:
    return client.post(REFRESH, headers=bearer(refresh))


def test_sessions_are_listed_with_the_current_one_marked(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    laptop = _login(client, seeded.a.admin, "laptop-browser")
    phone = _login(client, seeded.a.admin, "phone-app")
    _login(client, seeded.b.admin, "someone-else")

    listed = _sessions(client, phone["access_token"])
    assert [s["user_agent"] for s in listed] == ["phone-app", "laptop-browser"]
    assert [s["current"] for s in listed] == [True, False]
    assert all(s["ip"] == client.environ_base["REMOTE_ADDR"] for s in listed)
    assert all(s["created_at"] == s["last_used_at"] for s in listed)
    from_laptop = _sessions(client, laptop["access_token"])
    assert [s["current"] for s in from_laptop] == [False, True]


def test_refresh_rotates_the_refresh_token_and_updates_last_used(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    body = _login(client, seeded.a.admin)
    before = _sessions(client, body["access_token"])[0]
    refreshed = _refresh(client, body["refresh_token"])
    assert refreshed.status_code == 200
    new = refreshed.get_json()
    assert new["refresh_token"] != body["refresh_token"]
    assert client.get(ME, headers=bearer(new["access_token"])).status_code == 200
    after = _sessions(client, new["access_token"])
    assert len(after) == 1 and after[0]["id"] == before["id"]
    assert after[0]["last_used_at"] > before["last_used_at"]
    assert after[0]["created_at"] == before["created_at"]
    # the new refresh token rotates again
    assert _refresh(client, new["refresh_token"]).status_code == 200


def test_a_reused_refresh_token_revokes_the_whole_session(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    other = _login(client, seeded.a.admin, "other-device")
    body = _login(client, seeded.a.admin)
    new = _refresh(client, body["refresh_token"]).get_json()

    reused = _refresh(client, body["refresh_token"])
    assert reused.status_code == 401
    assert "already used" in reused.get_json()["detail"]
    # every token of the session stops: the original access token, the rotated pair
    for token in (body["access_token"], new["access_token"]):
        assert client.get(ME, headers=bearer(token)).status_code == 401
    assert _refresh(client, new["refresh_token"]).status_code == 401
    # the other login is untouched, and no longer lists the revoked one
    listed = _sessions(client, other["access_token"])
    assert [s["user_agent"] for s in listed] == ["other-device"]


def _race(app: Flask, refresh: str) -> list[int]:
    """Two clients presenting the same refresh token at the same moment."""
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def attempt() -> None:
        own = app.test_client()
        barrier.wait()
        statuses.append(_refresh(own, refresh).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_concurrent_refreshes_with_one_token_cannot_both_succeed(
    app: Flask, client: FlaskClient, seeded: TwoTenants
) -> None:
    for _ in range(5):
        body = _login(client, seeded.a.admin)
        # one rotates; the other presents a token already rotated away, which revokes
        # the session, so nothing issued in it works afterwards
        assert sorted(_race(app, body["refresh_token"])) == [200, 401]
        assert client.get(ME, headers=bearer(body["access_token"])).status_code == 401


def test_ending_a_session_stops_its_tokens_at_once(client: FlaskClient, seeded: TwoTenants) -> None:
    keep = _login(client, seeded.a.admin, "keep")
    lost = _login(client, seeded.a.admin, "lost")
    lost_id = next(s["id"] for s in _sessions(client, keep["access_token"]) if not s["current"])

    ended = client.delete(f"{SESSIONS}/{lost_id}", headers=bearer(keep["access_token"]))
    assert ended.status_code == 204
    assert client.get(ME, headers=bearer(lost["access_token"])).status_code == 401
    assert _refresh(client, lost["refresh_token"]).status_code == 401
    assert [s["user_agent"] for s in _sessions(client, keep["access_token"])] == ["keep"]
    again = client.delete(f"{SESSIONS}/{lost_id}", headers=bearer(keep["access_token"]))
    assert again.status_code == 404


def test_another_users_session_or_a_bad_id_is_404(client: FlaskClient, seeded: TwoTenants) -> None:
    mine = _login(client, seeded.a.admin)
    theirs = _login(client, seeded.b.admin)
    their_id = _sessions(client, theirs["access_token"])[0]["id"]

    for session_id in (their_id, "0" * 32, "A" * 32, "not-a-session", "x" * 500):
        response = client.delete(f"{SESSIONS}/{session_id}", headers=bearer(mine["access_token"]))
        assert response.status_code == 404, session_id
    # Only an id of a session's length reaches the view, which names what it did not find.
    refused = client.delete(f"{SESSIONS}/{'0' * 32}", headers=bearer(mine["access_token"]))
    assert "session_id" in refused.get_json()["detail"]
    assert client.get(ME, headers=bearer(theirs["access_token"])).status_code == 200


def test_end_others_keeps_only_the_current_session(client: FlaskClient, seeded: TwoTenants) -> None:
    others = [_login(client, seeded.a.admin, f"device-{n}") for n in range(2)]
    current = _login(client, seeded.a.admin, "current")
    bystander = _login(client, seeded.b.admin)

    response = client.post(f"{SESSIONS}/end-others", headers=bearer(current["access_token"]))
    assert response.status_code == 200
    assert response.get_json() == {"ended": 2}
    for body in others:
        assert client.get(ME, headers=bearer(body["access_token"])).status_code == 401
        assert _refresh(client, body["refresh_token"]).status_code == 401
    assert client.get(ME, headers=bearer(current["access_token"])).status_code == 200
    assert client.get(ME, headers=bearer(bystander["access_token"])).status_code == 200
    assert [s["user_agent"] for s in _sessions(client, current["access_token"])] == ["current"]


def test_switching_organization_rotates_the_refresh_token(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    body = client.post(
        "/api/v1/auth/login",
        json={
            "email": seeded.shared_provider.email,
            "password": PASSWORD,
            "organization_id": str(seeded.a.organization.id),
        },
    ).get_json()
    switched = client.post(
        "/api/v1/auth/switch-organization",
        json={"organization_id": str(seeded.b.organization.id)},
        headers=bearer(body["access_token"]),
    ).get_json()
    # same login session, so it is still listed once
    assert len(_sessions(client, switched["access_token"])) == 1
    refreshed = _refresh(client, switched["refresh_token"])
    assert refreshed.status_code == 200
    assert refreshed.get_json()["organization_id"] == str(seeded.b.organization.id)
    # the refresh token from before the switch was superseded
    assert _refresh(client, body["refresh_token"]).status_code == 401
