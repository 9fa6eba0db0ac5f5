"""VAST, both ways: one model of an ad response, a strict writer and a lenient reader.

The writer emits VAST 4.2 in the IAB namespace with the schema's element order (tests validate it
against vast_4.2.xsd). The reader takes what third-party servers send in the wild: any VAST version,
with or without a namespace, elements in any order; it uses defusedxml, so a document with a DTD or
entities is refused rather than expanded. Reading what the writer wrote gives back the same model.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, SubElement, tostring  # noqa: S405  (writing only; reading is defused)

from defusedxml import ElementTree as SafeTree
from defusedxml.common import DefusedXmlException

VAST_NAMESPACE = "http://www.iab.com/VAST"
VERSION = "4.2"
WEB_SCHEMES = frozenset({"http", "https"})
RESOURCE_ORDER = ("html", "iframe", "static")
# Browsers drop tabs and newlines inside a URL ("java\tscript:" runs as "javascript:"): no control character passes.
_NOT_IN_URL = re.compile(r"[\x00-\x1f\x7f]")
log = logging.getLogger(__name__)


class VastError(ValueError):
    """A document that is not VAST (or not safe to read); `code` is the VAST error code to report."""

    def __init__(self, message: str, code: int = 100) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Tracking:
    event: str
    url: str
    offset: str | None = None


@dataclass
class MediaFile:
    url: str
    type: str
    width: int
    height: int
    delivery: str = "progressive"
    bitrate: int | None = None
    codec: str | None = None
    id: str | None = None


@dataclass
class Linear:
    duration_s: float
    media_files: list[MediaFile] = field(default_factory=list)
    tracking: list[Tracking] = field(default_factory=list)
    click_through: str | None = None
    click_tracking: list[str] = field(default_factory=list)
    skip_offset_s: float | None = None


@dataclass
class Resource:
    """What a non-linear or companion ad shows: an image (static), an iframe or HTML."""

    kind: str  # static | iframe | html
    content: str
    creative_type: str | None = None  # the MIME type of a static resource


@dataclass
class NonLinear:
    width: int
    height: int
    resources: list[Resource] = field(default_factory=list)
    click_through: str | None = None
    click_tracking: list[str] = field(default_factory=list)
    min_suggested_duration_s: float | None = None
    id: str | None = None
    api_framework: str | None = None  # "SIMID": its IFrameResource is an interactive creative speaking that protocol


@dataclass
class Companion:
    width: int
    height: int
    resources: list[Resource] = field(default_factory=list)
    click_through: str | None = None
    click_tracking: list[str] = field(default_factory=list)
    tracking: list[Tracking] = field(default_factory=list)
    id: str | None = None


@dataclass
class Creative:
    id: str | None = None
    sequence: int | None = None
    ad_id: str | None = None
    universal_ad_ids: list[tuple[str, str]] = field(default_factory=list)  # (registry, value)
    linear: Linear | None = None
    non_linears: list[NonLinear] = field(default_factory=list)
    non_linear_tracking: list[Tracking] = field(default_factory=list)
    companions: list[Companion] = field(default_factory=list)


@dataclass
class Pricing:
    model: str
    currency: str
    value: str


@dataclass
class Ad:
    """An InLine ad, or a Wrapper when `wrapper_url` (VASTAdTagURI) is set."""

    id: str | None = None
    sequence: int | None = None
    ad_system: str = "Vetrina"
    ad_system_version: str | None = None
    ad_title: str = ""
    ad_serving_id: str = ""
    advertiser: str | None = None
    description: str | None = None
    impressions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    pricing: Pricing | None = None
    creatives: list[Creative] = field(default_factory=list)
    wrapper_url: str | None = None


@dataclass
class Vast:
    ads: list[Ad] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # for a response with no ad
    version: str = VERSION


def is_web_url(url: str) -> bool:
    """An absolute http(s) URL: the only kind a player is given to fetch or open (never javascript:, data:...)."""
    if _NOT_IN_URL.search(url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in WEB_SCHEMES and bool(parts.netloc)


def web_urls_only(ad: Ad) -> tuple[Ad, list[str]]:
    """The ad without the URLs a player must not fetch or open (see `is_web_url`), and the URLs dropped. The
    wrapper's VASTAdTagURI is left to the fetcher, which follows http(s) alone; HTML resources are not URLs."""
    dropped: list[str] = []

    def keep(url: str) -> bool:
        if is_web_url(url):
            return True
        dropped.append(url)
        return False

    def urls(found: list[str]) -> list[str]:
        return [url for url in found if keep(url)]

    def click(url: str | None) -> str | None:
        return url if url is None or keep(url) else None

    def events(found: list[Tracking]) -> list[Tracking]:
        return [t for t in found if keep(t.url)]

    def shown(found: list[Resource]) -> list[Resource]:
        return [r for r in found if r.kind == "html" or keep(r.content)]

    creatives = []
    for creative in ad.creatives:
        linear = creative.linear
        if linear is not None:
            linear = dataclasses.replace(
                linear,
                media_files=[m for m in linear.media_files if keep(m.url)],
                tracking=events(linear.tracking),
                click_through=click(linear.click_through),
                click_tracking=urls(linear.click_tracking),
            )
        non_linears = [
            dataclasses.replace(
                n,
                resources=shown(n.resources),
                click_through=click(n.click_through),
                click_tracking=urls(n.click_tracking),
            )
            for n in creative.non_linears
        ]
        companions = [
            dataclasses.replace(
                c,
                resources=shown(c.resources),
                click_through=click(c.click_through),
                click_tracking=urls(c.click_tracking),
                tracking=events(c.tracking),
            )
            for c in creative.companions
        ]
        creatives.append(
            dataclasses.replace(
                creative,
                linear=linear,
                non_linears=non_linears,
                non_linear_tracking=events(creative.non_linear_tracking),
                companions=companions,
            )
        )
    clean = dataclasses.replace(ad, impressions=urls(ad.impressions), errors=urls(ad.errors), creatives=creatives)
    return clean, dropped


# Writing ----------------------------------------------------------------------------------------


def _clock(seconds: float) -> str:
    whole = int(seconds)
    millis = round((seconds - whole) * 1000)
    if millis == 1000:
        whole, millis = whole + 1, 0
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}.{millis:03d}"


def _text(parent: Element, tag: str, value: str, **attributes: str | None) -> Element:
    element = SubElement(parent, tag, {k: v for k, v in attributes.items() if v is not None})
    element.text = value
    return element


def _tracking(parent: Element, events: list[Tracking]) -> None:
    if events:
        box = SubElement(parent, "TrackingEvents")
        for event in events:
            _text(box, "Tracking", event.url, event=event.event, offset=event.offset)


def _resources(parent: Element, resources: list[Resource]) -> None:
    # The schema's sequence: HTML, then IFrame, then static resources.
    for resource in sorted(resources, key=lambda r: RESOURCE_ORDER.index(r.kind)):
        if resource.kind == "static":
            _text(parent, "StaticResource", resource.content, creativeType=resource.creative_type or "image/jpeg")
        elif resource.kind == "iframe":
            _text(parent, "IFrameResource", resource.content)
        else:
            _text(parent, "HTMLResource", resource.content)


def _linear(parent: Element, linear: Linear, inline: bool) -> None:
    skip = _clock(linear.skip_offset_s) if linear.skip_offset_s is not None else None
    element = SubElement(parent, "Linear", {"skipoffset": skip} if skip and inline else {})
    _tracking(element, linear.tracking)
    if inline:  # a wrapper's linear carries only tracking and clicks
        _text(element, "Duration", _clock(linear.duration_s))
        files = SubElement(element, "MediaFiles")
        for media in linear.media_files:
            attributes = {
                "delivery": media.delivery,
                "type": media.type,
                "width": str(media.width),
                "height": str(media.height),
                "bitrate": str(media.bitrate) if media.bitrate else None,
                "codec": media.codec,
                "id": media.id,
            }
            _text(files, "MediaFile", media.url, **attributes)
    if linear.click_through or linear.click_tracking:
        clicks = SubElement(element, "VideoClicks")
        for url in linear.click_tracking:
            _text(clicks, "ClickTracking", url)
        if linear.click_through and inline:
            _text(clicks, "ClickThrough", linear.click_through)


def _non_linear_ads(parent: Element, creative: Creative) -> None:
    element = SubElement(parent, "NonLinearAds")
    _tracking(element, creative.non_linear_tracking)
    for ad in creative.non_linears:
        attributes = {"width": str(ad.width), "height": str(ad.height), "id": ad.id}
        if ad.min_suggested_duration_s is not None:
            attributes["minSuggestedDuration"] = _clock(ad.min_suggested_duration_s)
        if ad.api_framework:
            attributes["apiFramework"] = ad.api_framework
        item = SubElement(element, "NonLinear", {k: v for k, v in attributes.items() if v is not None})
        _resources(item, ad.resources)
        if ad.click_through:
            _text(item, "NonLinearClickThrough", ad.click_through)
        for url in ad.click_tracking:
            _text(item, "NonLinearClickTracking", url)


def _companions(parent: Element, companions: list[Companion]) -> None:
    element = SubElement(parent, "CompanionAds")
    for ad in companions:
        attributes = {"width": str(ad.width), "height": str(ad.height), "id": ad.id}
        item = SubElement(element, "Companion", {k: v for k, v in attributes.items() if v is not None})
        _resources(item, ad.resources)
        if ad.click_through:
            _text(item, "CompanionClickThrough", ad.click_through)
        for url in ad.click_tracking:
            _text(item, "CompanionClickTracking", url)
        _tracking(item, ad.tracking)


def _creative(parent: Element, creative: Creative, inline: bool) -> None:
    attributes = {
        "id": creative.id,
        "adId": creative.ad_id,
        "sequence": str(creative.sequence) if creative.sequence is not None else None,
    }
    element = SubElement(parent, "Creative", {k: v for k, v in attributes.items() if v is not None})
    if creative.companions:
        _companions(element, creative.companions)
    if creative.linear is not None:
        _linear(element, creative.linear, inline)
    if creative.non_linears or creative.non_linear_tracking:
        _non_linear_ads(element, creative)
    if inline:  # required in 4.x InLine creatives, and last
        for registry, value in creative.universal_ad_ids or [("unknown", "unknown")]:
            _text(element, "UniversalAdId", value, idRegistry=registry)


def _ad(parent: Element, ad: Ad) -> None:
    attributes = {"id": ad.id, "sequence": str(ad.sequence) if ad.sequence is not None else None}
    element = SubElement(parent, "Ad", {k: v for k, v in attributes.items() if v is not None})
    inline = ad.wrapper_url is None
    body = SubElement(element, "InLine" if inline else "Wrapper")
    _text(body, "AdSystem", ad.ad_system, version=ad.ad_system_version)
    for url in ad.errors:
        _text(body, "Error", url)
    for url in ad.impressions:
        _text(body, "Impression", url)
    if ad.pricing is not None:
        _text(body, "Pricing", ad.pricing.value, model=ad.pricing.model, currency=ad.pricing.currency)
    if inline:
        _text(body, "AdServingId", ad.ad_serving_id or "unknown")
        _text(body, "AdTitle", ad.ad_title)
        if ad.advertiser:
            _text(body, "Advertiser", ad.advertiser)
    if ad.creatives:
        creatives = SubElement(body, "Creatives")
        for creative in ad.creatives:
            _creative(creatives, creative, inline)
    if inline and ad.description:
        _text(body, "Description", ad.description)
    if ad.wrapper_url is not None:
        _text(body, "VASTAdTagURI", ad.wrapper_url)


def write_vast(document: Vast) -> bytes:
    """The document as VAST 4.2 XML (UTF-8), with only http(s) URLs (any other is dropped and logged)."""
    root = Element("VAST", {"version": document.version, "xmlns": VAST_NAMESPACE})
    for url in document.errors if not document.ads else ():
        if is_web_url(url):
            _text(root, "Error", url)
        else:
            log.warning("VAST written without a non-http(s) Error URL: %.100r", url)
    for ad in document.ads:
        clean, dropped = web_urls_only(ad)
        if dropped:
            log.warning("VAST ad %s written without %d non-http(s) URLs: %.300r", ad.id, len(dropped), dropped)
        _ad(root, clean)
    xml: bytes = tostring(root, encoding="utf-8", xml_declaration=False)  # typeshed: Any for a named encoding
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + xml


# Reading ----------------------------------------------------------------------------------------


def _name(element: Element) -> str:
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""


def _children(element: Element | None, name: str) -> list[Element]:
    return [child for child in element if _name(child) == name] if element is not None else []


def _child(element: Element | None, name: str) -> Element | None:
    found = _children(element, name)
    return found[0] if found else None


def _value(element: Element | None) -> str:
    return "".join(element.itertext()).strip() if element is not None else ""


def _seconds(clock: str | None) -> float | None:
    if not clock or clock.count(":") != 2:
        return None
    try:
        hours, minutes, seconds = clock.strip().split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except ValueError:
        return None


def _read_tracking(element: Element | None) -> list[Tracking]:
    return [
        Tracking(event=t.get("event", ""), url=_value(t), offset=t.get("offset"))
        for t in _children(_child(element, "TrackingEvents"), "Tracking")
        if _value(t)
    ]


def _read_resources(element: Element) -> list[Resource]:
    kinds = {"StaticResource": "static", "IFrameResource": "iframe", "HTMLResource": "html"}
    return [Resource(kinds[_name(c)], _value(c), c.get("creativeType")) for c in element if _name(c) in kinds]


def _read_linear(element: Element) -> Linear:
    media = [
        MediaFile(
            url=_value(m),
            type=m.get("type", ""),
            width=_int(m.get("width")) or 0,
            height=_int(m.get("height")) or 0,
            delivery=m.get("delivery", "progressive"),
            bitrate=_int(m.get("bitrate")),
            codec=m.get("codec"),
            id=m.get("id"),
        )
        for m in _children(_child(element, "MediaFiles"), "MediaFile")
        if _value(m)
    ]
    clicks = _child(element, "VideoClicks")
    through = _value(_child(clicks, "ClickThrough")) or None
    return Linear(
        duration_s=_seconds(_value(_child(element, "Duration"))) or 0.0,
        media_files=media,
        tracking=_read_tracking(element),
        click_through=through,
        click_tracking=[_value(c) for c in _children(clicks, "ClickTracking") if _value(c)],
        skip_offset_s=_seconds(element.get("skipoffset")),
    )


def _read_creative(element: Element) -> Creative:
    creative = Creative(id=element.get("id"), sequence=_int(element.get("sequence")), ad_id=element.get("adId"))
    creative.universal_ad_ids = [(u.get("idRegistry", ""), _value(u)) for u in _children(element, "UniversalAdId")]
    linear = _child(element, "Linear")
    if linear is not None:
        creative.linear = _read_linear(linear)
    non_linear_ads = _child(element, "NonLinearAds")
    if non_linear_ads is not None:
        creative.non_linear_tracking = _read_tracking(non_linear_ads)
        for item in _children(non_linear_ads, "NonLinear"):
            creative.non_linears.append(
                NonLinear(
                    width=_int(item.get("width")) or 0,
                    height=_int(item.get("height")) or 0,
                    resources=_read_resources(item),
                    click_through=_value(_child(item, "NonLinearClickThrough")) or None,
                    click_tracking=[_value(c) for c in _children(item, "NonLinearClickTracking") if _value(c)],
                    min_suggested_duration_s=_seconds(item.get("minSuggestedDuration")),
                    id=item.get("id"),
                    api_framework=item.get("apiFramework"),
                )
            )
    for item in _children(_child(element, "CompanionAds"), "Companion"):
        creative.companions.append(
            Companion(
                width=_int(item.get("width")) or 0,
                height=_int(item.get("height")) or 0,
                resources=_read_resources(item),
                click_through=_value(_child(item, "CompanionClickThrough")) or None,
                click_tracking=[_value(c) for c in _children(item, "CompanionClickTracking") if _value(c)],
                tracking=_read_tracking(item),
                id=item.get("id"),
            )
        )
    return creative


def _read_ad(element: Element) -> Ad | None:
    body = _child(element, "InLine")
    wrapper = body is None
    if wrapper:
        body = _child(element, "Wrapper")
    if body is None:
        return None
    system = _child(body, "AdSystem")
    pricing = _child(body, "Pricing")
    return Ad(
        id=element.get("id"),
        sequence=_int(element.get("sequence")),
        ad_system=_value(system),
        ad_system_version=system.get("version") if system is not None else None,
        ad_title=_value(_child(body, "AdTitle")),
        ad_serving_id=_value(_child(body, "AdServingId")),
        advertiser=_value(_child(body, "Advertiser")) or None,
        description=_value(_child(body, "Description")) or None,
        impressions=[_value(i) for i in _children(body, "Impression") if _value(i)],
        errors=[_value(e) for e in _children(body, "Error") if _value(e)],
        pricing=Pricing(pricing.get("model", ""), pricing.get("currency", ""), _value(pricing))
        if pricing is not None
        else None,
        creatives=[_read_creative(c) for c in _children(_child(body, "Creatives"), "Creative")],
        wrapper_url=_value(_child(body, "VASTAdTagURI")) if wrapper else None,
    )


def read_vast(data: bytes | str) -> Vast:
    """Any VAST document, leniently: namespace and element order do not matter; DTDs and entities are refused."""
    try:
        root = SafeTree.fromstring(data, forbid_dtd=True)
    except DefusedXmlException:
        raise VastError("The document declares a DTD or entities, which are not allowed.", code=100) from None
    except SafeTree.ParseError as exc:
        raise VastError(f"The document is not well-formed XML ({exc}).", code=100) from None
    if _name(root) != "VAST":
        raise VastError(f"The document is {_name(root) or 'not'} XML, not VAST.", code=101)
    ads = [ad for ad in (_read_ad(e) for e in _children(root, "Ad")) if ad is not None]
    return Vast(
        ads=ads, errors=[_value(e) for e in _children(root, "Error") if _value(e)], version=root.get("version", "")
    )
