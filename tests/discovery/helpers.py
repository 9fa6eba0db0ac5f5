"""Discovery helpers: what search engines read of a page (extruct's JSON-LD) and the properties they require."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import extruct
import httpx

from tests.commerce.helpers import product
from tests.helpers import ready_video_row
from tests.studio.helpers import photo_bytes

ISO_DURATION = re.compile(r"P(T(\d+H)?(\d+M)?(\d+S)?)")


def json_ld(html: str, url: str) -> list[dict[str, Any]]:
    """Every JSON-LD item of the page, as extruct reads it."""
    return extruct.extract(html, base_url=url, syntaxes=["json-ld"], uniform=True)["json-ld"]


def of_type(items: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [item for item in items if item.get("@type") == kind]


def assert_absolute(url: str, site: str) -> None:
    assert url.startswith(site + "/"), url


def assert_video_object(video: dict[str, Any], site: str) -> None:
    """The VideoObject properties search engines require (and those the issue asks for besides)."""
    assert video["name"]
    thumbnails = video["thumbnailUrl"] if isinstance(video["thumbnailUrl"], list) else [video["thumbnailUrl"]]
    assert thumbnails and all(t.startswith(("http://", "https://")) for t in thumbnails)
    uploaded = datetime.fromisoformat(video["uploadDate"])
    assert uploaded.tzinfo is not None, video["uploadDate"]
    assert video["description"]


def assert_vod_object(video: dict[str, Any], site: str, video_id: int) -> None:
    assert_video_object(video, site)
    assert ISO_DURATION.fullmatch(video["duration"]) and video["duration"] != "PT", video["duration"]
    assert video["embedUrl"] == f"{site}/embed/{video_id}"


def assert_product(item: dict[str, Any]) -> None:
    """The Product properties search engines require: name, image, offers with price, currency, availability."""
    assert item["name"]
    assert item["image"] and all(i.startswith(("http://", "https://")) for i in item["image"])
    offer = item["offers"]
    assert offer["@type"] == "Offer"
    assert re.fullmatch(r"\d+(\.\d+)?", offer["price"]), offer
    assert re.fullmatch(r"[A-Z]{3}", offer["priceCurrency"])
    assert offer["availability"] in ("https://schema.org/InStock", "https://schema.org/OutOfStock")


def photographed_product(client: httpx.Client, merchant, **extra) -> dict:
    """A published product with one photo, made over the API."""
    item = product(client, merchant, **extra)
    photo = {"file": ("p.jpg", photo_bytes((40, 160, 90), size=(200, 200)), "image/jpeg")}
    response = client.post(f"/api/v1/products/{item['id']}/images", headers=merchant.auth, files=photo)
    assert response.status_code == 201, response.text
    return item


def video_row(ctx, owner_id: int, **fields) -> int:
    """A ready video written straight to the database (no transcode: its media is never played here)."""
    with ctx.db.session(write=True) as session:
        row = ready_video_row(owner_id, **fields)
        session.add(row)
        session.flush()
        return row.id


def tag(client: httpx.Client, account, video_id: int, product_id: int, start: float, end: float, **extra) -> dict:
    body = {"product_id": product_id, "start_s": start, "end_s": end, **extra}
    response = client.post(f"/api/v1/videos/{video_id}/tags", headers=account.auth, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def licence(client: httpx.Client, owner, video_id: int, territories: list[str], **extra) -> None:
    body = {
        "video_id": video_id,
        "distributor": "Dist",
        "territories": territories,
        "starts_at": extra.pop("starts_at", "2020-01-01T00:00:00Z"),
        "ends_at": extra.pop("ends_at", "2090-01-01T00:00:00Z"),
        "uses": ["stream"],
        **extra,
    }
    response = client.post("/api/v1/licences", headers=owner.auth, json=body)
    assert response.status_code == 201, response.text
