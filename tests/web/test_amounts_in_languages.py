"""Amounts typed into the merchant desk's forms are read the way the merchant's language writes numbers, and a
form opened again shows them written that way; what the desk says after a form is in that language too."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from tests.web.helpers import csrf_from, sign_in, speak_with
from vetrina.accounts.models import Role
from vetrina.web.language import LANGUAGE_COOKIE


def _italian_by_setting(client, merchant) -> None:
    assert client.patch("/api/v1/me", headers=merchant.auth, json={"language": "it"}).json()["language"] == "it"
    sign_in(client, merchant.user.email)


def _italian_by_cookie(client, merchant) -> None:
    sign_in(client, merchant.user.email)
    client.cookies.set(LANGUAGE_COOKIE, "it")


def _add_product(client, price: str):
    token = csrf_from(client.get("/merchant").text)
    form = {"title": "Tazza", "price": price, "currency": "EUR", "stock": "3", "published": "true"}
    return client.post("/merchant/products", data={**form, "csrf_token": token}, follow_redirects=False)


def _products(client, merchant) -> list[dict]:
    return client.get(f"/api/v1/merchants/{merchant.user.id}/products", headers=merchant.auth).json()["items"]


def _price_field(page: str) -> str:
    """The price the desk's form for the product holds (the empty new-product form has none)."""
    return re.search(r'name="price" inputmode="decimal" required value="([^"]+)"', page).group(1)


@pytest.mark.parametrize("italian", [_italian_by_setting, _italian_by_cookie], ids=["setting", "cookie"])
@pytest.mark.parametrize(("typed", "amount"), [("59,00", 5900), ("1.299,50", 129950), ("7", 700)])
def test_an_italian_merchant_types_a_price_as_italians_write_it(client, make_account, italian, typed, amount):
    merchant = make_account(Role.merchant)
    italian(client, merchant)
    assert _add_product(client, typed).status_code == 303
    [product] = _products(client, merchant)
    assert product["price"] == {"amount": amount, "currency": "EUR"}
    shown = f"{amount // 100},{amount % 100:02d}"  # ungrouped: what the merchant may type back unchanged
    assert _price_field(client.get("/merchant").text) == shown


def test_an_english_merchant_types_a_price_as_english_writes_it(client, make_account):
    merchant = make_account(Role.merchant)
    sign_in(client, merchant.user.email)
    assert _add_product(client, "59.00").status_code == 303
    [product] = _products(client, merchant)
    assert product["price"] == {"amount": 5900, "currency": "EUR"}
    assert _price_field(client.get("/merchant").text) == "59.00"


def test_a_price_that_reads_two_ways_in_english_is_refused_not_guessed(client, make_account):
    merchant = make_account(Role.merchant)
    sign_in(client, merchant.user.email)
    refused = _add_product(client, "59,00")
    assert refused.headers["location"] == "/merchant?msg=" + quote("“59,00” is not an amount (write it like 1,299.50).")
    assert _products(client, merchant) == []


def test_the_message_after_a_form_reaches_the_next_page_in_the_merchants_language(client, make_account, monkeypatch):
    speak_with(monkeypatch, "it", {"Saved.": "Salvato.", "Merchant desk": "Banco del venditore"})
    merchant = make_account(Role.merchant)
    _italian_by_setting(client, merchant)
    saved = _add_product(client, "59,00")
    assert saved.headers["location"] == "/merchant?msg=" + quote("Salvato.")
    page = client.get(saved.headers["location"]).text
    assert '<p class="notice" role="status">Salvato.</p>' in page and "<h1>Banco del venditore</h1>" in page
    refused = _add_product(client, "59.00.0")
    assert refused.headers["location"].startswith("/merchant?msg=" + quote("“59.00.0”"))
    assert quote("write it like 1.299,50") in refused.headers["location"]  # the example in Italian's own way
