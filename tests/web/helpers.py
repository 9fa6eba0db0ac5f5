"""Browser-side helpers for tests that drive pages and the API: the CSRF token of a form, signing in through
the login form, the RFC 9457 problem an API answer must be, and the app with other settings."""

from __future__ import annotations

import gettext
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.helpers import PASSWORD, wait_for
from vetrina import i18n
from vetrina.context import Context
from vetrina.runtime import build_context
from vetrina.settings import Settings
from vetrina.web.app import create_app


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def form_token(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200
    return csrf_from(page.text)


def sign_in(client, email: str, password: str = PASSWORD, next_path: str = "/"):
    token = form_token(client, "/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": next_path},
        follow_redirects=False,
    )


def assert_problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["type"].endswith("/" + slug)
    assert body["detail"]
    return body


@contextmanager
def app_with(settings: Settings, peer: str = "testclient", **changes: Any) -> Iterator[tuple[TestClient, Context]]:
    """The app over the test's database and media with some settings changed, its requests coming from `peer`."""
    ctx = build_context(settings.model_copy(update=changes))
    try:
        with TestClient(create_app(ctx), client=(peer, 50000)) as client:
            yield client, ctx
    finally:
        ctx.close()


def upload(client, account, path: Path, title: str = "A film", **extra):
    with path.open("rb") as handle:
        return client.post(
            "/api/v1/videos",
            headers=account.auth,
            data={"title": title, **extra},
            files={"file": (path.name, handle, "video/mp4")},
        )


def wait_until_done(client, account, video_id: int, timeout_s: float = 90) -> dict:
    def done():
        body = client.get(f"/api/v1/videos/{video_id}", headers=account.auth).json()
        return body if body["status"] != "processing" else None

    return wait_for(done, timeout_s=timeout_s, message=f"video {video_id} to finish processing")


class Catalogue(gettext.NullTranslations):
    """A compiled catalogue's stand-in holding only `texts` ({English: translation}), for a test that must see a
    text translated whatever the real catalogues hold yet."""

    def __init__(self, texts: dict[str, str]) -> None:
        super().__init__()
        self.texts = texts

    def gettext(self, message: str) -> str:
        return self.texts.get(message, message)


def speak_with(monkeypatch, language: str, texts: dict[str, str]) -> None:
    """`language`'s messages catalogue is `texts` for the rest of the test."""
    real = i18n.translations
    monkeypatch.setattr(
        i18n,
        "translations",
        lambda lang, domain=i18n.DOMAIN: (
            Catalogue(texts) if (lang, domain) == (language, i18n.DOMAIN) else real(lang, domain)
        ),
    )
