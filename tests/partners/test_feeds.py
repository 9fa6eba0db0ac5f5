"""Reading partner feeds: Media RSS 1.5 (renditions, the element hierarchy, both namespace spellings) and CSV;
broken items reported with the reason while the rest read; malformed and hostile documents refused whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.partners.helpers import MRSS, catalogue, catalogue_of, item, mrss, title_item
from vetrina.partners import feeds
from vetrina.partners.feeds import Entry, FeedError, ItemError

RICH_ITEM = """<item>
  <guid isPermaLink="false">film-1</guid>
  <title>RSS title</title>
  <description>RSS description</description>
  <media:title>Item title</media:title>
  <media:description>Item   description,
     spread over lines</media:description>
  <media:keywords>item, words</media:keywords>
  <media:rating scheme="urn:mpaa">pg</media:rating>
  <media:restriction relationship="allow" type="country">fr de FR</media:restriction>
  <media:price type="rent" price="3.99" currency="EUR"/>
  <media:license type="text/html" href="https://creativecommons.org/licenses/by/4.0/">CC BY 4.0</media:license>
  <media:group>
    <media:title>Group title</media:title>
    <media:category scheme="urn:partner:genre">Drama</media:category>
    <media:category>Romance</media:category>
    <media:thumbnail url="https://cdn.partner.example/film-1.jpg" width="1280" height="720"/>
    <media:content url="https://cdn.partner.example/film-1/master.m3u8" type="application/x-mpegURL" height="2160"/>
    <media:content url="https://cdn.partner.example/film-1/hls.m3u8" type="application/vnd.apple.mpegurl"
                   height="1440"/>
    <media:content url="https://cdn.partner.example/film-1/360.mp4" type="video/mp4" height="360" bitrate="800"/>
    <media:content url="https://cdn.partner.example/film-1/720.mp4" type="video/mp4" height="720" bitrate="2500"
                   duration="12.5" medium="video">
      <media:title>Content title</media:title>
      <media:keywords>content, level ,</media:keywords>
    </media:content>
    <media:content url="https://cdn.partner.example/film-1/720-low.mp4" type="video/mp4" height="720" bitrate="1200"/>
    <media:content url="https://cdn.partner.example/film-1/poster.jpg" type="image/jpeg" medium="image" height="4000"/>
  </media:group>
</item>"""

# The same namespace spelled without its trailing slash (as many feeds in the wild do), under another prefix.
DEFAULT_RENDITION_ITEM = """<item>
  <guid>film-2</guid>
  <title>Plain RSS title</title>
  <description>Plain RSS description</description>
  <m:content url="https://cdn.partner.example/film-2/1080.mp4" type="video/mp4" height="1080"/>
  <m:content url="https://cdn.partner.example/film-2/480.mp4" type="video/mp4" height="480" isDefault="true"/>
  <m:restriction relationship="deny" type="country">all</m:restriction>
  <m:thumbnail url="https://cdn.partner.example/film-2.jpg"/>
</item>"""

LINK_ITEM = """<item>
  <link>https://partner.example/films/3</link>
  <media:title>Linked</media:title>
  <media:content url="https://cdn.partner.example/film-3.mp4"/>
  <media:restriction relationship="allow">none</media:restriction>
  <media:restriction type="sharing" relationship="deny" />
</item>"""


def write(tmp_path: Path, data: bytes, name: str = "feed") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read_all(path: Path, fmt: str = "auto") -> list[Entry | ItemError]:
    return list(feeds.read(path, fmt))


def test_mrss_picks_the_rendition_and_the_most_specific_values(tmp_path):
    namespaces = f'xmlns:media="{MRSS}" xmlns:m="{MRSS.rstrip("/")}"'
    path = write(tmp_path, mrss(RICH_ITEM, DEFAULT_RENDITION_ITEM, LINK_ITEM, namespaces=namespaces))
    first, second, third = read_all(path)

    assert first == Entry(
        position=1,
        guid="film-1",
        title="Content title",
        description="Item description, spread over lines",
        media_url="https://cdn.partner.example/film-1/720.mp4",
        media_type="video/mp4",
        details={
            "thumbnail_url": "https://cdn.partner.example/film-1.jpg",
            "categories": ["Drama", "Romance"],
            "keywords": ["content", "level"],
            "rating": {"scheme": "urn:mpaa", "value": "pg"},
            "restriction": {"relationship": "allow", "countries": ["DE", "FR"]},
            "price": {"type": "rent", "price": "3.99", "currency": "EUR"},
            "license": {"text": "CC BY 4.0", "href": "https://creativecommons.org/licenses/by/4.0/"},
            "duration_s": 12.5,
        },
    )
    assert (second.guid, second.title, second.description) == ("film-2", "Plain RSS title", "Plain RSS description")
    assert second.media_url == "https://cdn.partner.example/film-2/480.mp4"  # isDefault beats the larger one
    assert second.details["restriction"] == {"relationship": "deny", "countries": "all"}
    assert second.details["thumbnail_url"] == "https://cdn.partner.example/film-2.jpg"
    assert second.details["rating"] is None and second.details["categories"] == []
    assert (third.position, third.guid, third.title) == (3, "https://partner.example/films/3", "Linked")
    assert third.media_type is None and third.details["restriction"] == {"relationship": "allow", "countries": "none"}


def test_item_values_apply_when_the_group_and_content_are_silent(tmp_path):
    extra = (
        "<media:title>Item-level title</media:title><media:category>Docs</media:category><media:group>"
        '<media:content url="https://cdn.partner.example/g.mp4" type="video/mp4"/></media:group>'
    )
    [entry] = read_all(write(tmp_path, mrss(item("g", "RSS title", None, extra))))
    assert (entry.title, entry.media_url, entry.details["categories"]) == (
        "Item-level title",
        "https://cdn.partner.example/g.mp4",
        ["Docs"],
    )


def test_broken_items_are_reported_with_the_reason_and_the_rest_read(tmp_path):
    cdn = "https://cdn.partner.example"
    path = write(
        tmp_path,
        mrss(
            item("ok-1", "Fine", f"{cdn}/1.mp4"),
            item("hls-only", "Stream only", f"{cdn}/hls.m3u8", media_type="application/x-mpegURL"),
            item("untitled", None, f"{cdn}/2.mp4"),
            item("no-media", "Nothing to play", None),
            item(
                "bad-country",
                "Where?",
                f"{cdn}/3.mp4",
                '<media:restriction relationship="allow" type="country">CN QQ</media:restriction>',
            ),
            item(
                "bad-relation",
                "How?",
                f"{cdn}/4.mp4",
                '<media:restriction relationship="maybe" type="country">CN</media:restriction>',
            ),
            item("g" * 501, "Long guid", f"{cdn}/5.mp4"),
            item("ok-2", "Also fine", f"{cdn}/6.mp4"),
        ),
    )
    read = read_all(path)
    assert [(r.position, r.guid) for r in read if isinstance(r, Entry)] == [(1, "ok-1"), (8, "ok-2")]
    errors = {r.position: r for r in read if isinstance(r, ItemError)}
    assert sorted(errors) == [2, 3, 4, 5, 6, 7]
    assert errors[2].guid == "hls-only" and "no playable media:content" in errors[2].reason
    assert errors[3].guid == "untitled" and "no title" in errors[3].reason
    assert errors[4].guid == "no-media" and "no playable media:content" in errors[4].reason
    assert errors[5].reason == "media:restriction names unknown countries: QQ"
    assert "'maybe' is not allow or deny" in errors[6].reason
    assert errors[7].guid == "g" * 80 and "longer than 500" in errors[7].reason


def test_csv_reads_the_documented_columns(tmp_path):
    assert "media_url" in feeds.CSV_COLUMNS and set(feeds.CSV_REQUIRED) <= set(feeds.CSV_COLUMNS)
    header = ",".join(c.upper() if c == "guid" else c for c in feeds.CSV_COLUMNS)  # header names are not case-bound
    rows = [
        'c-1,"Title, with comma",A description,https://cdn.partner.example/c1.mp4,video/mp4,'
        'https://cdn.partner.example/c1.jpg,Drama|Comedy| ,"one, two",PG-13,allow,cn hk CN,4.99,EUR,rent,CC BY',
        "c-2,Second,,https://cdn.partner.example/c2.mp4,,,,,,,,,,,",
        "c-3,No media,,,,,,,,,,,,,",
        "c-4,Nowhere,,https://cdn.partner.example/c4.mp4,,,,,,allow,QQ,,,,",
        "c-5,Too many,,https://cdn.partner.example/c5.mp4,,,,,,,,,,,,extra",
        ",No guid,,https://cdn.partner.example/c6.mp4,,,,,,,,,,,",
        "c-7,Short row,,https://cdn.partner.example/c7.mp4",
    ]
    path = write(tmp_path, ("\ufeff" + header + "\r\n" + "\r\n".join(rows) + "\r\n").encode())
    assert feeds.sniff(path) == "csv"
    read = read_all(path)
    assert read[0] == Entry(
        position=1,
        guid="c-1",
        title="Title, with comma",
        description="A description",
        media_url="https://cdn.partner.example/c1.mp4",
        media_type="video/mp4",
        details={
            "thumbnail_url": "https://cdn.partner.example/c1.jpg",
            "categories": ["Drama", "Comedy"],
            "keywords": ["one", "two"],
            "rating": {"scheme": "urn:simple", "value": "PG-13"},
            "restriction": {"relationship": "allow", "countries": ["CN", "HK"]},
            "price": {"type": "rent", "price": "4.99", "currency": "EUR"},
            "license": {"text": "CC BY", "href": None},
            "duration_s": None,
        },
    )
    assert read[1] == Entry(2, "c-2", "Second", "", "https://cdn.partner.example/c2.mp4", None, read[1].details)
    assert read[1].details["restriction"] is None and read[1].details["price"] is None
    assert [(r.position, r.guid) for r in read[2:6]] == [(3, "c-3"), (4, "c-4"), (5, "c-5"), (6, None)]
    assert all(isinstance(r, ItemError) for r in read[2:6])
    assert "no title or no media_url" in read[2].reason and "ISO country codes" in read[3].reason
    assert "more fields" in read[4].reason and "no guid" in read[5].reason
    assert isinstance(read[6], Entry) and read[6].guid == "c-7"
    assert len(read) == 7 == feeds.count(path, "csv")


def test_the_same_title_has_the_same_fingerprint_wherever_it_sits(tmp_path):
    one = read_all(write(tmp_path, catalogue(3), "a"))
    shifted = read_all(
        write(
            tmp_path,
            mrss(item("new", "New", "https://cdn.partner.example/n.mp4"), *(title_item(n) for n in (1, 2, 3))),
            "b",
        )
    )
    assert [(e.position, e.guid) for e in shifted] == [(1, "new"), (2, "t-1"), (3, "t-2"), (4, "t-3")]
    assert [e.fingerprint() for e in one] == [e.fingerprint() for e in shifted[1:]]
    retitled = read_all(write(tmp_path, catalogue_of([1, 2, 3], titles={2: "Title two"}), "c"))
    assert [a.fingerprint() == b.fingerprint() for a, b in zip(one, retitled, strict=True)] == [True, False, True]


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<rss version="2.0"><channel><item><title>&lol4;</title></item></channel></rss>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><title>&secret;</title></item></channel></rss>"""


@pytest.mark.parametrize(
    ("data", "fmt", "message"),
    [
        (
            mrss(item("a", "A", "https://cdn.partner.example/a.mp4")).replace(b"</channel>", b""),
            "auto",
            "not well-formed XML",
        ),
        (b"<rss><channel><item><title>A & B</title></item></channel></rss>", "mrss", "not well-formed XML (line 1)"),
        (BOMB, "auto", "with a DTD are not read"),
        (EXTERNAL, "auto", "with a DTD are not read"),
        (b"<html><body><p>Not a feed</p></body></html>", "auto", "The document is <html>, not an RSS feed."),
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>A</title></entry></feed>',
            "auto",
            "The document is <feed>, not an RSS feed.",
        ),
        (b"", "mrss", "not well-formed XML"),
        (
            b"id,name,url\n1,A,https://cdn.partner.example/a.mp4\n",
            "auto",
            "The CSV header lacks guid, title, media_url (columns: guid, title, description, media_url, ",
        ),
        (b"", "csv", "The CSV header lacks guid"),
        (b"guid,title,media_url\n1,Caf\xe9,https://cdn.partner.example/a.mp4\n", "auto", "not UTF-8"),
        (
            b'guid,title,media_url\n1,"A' + b"x" * 200_000 + b'",https://cdn.partner.example/a.mp4\n',
            "csv",
            "cannot be read",
        ),
    ],
    ids=[
        "unclosed",
        "bare-ampersand",
        "entity-bomb",
        "external-entity",
        "html",
        "atom",
        "empty-xml",
        "csv-columns",
        "empty-csv",
        "csv-latin-1",
        "csv-huge-field",
    ],
)
def test_a_malformed_or_hostile_feed_is_refused_whole(tmp_path, data, fmt, message):
    path = write(tmp_path, data)
    with pytest.raises(FeedError) as refused:
        feeds.count(path, fmt)
    assert message in str(refused.value)
