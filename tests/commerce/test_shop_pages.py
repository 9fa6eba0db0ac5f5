"""The shop pages, driven as a browser drives them: forms with CSRF tokens, redirects, and what they show."""

from __future__ import annotations

import io
import json
import re

from PIL import Image

from tests.helpers import PASSWORD
from vetrina.accounts.models import Role


def sign_in(client, email: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 200
    return token


def png_bytes(size=(640, 480), colour=(200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def test_merchant_lists_a_product_and_a_buyer_buys_it_through_the_pages(client, make_account, ctx):
    from fastapi.testclient import TestClient

    from vetrina.web.app import create_app

    merchant, buyer = make_account(Role.merchant), make_account(Role.viewer)
    token = sign_in(client, merchant.user.email)
    saved = client.post(
        "/merchant/products",
        data={
            "csrf_token": token,
            "title": "Silk scarf",
            "price": "24.50",
            "currency": "EUR",
            "stock": "3",
            "variants": "",
            "published": "true",
        },
    )
    assert saved.url.path == "/merchant" and "Saved" in saved.text
    product_id = int(re.search(r'href="/p/(\d+)"', saved.text).group(1))
    uploaded = client.post(
        f"/merchant/products/{product_id}/images",
        data={"csrf_token": token},
        files={"file": ("scarf.png", png_bytes(), "image/png")},
    )
    assert "Image added" in uploaded.text
    bad = client.post(
        f"/merchant/products/{product_id}/images",
        data={"csrf_token": token},
        files={"file": ("scarf.png", b"not an image", "image/png")},
    )
    assert "not a readable image" in bad.text

    with TestClient(create_app(ctx)) as shopper:
        buyer_token = sign_in(shopper, buyer.user.email)
        page = shopper.get(f"/p/{product_id}")
        ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page.text, re.S).group(1))
        assert ld["@type"] == "Product" and ld["name"] == "Silk scarf"
        assert ld["offers"] == {
            "@type": "Offer",
            "price": "24.50",
            "priceCurrency": "EUR",
            "availability": "https://schema.org/InStock",
            "url": f"http://testserver/p/{product_id}",
        }
        assert len(ld["image"]) == 1 and ld["image"][0].endswith("/large.jpg")
        assert shopper.get(ld["image"][0].removeprefix("http://testserver")).headers["content-type"] == "image/jpeg"

        assert "Added" in shopper.post("/wallet/topups", data={"csrf_token": buyer_token, "amount": "100"}).text
        for odd in ("sNaN", "1e999999999", "Infinity", "12abc"):
            refused = shopper.post("/wallet/topups", data={"csrf_token": buyer_token, "amount": odd})
            assert refused.status_code == 200 and "not an amount" in refused.text, odd
        assert (
            "at most 2 decimals"
            in shopper.post("/wallet/topups", data={"csrf_token": buyer_token, "amount": "1.001"}).text
        )
        ordered = shopper.post(f"/p/{product_id}/buy", data={"csrf_token": buyer_token, "quantity": "2"})
        order_id = re.search(r'id="order-(\d+)"', ordered.text).group(1)
        assert "Pay into escrow" in ordered.text
        assert "Done" in shopper.post(f"/orders/{order_id}/pay", data={"csrf_token": buyer_token}).text
        # The merchant renames the product from a page opened before the sale: the sold units stay sold.
        renamed = client.post(
            "/merchant/products",
            data={
                "csrf_token": token,
                "product_id": str(product_id),
                "title": "Silk scarf, blue",
                "price": "24.50",
                "currency": "EUR",
                "stock": "3",
                "stock_was": "3",
                "variants": "",
                "variants_was": "",
                "published": "true",
            },
        )
        assert "Saved" in renamed.text
        assert client.get(f"/api/v1/products/{product_id}").json()["stock"] == 1
        wallet = shopper.get("/wallet").text
        assert re.findall(r'data-testid="(?:available|held)">([^<]+)', wallet) == ["€51.00", "€49.00"]

        desk = client.get("/merchant").text
        assert "Mark shipped" in desk
        shipped = client.post(
            f"/orders/{order_id}/ship",
            data={"csrf_token": token, "carrier": "DHL", "tracking": "JD01", "back": "/merchant"},
        )
        assert shipped.url.path == "/merchant"

        orders_page = shopper.get("/orders").text
        assert "Confirm receipt" in orders_page and "Ask for a refund" in orders_page
        refused = shopper.post(
            f"/orders/{order_id}/ship", data={"csrf_token": buyer_token, "carrier": "x", "tracking": "y"}
        )
        assert "Only the order" in refused.text
        shopper.post(f"/orders/{order_id}/confirm", data={"csrf_token": buyer_token})
        assert "Trade Finished" in shopper.get("/orders").text

    desk = client.get("/merchant").text
    assert re.findall(r'data-testid="(?:available|held)">([^<]+)', desk) == ["€46.55", "€0.00"]


def test_shop_forms_need_csrf_and_a_sign_in(client, make_account):
    merchant = make_account(Role.merchant)
    assert client.get("/wallet", headers={"Accept": "text/html"}).status_code == 401
    token = sign_in(client, merchant.user.email)
    forged = client.post("/merchant/products", data={"csrf_token": "forged", "title": "x", "price": "1"})
    assert forged.status_code == 403
    assert client.get(f"/api/v1/merchants/{merchant.user.id}/products").json()["total"] == 0
    viewer_desk = make_account(Role.viewer)
    client.cookies.clear()
    sign_in(client, viewer_desk.user.email)
    assert client.get("/merchant", headers={"Accept": "text/html"}).status_code == 403
    assert token


def test_product_images_over_the_api(client, make_account):
    merchant, rival = make_account(Role.merchant), make_account(Role.merchant)
    product = client.post(
        "/api/v1/products",
        headers=merchant.auth,
        json={"title": "Lamp", "price": {"amount": 4500, "currency": "EUR"}, "stock": 1},
    ).json()
    url = f"/api/v1/products/{product['id']}/images"
    image = client.post(url, headers=merchant.auth, files={"file": ("lamp.png", png_bytes((2400, 1200)), "image/png")})
    assert image.status_code == 201, image.text
    body = image.json()
    assert (body["width"], body["height"]) == (2400, 1200)
    for size, longest in (("thumb", 160), ("card", 480), ("large", 1200)):
        served = client.get(body["urls"][size])
        assert served.headers["content-type"] == "image/jpeg"
        assert max(Image.open(io.BytesIO(served.content)).size) == longest
    assert client.post(url, headers=rival.auth, files={"file": ("x.png", png_bytes(), "image/png")}).status_code == 403
    for name, content in [("x.png", b"GIF89a broken"), ("x.png", png_bytes((10, 10))), ("x.txt", b"hello")]:
        refused = client.post(url, headers=merchant.auth, files={"file": (name, content, "image/png")})
        assert refused.status_code in (415, 422), refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    product_now = client.get(f"/api/v1/products/{product['id']}").json()
    assert [i["id"] for i in product_now["images"]] == [body["id"]]
    removed = client.delete(f"{url}/{body['id']}", headers=merchant.auth)
    assert removed.status_code == 204
    assert client.get(f"/api/v1/products/{product['id']}").json()["images"] == []
