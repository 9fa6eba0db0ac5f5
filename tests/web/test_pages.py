"""Pages: sign-up, sign-in and sign-out with CSRF-protected forms; the upload form; HTML errors."""

from __future__ import annotations

import re

import pytest

from tests.helpers import PASSWORD, ready_video_row
from tests.web.helpers import csrf_from, form_token, sign_in
from vetrina.accounts.models import Role
from vetrina.web.deps import CSRF_COOKIE, SESSION_COOKIE


def test_sign_up_then_sign_out_then_sign_in(client):
    token = form_token(client, "/signup")
    created = client.post(
        "/signup",
        data={"email": "new@example.com", "password": PASSWORD, "role": "merchant", "csrf_token": token},
        follow_redirects=False,
    )
    assert created.status_code == 303
    assert client.cookies.get(SESSION_COOKIE)
    home = client.get("/")
    assert "new@example.com" in home.text and 'href="/upload"' in home.text

    signed_out = client.post("/logout", data={"csrf_token": csrf_from(home.text)}, follow_redirects=False)
    assert signed_out.status_code == 303
    client.cookies.delete(SESSION_COOKIE)
    assert "new@example.com" not in client.get("/").text

    response = sign_in(client, "new@example.com", next_path="/upload")
    assert response.status_code == 303 and response.headers["location"] == "/upload"
    assert "Upload a video" in client.get("/upload").text


def test_forms_without_the_csrf_token_are_refused(client, make_account):
    account = make_account(Role.viewer)
    client.get("/login")  # sets the CSRF cookie
    for path, data in [
        ("/login", {"email": account.user.email, "password": PASSWORD}),
        ("/signup", {"email": "x@example.com", "password": PASSWORD}),
        ("/logout", {}),
    ]:
        refused = client.post(path, data={**data, "csrf_token": "forged"}, follow_redirects=False)
        assert refused.status_code == 403, path
        assert client.post(path, data=data, follow_redirects=False).status_code == 403
    assert not client.cookies.get(SESSION_COOKIE)


def test_wrong_password_and_duplicate_email_are_shown_on_the_form(client, make_account):
    account = make_account(Role.viewer)
    wrong = sign_in(client, account.user.email, "not the password")
    assert wrong.status_code == 401 and "Wrong email or password" in wrong.text
    token = form_token(client, "/signup")
    duplicate = client.post("/signup", data={"email": account.user.email, "password": PASSWORD, "csrf_token": token})
    assert duplicate.status_code == 409 and "already exists" in duplicate.text
    admin = client.post(
        "/signup", data={"email": "boss@example.com", "password": PASSWORD, "role": "admin", "csrf_token": token}
    )
    assert admin.status_code == 422


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_sign_in_never_redirects_off_site(client, make_account, target):
    account = make_account(Role.viewer)
    response = sign_in(client, account.user.email, next_path=target)
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_cookie_signed_in_api_writes_need_the_csrf_header(client, make_account):
    account = make_account(Role.merchant)
    assert sign_in(client, account.user.email).status_code == 303
    assert client.get("/api/v1/videos?mine=true").status_code == 200  # reads need no token
    refused = client.patch("/api/v1/videos/1", json={"title": "x"})
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.json()["detail"]
    allowed = client.patch(
        "/api/v1/videos/1", json={"title": "x"}, headers={"X-CSRF-Token": client.cookies.get(CSRF_COOKIE)}
    )
    assert allowed.status_code == 404  # past the CSRF check; there is no such video


def test_upload_page_is_for_uploaders(client, make_account):
    assert client.get("/upload", follow_redirects=False).headers["location"] == "/login?next=/upload"
    viewer = make_account(Role.viewer)
    sign_in(client, viewer.user.email)
    page = client.get("/upload", headers={"Accept": "text/html"})
    assert page.status_code == 403 and "text/html" in page.headers["content-type"]
    posted = client.post("/upload", data={"title": "Nope", "csrf_token": csrf_from(client.get("/").text)})
    assert posted.status_code == 403


@pytest.mark.slow
def test_upload_form_redirects_to_the_watch_page(client, make_account, short_clip):
    merchant = make_account(Role.merchant)
    sign_in(client, merchant.user.email)
    token = form_token(client, "/upload")
    with short_clip.open("rb") as handle:
        response = client.post(
            "/upload",
            data={"title": "From the form", "csrf_token": token},
            files={"file": ("clip.mp4", handle, "video/mp4")},
            follow_redirects=False,
        )
    assert response.status_code == 303
    watch = client.get(response.headers["location"])
    assert "From the form" in watch.text
    assert 'data-status="processing"' in watch.text or 'data-status="ready"' in watch.text
    bad = client.post("/upload", data={"title": "No file", "csrf_token": token})
    assert bad.status_code == 422 and "Choose a file" in bad.text


def test_unknown_pages_are_html_for_browsers_and_problems_for_api_clients(client):
    page = client.get("/watch/424242", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "<h1>Not found</h1>" in page.text
    api = client.get("/api/v1/nothing-here")
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
    assert client.get("/watch/abc", headers={"Accept": "text/html"}).status_code == 422
    huge = client.get("/watch/99999999999999999999", headers={"Accept": "text/html"})
    assert huge.status_code == 422 and "text/html" in huge.headers["content-type"]


def test_health_and_openapi(client):
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    spec = client.get("/openapi.json").json()
    assert "/api/v1/videos" in spec["paths"] and "/api/v1/videos/{video_id}" in spec["paths"]


def test_huge_json_bodies_are_refused_before_reading(client, make_account):
    account = make_account()
    response = client.patch(
        "/api/v1/videos/1", headers={**account.auth, "Content-Type": "application/json"}, content=b"[" * (2 * 1024**2)
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_sign_in_from_a_script_needs_the_csrf_header(client, make_account):
    account = make_account(Role.viewer)
    client.get("/")  # sets the CSRF cookie, as the watch page does
    body = {"email": account.user.email, "password": PASSWORD}
    assert client.post("/api/v1/session", json=body).status_code == 403
    token = client.cookies.get(CSRF_COOKIE)
    wrong = client.post("/api/v1/session", json={**body, "password": "nope nope"}, headers={"X-CSRF-Token": token})
    assert wrong.status_code == 401 and not client.cookies.get(SESSION_COOKIE)
    signed_in = client.post("/api/v1/session", json=body, headers={"X-CSRF-Token": token})
    assert signed_in.status_code == 200 and signed_in.json()["email"] == account.user.email
    assert client.cookies.get(SESSION_COOKIE)


def test_every_answer_carries_the_security_headers_and_pages_run_no_inline_script(client, ctx, make_account):
    merchant = make_account(Role.merchant)
    for path in ("/", "/login", "/signup", "/api/v1/videos", "/nowhere"):
        headers = client.get(path).headers
        policy = dict(d.strip().split(" ", 1) for d in headers["content-security-policy"].split(";"))
        assert policy["script-src"] == "'self'" and "'unsafe-inline'" not in policy["script-src"], path
        assert policy["frame-ancestors"] == "'self'" and policy["object-src"] == "'none'", path
        assert "blob:" in policy["worker-src"], path  # hls.js
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin", path
    assert sign_in(client, merchant.user.email).status_code == 303
    with ctx.db.session() as session:
        video = ready_video_row(merchant.user.id)
        session.add(video)
        session.flush()
        watch = f"/watch/{video.id}"
    for path in ("/", "/merchant", "/wallet", "/orders", "/account", "/studio", "/payouts", watch):
        page = client.get(path)
        assert page.status_code == 200, path
        scripts = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/ld\+json)[^>]*>", page.text)
        assert scripts == [], f"{path} has inline script: {scripts}"
        assert not re.search(r"\son[a-z]+=", page.text), f"{path} has an inline event handler"
