"""Third-party VAST: fetching tags safely and resolving wrapper chains into one InLine ad.

Every request (redirects included) goes only to public http(s) addresses unless the operator allows
private ones (`VETRINA_FETCH_ALLOW_PRIVATE`), within a time limit and a size limit; the document is read
with the defused, lenient reader. A chain is followed to its InLine ad at most `MAX_DEPTH` wrappers deep,
and a tag met twice is a loop. The wrappers' impressions, errors, tracking and click tracking are kept,
so everyone in the chain is told what the player did. Only http(s) URLs of a fetched document are kept.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from vetrina import netguard
from vetrina.ads.vast import Ad, Creative, Linear, Vast, VastError, is_web_url, read_vast, web_urls_only

MAX_DEPTH = 5
MAX_BYTES = 1024 * 1024
TIMEOUT_S = 3.0
log = logging.getLogger(__name__)
# VAST error codes
WRAPPER_TIMEOUT, WRAPPER_LIMIT, NO_ADS_AFTER_WRAPPER, XML_ERROR = 301, 302, 303, 100


@dataclass
class Resolution:
    ad: Ad | None  # the InLine ad with every wrapper's tracking added; None when the chain failed
    error_code: int | None = None
    error_urls: list[str] = dataclasses.field(default_factory=list)  # to tell the chain about a failure


def fetch(url: str, allow_private: bool, timeout_s: float = TIMEOUT_S, max_bytes: int = MAX_BYTES) -> bytes:
    """The tag at `url`; VastError (code 301) on timeouts, refused addresses, big or failed answers."""
    body = bytearray()
    try:
        netguard.fetch(
            url,
            allow_private,
            sink=body.extend,
            max_bytes=max_bytes,
            timeout_s=timeout_s,
            accept_header="application/xml, text/xml",
        )
    except netguard.FetchError as exc:
        raise VastError(f"The tag could not be used: {exc.reason}", WRAPPER_TIMEOUT) from None
    return bytes(body)


def read_third_party(data: bytes, url: str) -> Vast:
    """A third-party document, read leniently, without the URLs a player must not fetch or open (javascript:,
    data:, vbscript:...): those are dropped and logged with the tag they came from."""
    document = read_vast(data)
    ads, dropped = [], [u for u in document.errors if not is_web_url(u)]
    for ad in document.ads:
        clean, dropped_here = web_urls_only(ad)
        ads.append(clean)
        dropped += dropped_here
    if dropped:
        log.warning("third-party VAST %.200s: %d non-http(s) URLs dropped: %.300r", url, len(dropped), dropped)
    return dataclasses.replace(document, ads=ads, errors=[u for u in document.errors if is_web_url(u)])


def _merge(inline: Ad, wrappers: list[Ad]) -> Ad:
    """The InLine ad with the wrappers' tracking added (theirs first: the outermost wrapper is ours)."""
    impressions = [url for w in wrappers for url in w.impressions] + inline.impressions
    errors = [url for w in wrappers for url in w.errors] + inline.errors
    extra_tracking = [t for w in wrappers for c in w.creatives if c.linear for t in c.linear.tracking]
    extra_clicks = [u for w in wrappers for c in w.creatives if c.linear for u in c.linear.click_tracking]
    creatives = []
    for creative in inline.creatives:
        if creative.linear is not None:
            linear = dataclasses.replace(
                creative.linear,
                tracking=extra_tracking + creative.linear.tracking,
                click_tracking=extra_clicks + creative.linear.click_tracking,
            )
            creative = dataclasses.replace(creative, linear=linear)
        creatives.append(creative)
    return dataclasses.replace(inline, impressions=impressions, errors=errors, creatives=creatives)


def resolve(first: Ad, allow_private: bool, timeout_s: float = TIMEOUT_S) -> Resolution:
    """Follow `first` (a Wrapper) to its InLine ad."""
    chain: list[Ad] = [first]
    seen: set[str] = set()
    url = first.wrapper_url
    if url is None:
        raise ValueError("resolve() follows a Wrapper; this ad is InLine")
    for _ in range(MAX_DEPTH):
        errors = [e for ad in chain for e in ad.errors]
        if url in seen:
            return Resolution(None, WRAPPER_LIMIT, errors)
        seen.add(url)
        try:
            document = read_third_party(fetch(url, allow_private, timeout_s), url)
        except VastError as exc:
            return Resolution(None, exc.code if exc.code != 101 else XML_ERROR, errors)
        if not document.ads:
            return Resolution(None, NO_ADS_AFTER_WRAPPER, errors + document.errors)
        ad = document.ads[0]
        if ad.wrapper_url is None:
            return Resolution(_merge(ad, chain))
        chain.append(ad)
        url = ad.wrapper_url
    return Resolution(None, WRAPPER_LIMIT, [e for ad in chain for e in ad.errors])


def wrapper_for(url: str) -> Ad:
    """A bare Wrapper pointing at `url` (our tracking is added by the caller)."""
    return Ad(wrapper_url=url, creatives=[Creative(linear=Linear(0.0))])
