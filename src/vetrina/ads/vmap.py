"""VMAP 1.0: a video's ad breaks (where ads go), each pointing at the VAST tag that fills it."""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, SubElement, tostring  # noqa: S405  (writing only)

VMAP_NAMESPACE = "http://www.iab.net/videosuite/vmap"


@dataclass(frozen=True)
class AdBreak:
    break_id: str
    offset_s: float | None  # None: the end of the video (post-roll); 0: the start (pre-roll)
    break_type: str  # linear | nonlinear
    vast_url: str
    tracking: list[tuple[str, str]] = field(default_factory=list)  # (breakStart | breakEnd | error, url)


def time_offset(seconds: float | None) -> str:
    if seconds is None:
        return "end"
    if seconds <= 0:
        return "start"
    whole = int(seconds)
    millis = round((seconds - whole) * 1000) % 1000
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}.{millis:03d}"


def write_vmap(breaks: list[AdBreak]) -> bytes:
    """A VMAP 1.0 document of `breaks`, in time order, each with an AdTagURI to a VAST 4 tag."""
    root = Element("vmap:VMAP", {"xmlns:vmap": VMAP_NAMESPACE, "version": "1.0"})
    for number, ad_break in enumerate(breaks, start=1):
        attributes = {
            "timeOffset": time_offset(ad_break.offset_s),
            "breakType": ad_break.break_type,
            "breakId": ad_break.break_id,
        }
        element = SubElement(root, "vmap:AdBreak", attributes)
        source = SubElement(
            element, "vmap:AdSource", {"id": str(number), "allowMultipleAds": "false", "followRedirects": "true"}
        )
        # VMAP 1.0 predates VAST 4 and names nothing newer than "vast3"; players read the tag's own version.
        tag = SubElement(source, "vmap:AdTagURI", {"templateType": "vast3"})
        tag.text = ad_break.vast_url
        if ad_break.tracking:
            events = SubElement(element, "vmap:TrackingEvents")
            for event, url in ad_break.tracking:
                tracking = SubElement(events, "vmap:Tracking", {"event": event})
                tracking.text = url
    xml: bytes = tostring(root, encoding="utf-8")  # typeshed: Any for a named encoding
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + xml
