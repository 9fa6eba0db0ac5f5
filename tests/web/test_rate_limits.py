"""Rate limits (VETRINA_RATE_LIMITS): password guesses per account and per client address, sign-ups, top-ups and
player events; 429 problems with Retry-After, counted before the password is checked, shared through Redis."""

from __future__ import annotations

import secrets

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from tests.helpers import PASSWORD, redis_skip_reason, wait_for
from tests.helpers import REDIS_URL as TEST_REDIS_URL
from tests.web.helpers import app_with, assert_problem, csrf_from, form_token, sign_in
from vetrina.accounts.models import Role
from vetrina.errors import TooManyRequests
from vetrina.payments.models import IdempotencyKey
from vetrina.ratelimit import RateLimits
from vetrina.settings import DEFAULT_RATE_LIMITS, Settings
from vetrina.web.deps import CSRF_COOKIE

LOGIN_LIMIT = int(DEFAULT_RATE_LIMITS["login"].split("/")[0])


def sign_in_json(client, email: str, password: str, address: str | None = None):
    """POST /api/v1/session, as the buy drawer's script does, from `address` (X-Forwarded-For) if given."""
    if not client.cookies.get(CSRF_COOKIE):
        csrf_from(client.get("/login").text)
    headers = {"X-CSRF-Token": client.cookies.get(CSRF_COOKIE)}
    if address:
        headers["X-Forwarded-For"] = address
    return client.post("/api/v1/session", json={"email": email, "password": password}, headers=headers)


def assert_retry_after(response) -> int:
    assert response.status_code == 429, response.text
    seconds = int(response.headers["Retry-After"])
    assert 1 <= seconds <= 60
    return seconds


def test_guesses_at_one_account_from_many_addresses_are_refused_before_the_password_is_checked(settings, make_account):
    account = make_account(Role.viewer)
    # Behind a trusted proxy (loopback), each guess claims another client address.
    with app_with(settings, peer="127.0.0.1") as (client, _ctx):
        for n in range(LOGIN_LIMIT):
            assert sign_in_json(client, account.user.email, "wrong guess", f"198.51.100.{n}").status_code == 401
        # The right password now: refused all the same, so a guess is never checked (nor its hash computed).
        refused = sign_in_json(client, account.user.email, PASSWORD, "198.51.100.200")
        assert_retry_after(refused)
        body = assert_problem(refused, 429, "too-many-requests")
        assert body["action"] == "login" and body["retry_after_s"] == int(refused.headers["Retry-After"])
        assert client.cookies.get("vetrina_session") is None
        # The page form counts against the same account.
        token = form_token(client, "/login")
        page = client.post(
            "/login",
            data={"email": account.user.email.upper(), "password": PASSWORD, "csrf_token": token},
            headers={"X-Forwarded-For": "198.51.100.201", "Accept": "text/html"},
            follow_redirects=False,
        )
        assert_retry_after(page)
        assert "text/html" in page.headers["content-type"] and "Too many attempts" in page.text
        # Another account from those addresses is not affected.
        other = make_account(Role.viewer)
        assert sign_in_json(client, other.user.email, PASSWORD, "198.51.100.1").status_code == 200


def test_guesses_from_one_address_across_accounts_are_refused(settings, make_account):
    with app_with(settings, peer="127.0.0.1", rate_limits={"login_address": "3/minute"}) as (client, _ctx):
        for n in range(3):
            guessed = sign_in_json(client, f"someone-{n}@example.com", "wrong guess", "203.0.113.7")
            assert guessed.status_code == 401
        account = make_account(Role.viewer)
        assert_retry_after(sign_in_json(client, account.user.email, PASSWORD, "203.0.113.7"))
        # The same account from another address signs in.
        assert sign_in_json(client, account.user.email, PASSWORD, "203.0.113.8").status_code == 200


def test_an_untrusted_peer_cannot_spread_its_guesses_over_forged_forwarded_addresses(settings):
    with app_with(settings, peer="192.0.2.50", rate_limits={"login_address": "3/minute"}) as (client, _ctx):
        for n in range(3):
            guessed = sign_in_json(client, f"someone-{n}@example.com", "wrong guess", f"198.51.100.{n}")
            assert guessed.status_code == 401
        assert_retry_after(sign_in_json(client, "another@example.com", "wrong guess", "198.51.100.99"))


def test_the_right_password_starts_the_accounts_count_again(settings, make_account):
    account = make_account(Role.viewer)
    with app_with(settings, peer="127.0.0.1", rate_limits={"login": "3/minute"}) as (client, _ctx):
        for n in range(2):
            assert sign_in_json(client, account.user.email, "wrong guess", f"198.51.100.{n}").status_code == 401
        assert sign_in_json(client, account.user.email, PASSWORD, "198.51.100.100").status_code == 200
        for n in range(3):
            assert sign_in_json(client, account.user.email, "wrong guess", f"198.51.100.{n + 101}").status_code == 401
        assert_retry_after(sign_in_json(client, account.user.email, PASSWORD, "198.51.100.250"))


def test_a_limit_lifts_when_its_window_has_passed(settings):
    batch = {"viewer": "viewer-0001", "events": [{"id": "e1", "type": "play", "video_id": 1, "second": 0}]}
    with app_with(settings, rate_limits={"events": "2/second"}) as (client, _ctx):
        wait_for(lambda: client.post("/api/v1/events", json=batch).status_code == 429, message="a refusal")
        wait_for(
            lambda: client.post("/api/v1/events", json=batch).status_code == 202,
            timeout_s=10,
            message="the one-second window to pass",
        )


def test_switched_off_nothing_is_counted(settings, make_account):
    account = make_account(Role.viewer)
    with app_with(settings, rate_limits_enabled=False, rate_limits={"login": "1/minute"}) as (client, _ctx):
        for _ in range(3):
            assert sign_in(client, account.user.email, "wrong guess").status_code == 401
        assert sign_in(client, account.user.email).status_code == 303


def test_sign_ups_are_limited_per_address(settings):
    with app_with(settings, rate_limits={"signup": "2/hour"}) as (client, _ctx):
        token = form_token(client, "/signup")
        for n in range(2):
            made = client.post(
                "/signup",
                data={"email": f"new-{n}@example.com", "password": PASSWORD, "csrf_token": token},
                follow_redirects=False,
            )
            assert made.status_code == 303
            client.cookies.delete("vetrina_session")
        refused = client.post(
            "/signup",
            data={"email": "new-2@example.com", "password": PASSWORD, "csrf_token": token},
            headers={"Accept": "text/html"},
        )
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 60
        assert "Too many attempts" in refused.text


def test_top_ups_are_limited_per_user_on_the_api_and_the_wallet_page(settings, make_account):
    buyer, other = make_account(Role.viewer), make_account(Role.viewer)
    with app_with(settings, rate_limits={"topup": "2/hour"}) as (client, ctx):
        money = {"amount": 500, "currency": "EUR"}
        for _ in range(2):
            assert client.post("/api/v1/wallet/topups", headers=buyer.auth, json=money).status_code == 201
        refused = client.post("/api/v1/wallet/topups", headers=buyer.auth, json=money)
        assert_problem(refused, 429, "too-many-requests")
        assert int(refused.headers["Retry-After"]) > 60
        assert client.get("/api/v1/wallet", headers=buyer.auth).json()["available"]["amount"] == 1000
        assert client.post("/api/v1/wallet/topups", headers=other.auth, json=money).status_code == 201
        # The page's form: the other buyer's third top-up of the hour.
        sign_in(client, other.user.email)
        token = form_token(client, "/wallet")
        assert client.post("/wallet/topups", data={"amount": "5.00", "csrf_token": token}).status_code == 200
        page = client.post(
            "/wallet/topups", data={"amount": "5.00", "csrf_token": token}, headers={"Accept": "text/html"}
        )
        assert page.status_code == 429 and "Retry-After" in page.headers
        assert client.get("/api/v1/wallet", headers=other.auth).json()["available"]["amount"] == 1000


def test_a_replayed_top_up_is_answered_without_counting_against_the_limit(settings, make_account):
    """The bank test's retries: a retry with the same Idempotency-Key is the first answer again, never a 429."""
    buyer = make_account(Role.viewer)
    with app_with(settings, rate_limits={"topup": "2/hour"}) as (client, ctx):
        money = {"amount": 500, "currency": "EUR"}
        keyed = {**buyer.auth, "Idempotency-Key": "once"}
        first = client.post("/api/v1/wallet/topups", headers=keyed, json=money)
        for _ in range(3):
            again = client.post("/api/v1/wallet/topups", headers=keyed, json=money)
            assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
            assert again.json() == first.json()
        assert client.post("/api/v1/wallet/topups", headers=buyer.auth, json=money).status_code == 201
        refused = client.post("/api/v1/wallet/topups", headers={**buyer.auth, "Idempotency-Key": "late"}, json=money)
        assert_problem(refused, 429, "too-many-requests")
        # The refused attempt left its key free: once the hour is up, a retry with it is a new top-up, not a 429.
        with ctx.db.session() as session:
            assert session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "late")) is None
        assert client.get("/api/v1/wallet", headers=buyer.auth).json()["available"]["amount"] == 1000


def test_player_events_are_limited_per_address(settings):
    batch = {"viewer": "viewer-0001", "events": [{"id": "e1", "type": "play", "video_id": 1, "second": 0}]}
    with app_with(settings, peer="127.0.0.1", rate_limits={"events": "2/minute"}) as (client, _ctx):
        for _ in range(2):
            assert client.post("/api/v1/events", json=batch).status_code == 202
        assert_retry_after(client.post("/api/v1/events", json=batch))
        elsewhere = client.post("/api/v1/events", json=batch, headers={"X-Forwarded-For": "198.51.100.3"})
        assert elsewhere.status_code == 202


def test_bad_rate_limit_settings_stop_start_up(tmp_path):
    for bad in ({"logins": "5/minute"}, {"login": "five a minute"}, {"login": "0/minute"}):
        with pytest.raises(ValidationError):
            Settings(data_dir=tmp_path, rate_limits=bad)
    merged = Settings(data_dir=tmp_path, rate_limits={"login": "3/minute"}).rate_limits
    assert merged == {**DEFAULT_RATE_LIMITS, "login": "3/minute"}


def test_with_redis_every_process_shares_the_counts(tmp_path):
    if reason := redis_skip_reason():
        pytest.skip(reason)
    # Two processes of one deployment (a queue name of its own, so no other test's counts are seen).
    settings = Settings(
        data_dir=tmp_path,
        redis_url=TEST_REDIS_URL,
        secret_key="shared by the deployment",
        queue_name=f"test-{secrets.token_hex(4)}",
        rate_limits={},
    )
    first, second = RateLimits.from_settings(settings), RateLimits.from_settings(settings)
    assert first.shared and second.shared
    for _ in range(LOGIN_LIMIT):
        first.hit("login", "account", "someone")
    with pytest.raises(TooManyRequests) as refused:
        second.hit("login", "account", "someone")
    assert 1 <= refused.value.extra["retry_after_s"] <= 60
    second.reset("login", "account", "someone")
    first.hit("login", "account", "someone")
