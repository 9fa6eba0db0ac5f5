"""Feeds as partners write them, and following an import through the API."""

from __future__ import annotations

from collections.abc import Iterable
from xml.sax.saxutils import escape, quoteattr

from tests.helpers import wait_for

MRSS = "http://search.yahoo.com/mrss/"
CDN = "https://cdn.partner.example"


def mrss(*items: str, namespaces: str = f'xmlns:media="{MRSS}"') -> bytes:
    """An RSS 2.0 document with these `<item>`s."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" {namespaces}><channel>'
        f"<title>Partner catalogue</title><link>https://partner.example/</link>"
        f"{''.join(items)}</channel></rss>"
    ).encode()


def item(
    guid: str | None, title: str | None, media_url: str | None, extra: str = "", media_type: str = "video/mp4"
) -> str:
    """One `<item>` with a media:content (when `media_url` is given) and `extra` elements."""
    parts = ["<item>"]
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{escape(guid)}</guid>')
    if title is not None:
        parts.append(f"<title>{escape(title)}</title>")
    if media_url is not None:
        parts.append(f'<media:content url={quoteattr(media_url)} type={quoteattr(media_type)} medium="video"/>')
    parts += [extra, "</item>"]
    return "".join(parts)


def title_item(n: int, title: str | None = None) -> str:
    """Title number `n` of a generated catalogue: guid `t-<n>`."""
    return item(f"t-{n}", title or f"Title {n}", f"{CDN}/t-{n}.mp4", f"<description>Film number {n}</description>")


def catalogue_of(numbers: Iterable[int], titles: dict[int, str] | None = None) -> bytes:
    """These titles of a generated catalogue, some under other `titles`."""
    return mrss(*(title_item(n, (titles or {}).get(n)) for n in numbers))


def catalogue(count: int) -> bytes:
    """A generated catalogue of `count` well-formed titles, `t-1` to `t-<count>`."""
    return catalogue_of(range(1, count + 1))


def create_feed(client, account, url: str, **extra) -> dict:
    response = client.post(
        "/api/v1/partners/feeds", headers=account.auth, json={"name": "Catalogue", "url": url, **extra}
    )
    assert response.status_code == 201, response.text
    return response.json()


def run_feed(client, account, feed_id: int, fetch_media: bool = False, timeout_s: float = 60) -> dict:
    """Start a run over the API and follow it until it ends; its final report."""
    started = client.post(
        f"/api/v1/partners/feeds/{feed_id}/runs", headers=account.auth, json={"fetch_media": fetch_media}
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]

    def finished():
        report = client.get(f"/api/v1/partners/feeds/{feed_id}/runs/{run_id}", headers=account.auth).json()
        return report if report["status"] in ("done", "failed") else None

    return wait_for(finished, timeout_s=timeout_s, interval_s=0.1, message=f"run {run_id} of feed {feed_id}")


def feed_items(client, account, feed_id: int) -> dict[str, dict]:
    """The feed's items by guid (every page)."""
    found: dict[str, dict] = {}
    page = 1
    while True:
        body = client.get(
            f"/api/v1/partners/feeds/{feed_id}/items", headers=account.auth, params={"page": page, "per_page": 200}
        ).json()
        found.update((i["guid"], i) for i in body["items"])
        if page * 200 >= body["total"]:
            return found
        page += 1
