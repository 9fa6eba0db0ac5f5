"""Sessions and tokens over HTTP: tokens made from a browser session and shown once, listed without secrets,
revoked by their owner only, refused once expired; a password change that ends the other sessions; signing out
everywhere; the /account page; and Secure cookies whenever the request came over HTTPS."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.helpers import PASSWORD
from tests.web.helpers import app_with, assert_problem, csrf_from, sign_in
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.web.deps import CSRF_COOKIE, SESSION_COOKIE


def signed_in_client(app, email: str, **options) -> TestClient:
    """A browser of its own (its own cookie jar), signed in through the login form."""
    browser = TestClient(app, **options)
    assert sign_in(browser, email).status_code == 303
    assert browser.cookies.get(SESSION_COOKIE)
    return browser


def csrf(browser: TestClient) -> dict[str, str]:
    return {"X-CSRF-Token": browser.cookies.get(CSRF_COOKIE)}


def make_token(browser: TestClient, **body) -> dict:
    made = browser.post("/api/v1/tokens", json={"name": "script", **body}, headers=csrf(browser))
    assert made.status_code == 201, made.text
    return made.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def session_cookie_header(response) -> str:
    (cookie,) = [c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "=")]
    return cookie.lower()


def test_a_token_is_made_from_a_browser_session_shown_once_and_listed_without_its_secret(client, make_account):
    account = make_account(Role.viewer)
    browser = signed_in_client(client.app, account.user.email)
    made = make_token(browser, name="laptop")
    assert made["token"].startswith("vtr_") and made["name"] == "laptop" and not made["expired"]
    lifetime = datetime.fromisoformat(made["expires_at"]) - datetime.fromisoformat(made["created_at"])
    assert lifetime == timedelta(days=90)
    short = make_token(browser, name="short", expires_in_days=7)
    assert datetime.fromisoformat(short["expires_at"]) - datetime.fromisoformat(short["created_at"]) == timedelta(7)

    mine = client.get("/api/v1/tokens", headers=bearer(made["token"]))
    assert mine.status_code == 200
    listed = {t["name"]: t for t in mine.json()["items"]}
    assert set(listed) == {"laptop", "short", "cli"}  # cli: the fixture's token
    assert "token" not in listed["laptop"] and made["token"] not in mine.text
    assert listed["laptop"]["last_used_at"] is not None and listed["short"]["last_used_at"] is None


def test_a_token_cannot_mint_another_nor_can_a_script_without_the_csrf_header(client, make_account):
    account = make_account(Role.merchant)
    assert_problem(client.post("/api/v1/tokens", json={"name": "x"}, headers=account.auth), 403, "forbidden")
    assert_problem(client.post("/api/v1/tokens", json={"name": "x"}), 401, "not-authenticated")
    browser = signed_in_client(client.app, account.user.email)
    assert_problem(browser.post("/api/v1/tokens", json={"name": "x"}), 403, "forbidden")
    for body in ({"name": ""}, {"name": "x" * 101}, {"name": "x", "expires_in_days": 0}, {"name": "x", "extra": 1}):
        assert browser.post("/api/v1/tokens", json=body, headers=csrf(browser)).status_code == 422
    assert [t["name"] for t in browser.get("/api/v1/tokens").json()["items"]] == ["cli"]


def test_tokens_are_revoked_by_their_owner_only_and_others_ids_are_unknown(client, make_account):
    owner, other = make_account(Role.viewer), make_account(Role.viewer)
    theirs = client.get("/api/v1/tokens", headers=other.auth).json()["items"][0]["id"]
    unknown = client.delete("/api/v1/tokens/999999", headers=owner.auth)
    someone_elses = client.delete(f"/api/v1/tokens/{theirs}", headers=owner.auth)
    assert_problem(unknown, 404, "not-found")
    assert_problem(someone_elses, 404, "not-found")
    assert unknown.json()["detail"] == someone_elses.json()["detail"]
    assert client.get("/api/v1/tokens", headers=other.auth).status_code == 200  # still works
    assert client.delete("/api/v1/tokens/0", headers=owner.auth).status_code == 422

    mine = client.get("/api/v1/tokens", headers=owner.auth).json()["items"][0]["id"]
    assert client.delete(f"/api/v1/tokens/{mine}", headers=owner.auth).status_code == 204
    assert_problem(client.get("/api/v1/tokens", headers=owner.auth), 401, "not-authenticated")


def test_an_expired_token_is_refused_everywhere(client, make_account):
    account = make_account(Role.merchant)
    browser = signed_in_client(client.app, account.user.email)
    week = make_token(browser, expires_in_days=7)["token"]
    assert client.get("/api/v1/wallet", headers=bearer(week)).status_code == 200
    later = clock.now() + timedelta(days=7, seconds=1)
    clock.set_clock(lambda: later)
    assert_problem(client.get("/api/v1/wallet", headers=bearer(week)), 401, "not-authenticated")
    assert_problem(client.get("/api/v1/tokens", headers=bearer(week)), 401, "not-authenticated")
    assert client.get("/account", headers=bearer(week)).status_code == 401
    assert client.get("/api/v1/wallet", headers=account.auth).status_code == 200  # 90 days: still valid
    listed = {t["name"]: t for t in client.get("/api/v1/tokens", headers=account.auth).json()["items"]}
    assert listed["script"]["expired"] and not listed["cli"]["expired"]


def test_a_password_change_ends_every_other_session_and_keeps_this_one(client, make_account):
    account = make_account(Role.viewer)
    this_one = signed_in_client(client.app, account.user.email)
    other = signed_in_client(client.app, account.user.email)
    assert other.get("/api/v1/tokens").status_code == 200

    wrong = this_one.post(
        "/api/v1/me/password", json={"current": "not it at all", "new": "a new password"}, headers=csrf(this_one)
    )
    assert_problem(wrong, 403, "forbidden")
    short = this_one.post("/api/v1/me/password", json={"current": PASSWORD, "new": "short"}, headers=csrf(this_one))
    assert_problem(short, 422, "invalid-input")
    assert this_one.post("/api/v1/me/password", json={"current": PASSWORD, "new": "x" * 9}).status_code == 403
    assert other.get("/api/v1/tokens").status_code == 200  # nothing ended by the refusals

    changed = this_one.post(
        "/api/v1/me/password", json={"current": PASSWORD, "new": "a new password"}, headers=csrf(this_one)
    )
    assert changed.status_code == 200 and changed.json() == {"sessions_ended": 1}
    assert this_one.get("/api/v1/tokens").status_code == 200
    assert_problem(other.get("/api/v1/tokens"), 401, "not-authenticated")
    assert client.get("/api/v1/tokens", headers=account.auth).status_code == 200  # tokens stay
    assert sign_in(TestClient(client.app), account.user.email).status_code == 401
    assert sign_in(TestClient(client.app), account.user.email, "a new password").status_code == 303


def test_signing_out_everywhere_ends_every_session_this_one_too_and_tokens_stay(client, make_account):
    account = make_account(Role.viewer)
    this_one = signed_in_client(client.app, account.user.email)
    other = signed_in_client(client.app, account.user.email)
    someone_else = signed_in_client(client.app, make_account(Role.viewer).user.email)
    old_cookie = this_one.cookies.get(SESSION_COOKIE)
    revoked = this_one.post("/api/v1/me/sessions/revoke", headers=csrf(this_one))
    assert revoked.status_code == 200 and revoked.json() == {"sessions_ended": 2}
    assert "max-age=0" in session_cookie_header(revoked)
    # The old cookie, as a browser that ignored the clearing would send it.
    stale = TestClient(client.app, cookies={SESSION_COOKIE: old_cookie})
    assert_problem(stale.get("/api/v1/tokens"), 401, "not-authenticated")
    assert other.cookies.get(SESSION_COOKIE)
    assert_problem(other.get("/api/v1/tokens"), 401, "not-authenticated")
    assert someone_else.get("/api/v1/tokens").status_code == 200
    assert client.get("/api/v1/tokens", headers=account.auth).status_code == 200


def test_the_account_page_makes_lists_and_revokes_tokens_changes_the_password_and_signs_out(client, make_account):
    account = make_account(Role.viewer)
    assert client.get("/account", follow_redirects=False).headers["location"] == "/login?next=/account"
    browser = signed_in_client(client.app, account.user.email)
    page = browser.get("/account")
    assert page.status_code == 200 and 'href="/account"' in page.text and "cli" in page.text
    token = csrf_from(page.text)

    assert browser.post("/account/tokens", data={"name": "page"}).status_code == 403  # no CSRF token
    made = browser.post("/account/tokens", data={"name": "page", "expires_in_days": "30", "csrf_token": token})
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    secret = made.text.split('data-testid="new-token">Your new token: <code>')[1].split("</code>")[0]
    assert client.get("/api/v1/tokens", headers=bearer(secret)).status_code == 200
    assert secret not in browser.get("/account").text  # shown once
    bad = browser.post(
        "/account/tokens", data={"name": "page", "expires_in_days": "soon", "csrf_token": token}, follow_redirects=False
    )
    assert bad.status_code == 303 and "number" in bad.headers["location"]

    listed = {t["name"]: t["id"] for t in browser.get("/api/v1/tokens").json()["items"]}
    other = make_account(Role.viewer)
    theirs = client.get("/api/v1/tokens", headers=other.auth).json()["items"][0]["id"]
    assert browser.post(f"/account/tokens/{listed['page']}/revoke", data={}).status_code == 403
    refused = browser.post(f"/account/tokens/{theirs}/revoke", data={"csrf_token": token}, follow_redirects=False)
    assert "No%20such%20token" in refused.headers["location"]
    assert client.get("/api/v1/tokens", headers=other.auth).status_code == 200
    revoked = browser.post(f"/account/tokens/{listed['page']}/revoke", data={"csrf_token": token})
    assert "Token revoked." in revoked.text
    assert client.get("/api/v1/tokens", headers=bearer(secret)).status_code == 401

    second = signed_in_client(client.app, account.user.email)
    form = {"current": PASSWORD, "new": "a new password", "repeat": "a new password"}
    assert browser.post("/account/password", data=form).status_code == 403
    mismatch = browser.post("/account/password", data={**form, "repeat": "something else", "csrf_token": token})
    assert "differ" in mismatch.text
    changed = browser.post("/account/password", data={**form, "csrf_token": token})
    assert "signed out of 1 other session" in changed.text
    assert second.get("/account", follow_redirects=False).status_code == 303  # signed out: sent to sign in
    assert browser.get("/account").status_code == 200

    assert browser.post("/account/sessions/revoke", data={}).status_code == 403
    out = browser.post("/account/sessions/revoke", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"].startswith("/login")
    assert "max-age=0" in session_cookie_header(out)
    assert browser.get("/account", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    "base_url, peer, forwarded, secure",
    [
        ("https://testserver", "203.0.113.7", None, True),
        ("http://testserver", "203.0.113.7", None, False),
        ("http://testserver", "127.0.0.1", "https", True),
        ("http://testserver", "127.0.0.1", "https, http", True),
        ("http://testserver", "127.0.0.1", "http", False),
        ("http://testserver", "203.0.113.7", "https", False),
    ],
    ids=["https", "http", "trusted-proxy-https", "trusted-proxies-https-first", "trusted-proxy-http", "untrusted"],
)
def test_cookies_are_secure_whenever_the_request_came_over_https(
    client, make_account, base_url, peer, forwarded, secure
):
    account = make_account(Role.viewer)
    headers = {"X-Forwarded-Proto": forwarded} if forwarded else {}
    browser = TestClient(client.app, base_url=base_url, client=(peer, 40000), headers=headers)
    page = browser.get("/login")
    (csrf_cookie,) = page.headers.get_list("set-cookie")
    assert ("; secure" in csrf_cookie.lower()) is secure
    token = csrf_from(page.text)
    # Cookies sent by hand: a jar on the proxy's plain-HTTP side would hold back the Secure ones, as no browser would.
    browser.cookies.clear()
    signed_in = browser.post(
        "/login",
        data={"email": account.user.email, "password": PASSWORD, "csrf_token": token, "next": "/"},
        headers={"Cookie": f"{CSRF_COOKIE}={token}"},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    cookie = session_cookie_header(signed_in)
    assert ("; secure" in cookie) is secure
    assert "samesite=lax" in cookie and "httponly" in cookie
    session = cookie.split(";")[0].split("=", 1)[1]
    browser.cookies.clear()
    out = browser.post(
        "/logout",
        data={"csrf_token": token},
        headers={"Cookie": f"{CSRF_COOKIE}={token}; {SESSION_COOKIE}={session}"},
        follow_redirects=False,
    )
    assert out.status_code == 303
    assert ("; secure" in session_cookie_header(out)) is secure


def test_the_secure_cookies_setting_forces_secure_over_plain_http_and_cookies_stay_lax(settings, make_account):
    """SameSite stays Lax with Secure cookies too: a session must never travel into another site's frame."""
    account = make_account(Role.viewer)
    with app_with(settings, secure_cookies=True) as (client, ctx):
        csrf_cookie = client.get("/login").headers["set-cookie"].lower()
        assert "; secure" in csrf_cookie and "samesite=lax" in csrf_cookie
        browser = TestClient(client.app, base_url="https://testserver")  # Secure cookies go back over HTTPS only
        session_cookie = sign_in(browser, account.user.email).headers["set-cookie"].lower()
        assert (
            "vetrina_session=" in session_cookie and "samesite=lax" in session_cookie and "; secure" in session_cookie
        )


def test_making_tokens_and_guessing_the_current_password_are_rate_limited(settings, make_account):
    account = make_account(Role.viewer)
    limits = {"token": "2/minute", "login": "2/minute"}
    with app_with(settings, rate_limits={**settings.rate_limits, **limits}) as (client, _ctx):
        assert sign_in(client, account.user.email).status_code == 303
        for _ in range(2):
            make_token(client)
        refused = client.post("/api/v1/tokens", json={"name": "third"}, headers=csrf(client))
        assert_problem(refused, 429, "too-many-requests") and refused.headers["Retry-After"]
        # Two guesses at the account (its count started again when it signed in), then even the right password waits.
        for _ in range(2):
            wrong = client.post(
                "/api/v1/me/password", json={"current": "not it", "new": "a new password 1"}, headers=csrf(client)
            )
            assert wrong.status_code == 403, wrong.text
        right = client.post(
            "/api/v1/me/password", json={"current": PASSWORD, "new": "a new password 1"}, headers=csrf(client)
        )
        assert_problem(right, 429, "too-many-requests")
