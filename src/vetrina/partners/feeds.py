"""Reading partner feeds as streams of entries: Media RSS 1.5 and CSV, in bounded memory.

Both readers yield, in feed order, either an `Entry` or an `ItemError` (an item that cannot be imported,
with the reason); a feed that cannot be read at all raises `FeedError`. XML is read without DTDs,
entities or network access, and each item is dropped from memory once read.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from vetrina.geo import is_territory
from vetrina.i18n import _, said_by
from vetrina.partners.subtitles import subtitle_links

MAX_FIELD = 20_000  # characters kept of any one text
CSV_COLUMNS = (
    "guid",
    "title",
    "description",
    "media_url",
    "media_type",
    "thumbnail_url",
    "categories",
    "keywords",
    "rating",
    "restriction",
    "countries",
    "price",
    "currency",
    "price_type",
    "license",
)
CSV_REQUIRED = ("guid", "title", "media_url")
PLAYABLE_TYPES = ("video/", "application/octet-stream")


class FeedError(ValueError):
    """The feed as a whole cannot be read (not XML or CSV, not well-formed, no items where expected)."""


@dataclass(frozen=True)
class ItemError:
    position: int
    guid: str | None
    reason: str


@dataclass
class Entry:
    """One title as its feed describes it."""

    position: int  # 1-based, in feed order
    guid: str
    title: str
    description: str
    media_url: str
    media_type: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # thumbnail, categories, keywords, rating, ...

    def fingerprint(self) -> str:
        imported = [self.guid, self.title, self.description, self.media_url, self.media_type, self.details]
        return hashlib.sha256(json.dumps(imported, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def sniff(path: Path) -> str:
    """ "mrss" when the file starts (after a BOM and blanks) with `<`, else "csv"."""
    with path.open("rb") as file:
        head = file.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "mrss" if head.startswith(b"<") else "csv"


def read(path: Path, fmt: str) -> Iterator[Entry | ItemError]:
    return (read_mrss if (sniff(path) if fmt == "auto" else fmt) == "mrss" else read_csv)(path)


def count(path: Path, fmt: str) -> int:
    """The number of items, reading the whole feed once (which also proves it readable before any change)."""
    if (sniff(path) if fmt == "auto" else fmt) == "csv":
        return sum(1 for _ in read_csv(path))
    return sum(1 for _ in _items(path))


# Media RSS ---------------------------------------------------------------------------------------


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _is_media(element: Any) -> bool:
    # Feeds in the wild write the namespace with and without its trailing slash.
    return isinstance(element.tag, str) and "search.yahoo.com/mrss" in element.tag


def _text(element: Any) -> str:
    return " ".join("".join(element.itertext()).split())[:MAX_FIELD] if element is not None else ""


def _first(parents: list[Any], name: str, media: bool = True) -> Any:
    """The first `name` child in the most specific of `parents` (MRSS: content over group over item)."""
    for parent in parents:
        for child in parent:
            if _local(child.tag) == name and _is_media(child) == media:
                return child
    return None


def _all(parents: list[Any], name: str) -> list[Any]:
    for parent in parents:
        found = [c for c in parent if _local(c.tag) == name and _is_media(c)]
        if found:
            return found
    return []


def _pick_content(contents: list[Any]) -> Any:
    """The rendition to fetch: the default one, else the largest playable file."""

    def playable(c: Any) -> bool:
        kind = (c.get("type") or "").lower()
        return (
            c.get("medium") in (None, "video")
            and not kind.endswith("mpegurl")
            and (not kind or kind.startswith(PLAYABLE_TYPES))
        )

    candidates = [c for c in contents if c.get("url") and playable(c)]
    defaults = [c for c in candidates if (c.get("isDefault") or "").lower() == "true"]
    if defaults:
        return defaults[0]

    def size(c: Any) -> tuple[int, int]:
        def number(name: str) -> int:
            value = c.get(name) or ""
            return int(value) if value.isdigit() else 0

        return number("height"), number("bitrate")

    return max(candidates, key=size, default=None)


def _restriction(parents: list[Any]) -> dict[str, Any] | None:
    element = _first(parents, "restriction")
    if element is None or (element.get("type") or "country").lower() != "country":
        return None
    relationship = (element.get("relationship") or "allow").lower()
    words = _text(element).upper().split()
    if relationship not in ("allow", "deny"):
        raise ValueError(
            _("media:restriction relationship {relationship} is not allow or deny", relationship=repr(relationship))
        )
    if words in (["ALL"], ["NONE"]):
        return {"relationship": relationship, "countries": words[0].lower()}
    bad = [w for w in words if not is_territory(w)]
    if bad:
        raise ValueError(_("media:restriction names unknown countries: {countries}", countries=" ".join(bad[:10])))
    return {"relationship": relationship, "countries": sorted(set(words))}


def _entry(item: Any, position: int) -> Entry | ItemError:
    guid = _text(_first([item], "guid", media=False)) or _text(_first([item], "link", media=False))
    try:
        groups = _all([item], "group")
        contents = [c for g in groups for c in g if _local(c.tag) == "content" and _is_media(c)]
        contents += [c for c in item if _local(c.tag) == "content" and _is_media(c)]
        content = _pick_content(contents)
        if content is None:
            return ItemError(position, guid or None, _("no playable media:content (a video file with a url)"))
        parents = [content, *groups, item]  # the most specific first
        guid = guid or content.get("url")
        if len(guid) > 500:
            return ItemError(position, guid[:80], _("the guid is longer than 500 characters"))
        title = _text(_first(parents, "title")) or _text(_first([item], "title", media=False))
        if not title:
            return ItemError(position, guid, _("no title (media:title or title)"))
        description = _text(_first(parents, "description")) or _text(_first([item], "description", media=False))
        thumbnail = _first(parents, "thumbnail")
        price = _first(parents, "price")
        licence = _first(parents, "license")
        rating = _first(parents, "rating")
        details = {
            "thumbnail_url": thumbnail.get("url") if thumbnail is not None else None,
            "categories": [_text(c) for c in _all(parents, "category") if _text(c)][:50],
            "keywords": [k.strip() for k in _text(_first(parents, "keywords")).split(",") if k.strip()][:100],
            "rating": {"scheme": rating.get("scheme", "urn:simple"), "value": _text(rating)}
            if rating is not None
            else None,
            "restriction": _restriction(parents),
            "price": {"type": price.get("type"), "price": price.get("price"), "currency": price.get("currency")}
            if price is not None
            else None,
            "license": {"text": _text(licence), "href": licence.get("href")} if licence is not None else None,
            "duration_s": float(content.get("duration"))
            if (content.get("duration") or "").replace(".", "", 1).isdigit()
            else None,
        }
        if subtitled := subtitle_links(_all(parents, "subTitle")):  # only when some: others' fingerprints stay
            details["subtitles"] = subtitled
    except ValueError as exc:
        return ItemError(position, guid or None, said_by(exc))
    return Entry(position, guid, title[:200], description, content.get("url"), content.get("type"), details)


def _items(path: Path) -> Iterator[Any]:
    """The `<item>` elements of an RSS document, each cleared (and dropped) once the caller has it."""
    parser_options = {
        "resolve_entities": False,
        "no_network": True,
        "load_dtd": False,
        "huge_tree": False,
        "remove_comments": True,
    }
    try:
        events = etree.iterparse(str(path), events=("start", "end"), **parser_options)
        event, root = next(events)
        if _local(root.tag) != "rss":  # Atom's <feed> has no <item>s: read as empty, all would go
            raise FeedError(_("The document is <{root}>, not an RSS feed.", root=_local(root.tag)))
        if root.getroottree().docinfo.internalDTD is not None:
            raise FeedError(_("Feeds with a DTD are not read (entities could expand without bound)."))
        for event, element in events:
            if event != "end" or element.tag != "item":
                continue
            yield element
            element.clear(keep_tail=False)
            parent = element.getparent()
            while parent is not None and element.getprevious() is not None:  # what was read stays read
                del parent[0]
    except StopIteration:
        raise FeedError(_("The feed is empty.")) from None
    except etree.XMLSyntaxError as exc:
        raise FeedError(
            _("The feed is not well-formed XML (line {line}): {error}", line=exc.lineno, error=exc.msg)
        ) from None


def read_mrss(path: Path) -> Iterator[Entry | ItemError]:
    """The `<item>`s of an RSS 2.0 feed with Media RSS elements."""
    for position, item in enumerate(_items(path), 1):
        yield _entry(item, position)


# CSV ---------------------------------------------------------------------------------------------


def read_csv(path: Path) -> Iterator[Entry | ItemError]:
    """Rows of a CSV feed with a header row naming some of `CSV_COLUMNS` (guid, title and media_url at least)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.DictReader(file)
            header = [h.strip().lower() for h in reader.fieldnames or []]
            missing = [c for c in CSV_REQUIRED if c not in header]
            if missing:
                raise FeedError(
                    _(
                        "The CSV header lacks {missing} (columns: {columns}).",
                        missing=", ".join(missing),
                        columns=", ".join(CSV_COLUMNS),
                    )
                )
            reader.fieldnames = header
            for position, row in enumerate(reader, 1):
                yield _csv_entry(row, position)
    except UnicodeDecodeError:
        raise FeedError(_("The CSV feed is not UTF-8 text.")) from None
    except csv.Error as exc:
        raise FeedError(_("The CSV feed cannot be read: {error}", error=str(exc))) from None


def _csv_entry(row: dict[str, Any], position: int) -> Entry | ItemError:
    def get(name: str) -> str:
        value = row.get(name)
        return value.strip()[:MAX_FIELD] if isinstance(value, str) else ""

    guid = get("guid")
    if not guid or len(guid) > 500:
        return ItemError(position, guid[:80] or None, _("no guid, or one longer than 500 characters"))
    if None in row:
        return ItemError(position, guid, _("more fields than the header has columns"))
    if not get("title") or not get("media_url"):
        return ItemError(position, guid, _("no title or no media_url"))
    restriction = None
    if get("restriction"):
        relationship = get("restriction").lower()
        countries = sorted(set(get("countries").upper().split()))
        if relationship not in ("allow", "deny") or not countries or not all(map(is_territory, countries)):
            return ItemError(position, guid, _("restriction is allow or deny, with ISO country codes in countries"))
        restriction = {"relationship": relationship, "countries": countries}
    details = {
        "thumbnail_url": get("thumbnail_url") or None,
        "categories": [c.strip() for c in get("categories").split("|") if c.strip()][:50],
        "keywords": [k.strip() for k in get("keywords").split(",") if k.strip()][:100],
        "rating": {"scheme": "urn:simple", "value": get("rating")} if get("rating") else None,
        "restriction": restriction,
        "price": {"type": get("price_type") or None, "price": get("price"), "currency": get("currency") or None}
        if get("price")
        else None,
        "license": {"text": get("license"), "href": None} if get("license") else None,
        "duration_s": None,
    }
    return Entry(
        position, guid, get("title")[:200], get("description"), get("media_url"), get("media_type") or None, details
    )
