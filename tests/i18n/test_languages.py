"""Which language an answer speaks (the user's choice, the switcher's cookie, Accept-Language, the operator's
default), problems translated with their type kept, products in the reader's language, timelines cached per
language, and studio labels in the spot's language."""

from __future__ import annotations

import pytest

from tests.helpers import ready_video_row
from tests.shoppable.helpers import tag
from tests.web.helpers import app_with, assert_problem, form_token
from vetrina.accounts.models import Role
from vetrina.i18n import LANGUAGES, Message, _, from_accept_language, speaking, supported, translations
from vetrina.money import Money


def said(text: str, language: str) -> str:
    """`text` as the catalogue of `language` says it; it must have a translation there."""
    translated = translations(language).gettext(text)
    assert translated != text or language == "en", f"{text!r} has no {language} translation"
    return translated


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("zh-Hans", "zh"),
        ("it-IT,it;q=0.9", "it"),
        ("fr-FR,fr;q=0.9,it;q=0.5,en;q=0.4", "it"),  # French we lack: the next one asked for
        ("en;q=0.2, zh;q=0.7", "zh"),
        ("fr-FR", "en"),  # none we speak: the default, never an error
        ("", "en"),
        (None, "en"),
        ("it;q=0", "en"),  # q=0 means "not this one"
        ("it;q=abc, x" * 500, "en"),  # malformed and huge: the default
        ("*", "en"),
    ],
)
def test_accept_language_picks_the_best_language_we_speak(header, expected) -> None:
    assert from_accept_language(header, "en") == expected


def test_language_tags_are_read_loosely_and_only_ours_are_spoken() -> None:
    assert [supported(tag) for tag in ("ZH-cn", "it_IT", "en-GB", "pt", "", "x" * 100)] == [
        "zh",
        "it",
        "en",
        None,
        None,
        None,
    ]


def test_a_message_is_english_until_shown_and_then_the_readers() -> None:
    message = _("There is no product {product_id}.", product_id=42)
    assert message == "There is no product 42." and isinstance(message, Message)
    for language in ("it", "zh"):
        with speaking(language):
            shown = message.localised()
        assert "42" in shown and shown != "There is no product 42."


def test_money_is_written_and_read_the_readers_way() -> None:
    assert Money(5900, "EUR").display("it") == "59,00\xa0€"
    assert Money(5900, "CNY").display("zh") == "¥59.00"
    assert Money.parse("59,00", "EUR", "it") == Money(5900, "EUR")
    assert Money.parse("1.299,50", "EUR", "it") == Money(129950, "EUR")
    assert Money.parse("59.00", "CNY", "zh") == Money(5900, "CNY")
    with speaking("it"):
        assert Money.parse("59,00", "EUR") == Money(5900, "EUR")  # the request's language by default


def test_problems_speak_the_askers_language_and_keep_their_type(client) -> None:
    english = assert_problem(client.get("/api/v1/products/999999"), 404, "not-found")
    for header, language in (("it-IT,it;q=0.9", "it"), ("zh-CN", "zh")):
        answer = client.get("/api/v1/products/999999", headers={"Accept-Language": header})
        body = assert_problem(answer, 404, "not-found")
        assert body["type"] == english["type"]
        assert body["title"] == said("Not found", language)
        assert body["detail"] == said("There is no product {product_id}.", language).format(product_id=999999)
        assert answer.headers["content-language"] == language
        assert "Accept-Language" in answer.headers["vary"]
    unknown = client.get("/api/v1/products/999999", headers={"Accept-Language": "fr-FR"})
    assert assert_problem(unknown, 404, "not-found")["title"] == "Not found"


def test_validation_problems_are_translated_too(client, make_account) -> None:
    merchant = make_account(Role.merchant)
    answer = client.post(
        "/api/v1/products", headers={**merchant.auth, "Accept-Language": "it"}, json={"title": "Tazza"}
    )
    body = assert_problem(answer, 422, "invalid-input")
    assert body["title"] == said("The input is not valid", "it")
    assert said("This is required.", "it") in body["detail"]


def test_the_operators_default_answers_who_asks_for_nothing_we_speak(settings) -> None:
    with app_with(settings, default_language="zh") as (client, _ctx):
        answer = client.get("/api/v1/products/999999", headers={"Accept-Language": "de-DE"})
        assert assert_problem(answer, 404, "not-found")["title"] == said("Not found", "zh")
        answer = client.get("/api/v1/products/999999", headers={"Accept-Language": "it"})
        assert answer.json()["title"] == said("Not found", "it")


def test_the_users_choice_beats_their_browser_and_can_be_cleared(client, make_account) -> None:
    viewer = make_account(Role.viewer)
    assert client.get("/api/v1/me", headers=viewer.auth).json()["language"] is None
    chosen = client.patch("/api/v1/me", headers=viewer.auth, json={"language": "zh"})
    assert chosen.status_code == 200 and chosen.json()["language"] == "zh" and chosen.json()["speaking"] == "zh"
    answer = client.get("/api/v1/products/999999", headers={**viewer.auth, "Accept-Language": "it"})
    assert answer.json()["title"] == said("Not found", "zh")
    assert_problem(client.patch("/api/v1/me", headers=viewer.auth, json={"language": "fr"}), 422, "invalid-input")
    assert_problem(client.patch("/api/v1/me", headers=viewer.auth, json={"language": 7}), 422, "invalid-input")
    assert client.patch("/api/v1/me", headers=viewer.auth, json={"language": None}).json()["language"] is None
    answer = client.get("/api/v1/products/999999", headers={**viewer.auth, "Accept-Language": "it"})
    assert answer.json()["title"] == said("Not found", "it")
    assert_problem(client.get("/api/v1/me"), 401, "not-authenticated")


def test_the_switcher_sets_the_language_of_every_page_after_it(client) -> None:
    token = form_token(client, "/login")
    switched = client.post(
        "/language", data={"language": "it", "next": "/login", "csrf_token": token}, follow_redirects=False
    )
    assert switched.status_code == 303 and switched.headers["location"] == "/login"
    page = client.get("/login")
    assert '<html lang="it">' in page.text and page.headers["content-language"] == "it"
    assert said("Sign in", "it") in page.text
    away = client.post(
        "/language",
        data={"language": "it", "next": "https://evil.example/", "csrf_token": token},
        follow_redirects=False,
    )
    assert away.headers["location"] == "/"  # never an open redirect
    refused = client.post("/language", data={"language": "klingon", "csrf_token": token}, follow_redirects=False)
    assert refused.status_code == 422
    assert client.post("/language", data={"language": "zh"}, follow_redirects=False).status_code == 403  # no CSRF


def test_products_and_their_cards_speak_the_readers_language(client, ctx, make_account) -> None:
    merchant = make_account(Role.merchant)
    made = client.post(
        "/api/v1/products",
        headers=merchant.auth,
        json={
            "title": "Mug",
            "description": "A mug.",
            "price": {"amount": 5900, "currency": "EUR"},
            "stock": 5,
            "translations": {"it": {"title": "Tazza", "description": "Una tazza."}, "zh-CN": {"title": "杯子"}},
        },
    )
    assert made.status_code == 201, made.text
    product = made.json()
    assert product["translations"] == {"it": {"title": "Tazza", "description": "Una tazza."}, "zh": {"title": "杯子"}}
    with ctx.db.session() as session:
        video = ready_video_row(merchant.user.id)
        session.add(video)
        session.flush()
        video_id = video.id
    assert tag(client, merchant, video_id, product["id"], 1, 5).status_code == 201
    timelines = {
        language: client.get(f"/api/v1/videos/{video_id}/timeline", headers={"Accept-Language": language})
        for language in LANGUAGES
    }
    cards = {language: answer.json()["tags"][0]["product"] for language, answer in timelines.items()}
    assert (cards["en"]["title"], cards["it"]["title"], cards["zh"]["title"]) == ("Mug", "Tazza", "杯子")
    assert (cards["en"]["price_display"], cards["it"]["price_display"]) == ("€59.00", "59,00\xa0€")
    assert len({answer.headers["etag"] for answer in timelines.values()}) == 3
    assert all("Accept-Language" in answer.headers["vary"] for answer in timelines.values())
    named = client.get(f"/api/v1/videos/{video_id}/timeline?lang=zh", headers={"Accept-Language": "it"})
    assert named.json()["tags"][0]["product"]["title"] == "杯子"  # the address's language: no Vary needed
    assert "vary" not in named.headers and named.headers["etag"] == timelines["zh"].headers["etag"]
    assert_problem(client.get(f"/api/v1/videos/{video_id}/timeline?lang=fr"), 422, "invalid-input")
    page = client.get(f"/p/{product['id']}", headers={"Accept-Language": "it"})
    assert "Tazza" in page.text and "Una tazza." in page.text
    fallback = client.get(f"/p/{product['id']}", headers={"Accept-Language": "zh"})
    assert "杯子" in fallback.text and "A mug." in fallback.text  # no Chinese description: the original
    cleared = client.patch(f"/api/v1/products/{product['id']}", headers=merchant.auth, json={"translations": None})
    assert cleared.json()["translations"] == {}


@pytest.mark.parametrize(
    "translations",
    [
        {"klingon": {"title": "x"}},
        {"it": {"title": ""}},
        {"it": {"subtitle": "x"}},
        {"it": {}},
        {"it": {"title": "x" * 201}},
        {"it": {"title": "a\x00b"}},
        ["it"],
        {"it": "Tazza"},
    ],
)
def test_bad_translations_are_refused_clearly(client, make_account, translations) -> None:
    merchant = make_account(Role.merchant)
    answer = client.post(
        "/api/v1/products",
        headers=merchant.auth,
        json={"title": "Mug", "price": {"amount": 100, "currency": "EUR"}, "translations": translations},
    )
    assert_problem(answer, 422, "invalid-input")
    assert client.get("/api/v1/products", headers=merchant.auth).json()["total"] == 0  # nothing half-made
