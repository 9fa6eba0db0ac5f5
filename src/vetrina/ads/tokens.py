"""Served-ad tokens: what was decided (campaign, video, slot, viewer, price, when), signed into the tracking URLs.

Deciding writes nothing: the first tracked event of an ad proves the decision with this token, and only
then is it recorded. A token cannot be forged or altered, and expires."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from vetrina.errors import NotFound
from vetrina.i18n import _

TOKEN_TTL_S = 24 * 3600


@dataclass(frozen=True)
class Served:
    nonce: str
    campaign_id: int
    video_id: int
    slot: str
    viewer_key: str
    price_millis: int
    issued_at: int  # unix seconds
    territory: str  # where the viewer was ("" when unknown)
    address_tag: str = ""  # a keyed hash of the viewer's address (`traffic.address_tag`); "" in older tokens


def _mac(key: bytes, payload: bytes) -> str:
    own_key = hashlib.sha256(b"vetrina served-ad tokens|" + key).digest()  # not the media URLs' key itself
    return base64.urlsafe_b64encode(hmac.new(own_key, payload, hashlib.sha256).digest()[:12]).decode().rstrip("=")


def sign(
    key: bytes,
    campaign_id: int,
    video_id: int,
    slot: str,
    viewer_key: str,
    price_millis: int,
    now: float,
    territory: str = "",
    address_tag: str = "",
) -> str:
    fields = [
        secrets.token_hex(8),
        str(campaign_id),
        str(video_id),
        slot,
        viewer_key,
        str(price_millis),
        str(int(now)),
        territory,
        address_tag,
    ]
    payload = base64.urlsafe_b64encode("|".join(fields).encode()).decode().rstrip("=")
    return f"{payload}.{_mac(key, payload.encode())}"


def verify(key: bytes, token: str, now: float) -> Served:
    """The decision a token carries; NotFound for a forged, malformed or expired one."""
    payload, _dot, mac = token.partition(".")
    # Compared as bytes: compare_digest refuses str with non-ASCII characters (which a URL can carry).
    if not payload or len(token) > 400 or not hmac.compare_digest(mac.encode(), _mac(key, payload.encode()).encode()):
        raise NotFound(_("There is no such served ad."))
    try:
        fields = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode().split("|")
        # Tokens signed before served addresses were carried have eight fields.
        nonce, campaign, video, slot, viewer, price, issued, territory, address = (
            fields if len(fields) == 9 else [*fields, ""]
        )
        served = Served(nonce, int(campaign), int(video), slot, viewer, int(price), int(issued), territory, address)
    except ValueError:
        raise NotFound(_("There is no such served ad.")) from None
    if now - served.issued_at > TOKEN_TTL_S:
        raise NotFound(_("This served ad has expired."))
    return served
