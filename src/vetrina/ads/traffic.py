"""Invalid ad traffic: who a viewer is when no cookie says so, how often one may ask for ads, and which tracking
beacons are charged.

A viewer is the signed-in user, else the first-party viewer cookie, else (no cookie, or cookies refused) a keyed
hash of the client address and User-Agent: repeated cookieless requests are one viewer, so frequency caps apply.
The cookie set on the first answer carries that same hash, so a viewer keeps one identity with or without it.

Ad requests count against per-viewer ("ads") and per-address ("ads_address") rate limits, and are refused (429)
over them. A beacon is recorded once per served ad and event (`AdEvent`), but charged only when none of these
holds, and otherwise recorded with the reason (reported to the advertiser):
- bot: its User-Agent names a crawler, a script or a headless browser (or is empty);
- other_viewer: it comes neither from the viewer the ad was served to nor from the address it was served to
  (either suffices: a signed-in viewer's click may leave a third-party frame without its cookies, and a phone
  may change address between the ad and its beacon);
- late: more than `CHARGE_WINDOW_S` after the ad was served (tokens themselves are refused after a day);
- burst: an impression or click beacon (repeats included) over the same per-viewer or per-address limits.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from vetrina.ads.tokens import Served
from vetrina.errors import TooManyRequests
from vetrina.ratelimit import RateLimits

CHARGE_WINDOW_S = 3600  # an ad's impression and click are charged within an hour of serving it
# A beacon of these kinds counts against the burst limits (the others are not charged and come many to an ad).
COUNTED_EVENTS = frozenset({"impression", "click"})
# Crawlers, HTTP libraries and headless browsers; browsers never say these.
BOT_AGENT = re.compile(
    r"bot|crawl|spider|slurp|headless|phantomjs|python-requests|python-urllib|python-httpx|aiohttp|curl/|wget"
    r"|go-http-client|java/|okhttp|libwww-perl|scrapy|httpclient",
    re.IGNORECASE,
)


class Filtered(enum.StrEnum):
    bot = "bot"
    burst = "burst"
    other_viewer = "other_viewer"
    late = "late"


def _keyed(signing_key: bytes, purpose: str, value: str) -> str:
    own_key = hashlib.sha256(f"vetrina ad viewers|{purpose}|".encode() + signing_key).digest()
    return hmac.new(own_key, value.encode(), hashlib.sha256).hexdigest()


def address_tag(signing_key: bytes, address: str) -> str:
    """A client address as tokens carry it: comparable, but not readable from a token."""
    return _keyed(signing_key, "address", address)[:16]


def cookie_viewer_key(cookie: str) -> str:
    """The frequency-cap key of a viewer cookie's value."""
    return f"anon:{hashlib.sha256(cookie.encode()).hexdigest()[:32]}"


def viewer_identity(
    signing_key: bytes, user_id: int | None, cookie: str | None, address: str, user_agent: str
) -> tuple[str, str | None]:
    """(the viewer's key, a viewer cookie to set or None): the user, else a well-formed cookie, else the keyed hash
    of address and agent (also the cookie's value to set, so the key stays the same with the cookie)."""
    if user_id is not None:
        return f"user:{user_id}", None
    if cookie and len(cookie) <= 64 and cookie.isalnum():
        return cookie_viewer_key(cookie), None
    minted = _keyed(signing_key, "viewer", f"{address}|{user_agent}")[:32]
    return cookie_viewer_key(minted), minted


def is_bot(user_agent: str) -> bool:
    return not user_agent.strip() or BOT_AGENT.search(user_agent) is not None


def limit_ad_requests(limits: RateLimits, viewer_key: str, address: str) -> None:
    """Count an ad request by this viewer and from this address; TooManyRequests (429) over either limit."""
    limits.hit("ads", "viewer", viewer_key)
    limits.hit("ads_address", "address", address)


@dataclass(frozen=True)
class Sender:
    """Who sent a beacon: its viewer key (as ad requests get theirs), its address's tag and its User-Agent."""

    viewer_key: str
    address: str
    address_tag: str
    user_agent: str


@dataclass(frozen=True)
class Screen:
    """Judges the beacons of one request: why one is not charged (a `Filtered` reason), or None."""

    limits: RateLimits
    sender: Sender

    def __call__(self, served: Served, event: str, now: datetime) -> Filtered | None:
        if is_bot(self.sender.user_agent):
            return Filtered.bot
        same_viewer = hmac.compare_digest(self.sender.viewer_key.encode(), served.viewer_key.encode())
        same_address = bool(served.address_tag) and hmac.compare_digest(
            self.sender.address_tag.encode(), served.address_tag.encode()
        )
        if not (same_viewer or same_address):
            return Filtered.other_viewer
        if now.timestamp() - served.issued_at > CHARGE_WINDOW_S:
            return Filtered.late
        if event in COUNTED_EVENTS:
            try:
                self.limits.hit("ads", "beacon-viewer", self.sender.viewer_key)
                self.limits.hit("ads_address", "beacon-address", self.sender.address)
            except TooManyRequests:
                return Filtered.burst
        return None
