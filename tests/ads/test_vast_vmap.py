"""VAST and VMAP against the IAB's own schemas and sample tags (read in place, outside the repository: the
fixtures in tests/ads/conftest.py find them, and say what was not checked when they are missing).

Validation is done twice. `xmlschema` follows XML Schema 1.0, in which a URL with VAST macros
(`[ERRORCODE]`) is a valid xs:anyURI (brackets are escaped before the URI check). libxml2 (lxml) is
stricter than the specification there, so it checks the same document with the macros filled in as a
player fills them. Everything else is checked by both."""

from __future__ import annotations

import dataclasses
import re

import pytest
import xmlschema
from lxml import etree

from tests.ads.helpers import BILLION_LAUGHS
from vetrina.ads.vast import (
    Ad,
    Companion,
    Creative,
    Linear,
    MediaFile,
    NonLinear,
    Pricing,
    Resource,
    Tracking,
    Vast,
    VastError,
    read_vast,
    write_vast,
)
from vetrina.ads.vmap import AdBreak, write_vmap


def linear_ad() -> Ad:
    return Ad(
        id="c-7",
        sequence=1,
        ad_title="Summer mugs",
        ad_serving_id="d-1",
        advertiser="Atelier Blu",
        description="Hand-glazed stoneware",
        impressions=["https://v.example/ads/e?x=imp&cb=[CACHEBUSTING]"],
        errors=["https://v.example/ads/e?x=error&code=[ERRORCODE]"],
        pricing=Pricing("CPM", "EUR", "12.50"),
        creatives=[
            Creative(
                id="video-3",
                sequence=1,
                ad_id="c-7",
                universal_ad_ids=[("vetrina.video", "3")],
                linear=Linear(
                    duration_s=15.0,
                    skip_offset_s=5.0,
                    media_files=[
                        MediaFile(
                            "https://v.example/media/t/videos/3/master.m3u8",
                            "application/x-mpegURL",
                            1920,
                            1080,
                            delivery="streaming",
                        ),
                        MediaFile(
                            "https://v.example/media/t/videos/3/720.mp4",
                            "video/mp4",
                            1280,
                            720,
                            bitrate=2500,
                            codec="avc1.64001f",
                        ),
                    ],
                    tracking=[
                        Tracking(e, f"https://v.example/ads/e?x={e}")
                        for e in ("start", "firstQuartile", "midpoint", "thirdQuartile", "complete", "skip")
                    ]
                    + [Tracking("progress", "https://v.example/ads/e?x=p5", offset="00:00:05.000")],
                    click_through="https://v.example/p/12",
                    click_tracking=["https://v.example/ads/e?x=click"],
                ),
            )
        ],
    )


def overlay_ad() -> Ad:
    return Ad(
        id="c-8",
        ad_title="Linen shirt",
        ad_serving_id="d-2",
        impressions=["https://v.example/ads/e?x=imp"],
        creatives=[
            Creative(
                id="product-12",
                universal_ad_ids=[("vetrina.product", "12")],
                non_linears=[
                    NonLinear(
                        480,
                        120,
                        [Resource("static", "https://v.example/card.jpg", "image/jpeg")],
                        click_through="https://v.example/p/12",
                        click_tracking=["https://v.example/c"],
                        min_suggested_duration_s=8.0,
                        id="card",
                    )
                ],
                non_linear_tracking=[Tracking("creativeView", "https://v.example/ads/e?x=view")],
                companions=[
                    Companion(
                        300,
                        250,
                        [Resource("iframe", "https://v.example/embed/card/12")],
                        click_through="https://v.example/p/12",
                        tracking=[Tracking("creativeView", "https://v.example/cv")],
                    )
                ],
            )
        ],
    )


def wrapper_ad() -> Ad:
    return Ad(
        id="c-9",
        ad_system="Vetrina",
        wrapper_url="https://ads.example/vast.xml?cb=[CACHEBUSTING]",
        impressions=["https://v.example/ads/e?x=imp"],
        errors=["https://v.example/ads/e?x=err&code=[ERRORCODE]"],
        creatives=[
            Creative(
                linear=Linear(
                    0.0,
                    tracking=[Tracking("start", "https://v.example/ads/e?x=start")],
                    click_tracking=["https://v.example/ads/e?x=click"],
                )
            )
        ],
    )


@pytest.mark.parametrize(
    "document",
    [
        Vast(ads=[linear_ad()]),
        Vast(ads=[overlay_ad()]),
        Vast(ads=[wrapper_ad()]),
        Vast(ads=[linear_ad(), overlay_ad()]),
        Vast(errors=["https://v.example/ads/e?x=error&code=303"]),
    ],
    ids=["linear", "overlay", "wrapper", "pod", "no-ad"],
)
def test_what_vetrina_writes_validates_against_vast_4_2_and_reads_back_the_same(document, assert_valid_vast):
    data = write_vast(document)
    assert_valid_vast(data)
    assert read_vast(data) == document


def test_a_schema_violation_would_be_caught(assert_valid_vast):
    broken = write_vast(Vast(ads=[linear_ad()])).replace(b"<AdTitle>", b"<Title>").replace(b"</AdTitle>", b"</Title>")
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        assert_valid_vast(broken)


def _as_required_by_4_2(ad: Ad) -> Ad:
    """What a 4.2 writer must add to older tags: an AdServingId and a UniversalAdId for inline ads."""
    if ad.wrapper_url is not None:
        return ad
    creatives = [
        dataclasses.replace(c, universal_ad_ids=c.universal_ad_ids or [("unknown", "unknown")]) for c in ad.creatives
    ]
    return dataclasses.replace(ad, ad_serving_id=ad.ad_serving_id or "unknown", creatives=creatives)


def test_every_iab_sample_is_read_and_rewritten_as_valid_vast_4_2(iab_sample, assert_valid_vast):
    document = read_vast(iab_sample.read_bytes())
    assert document.ads, "every IAB sample holds an ad"
    ad = document.ads[0]
    assert ad.ad_system and (ad.wrapper_url or ad.creatives)
    rewritten = write_vast(document)
    assert_valid_vast(rewritten)
    assert read_vast(rewritten).ads == [_as_required_by_4_2(a) for a in document.ads]


def test_the_samples_cover_linear_non_linear_companion_and_wrapper_ads(iab_samples):
    documents = [read_vast(s.read_bytes()) for s in iab_samples]
    creatives = [c for d in documents for a in d.ads for c in a.creatives]
    assert any(c.linear and c.linear.media_files for c in creatives)
    assert any(c.non_linears for c in creatives)
    assert any(c.companions for c in creatives)
    assert any(a.wrapper_url for d in documents for a in d.ads)


def test_the_reader_ignores_namespace_and_element_order():
    standard = write_vast(Vast(ads=[linear_ad()])).decode()
    plain = standard.replace(' xmlns="http://www.iab.com/VAST"', "")
    # Swap two siblings and move the title to the end, as servers in the wild do.
    shuffled = re.sub(r"(<AdTitle>.*?</AdTitle>)(.*?)(</InLine>)", r"\2\1\3", plain, flags=re.S)
    assert shuffled != plain
    assert read_vast(shuffled) == read_vast(standard) == Vast(ads=[linear_ad()])


EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE VAST [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<VAST version="4.2"><Ad><InLine><AdTitle>&secret;</AdTitle></InLine></Ad></VAST>"""


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (BILLION_LAUGHS, 100),
        (EXTERNAL_ENTITY, 100),
        (b"<VAST><Ad>", 100),
        (b"<html><body>ad</body></html>", 101),
        (b"", 100),
        (b"\xff\xfe garbage", 100),
    ],
    ids=["entity-expansion", "external-entity", "truncated", "not-vast", "empty", "binary"],
)
def test_unsafe_or_broken_documents_are_refused_with_a_vast_error_code(data, code):
    with pytest.raises(VastError) as refused:
        read_vast(data)
    assert refused.value.code == code


def test_a_vmap_of_the_breaks_validates_against_the_iab_schema(vmap_schema):
    breaks = [
        AdBreak("preroll", 0, "linear", "https://v.example/api/v1/ads/vast?video_id=3&slot=preroll"),
        AdBreak("overlay-1", 12.0, "nonlinear", "https://v.example/api/v1/ads/vast?video_id=3&slot=overlay-1"),
        AdBreak(
            "midroll-1",
            42.5,
            "linear",
            "https://v.example/api/v1/ads/vast?video_id=3&slot=midroll-1",
            tracking=[("breakStart", "https://v.example/ads/e?x=break")],
        ),
        AdBreak("postroll", None, "linear", "https://v.example/api/v1/ads/vast?video_id=3&slot=postroll"),
    ]
    data = write_vmap(breaks)
    vmap_schema.validate(data.decode())
    root = etree.fromstring(data)
    offsets = [b.get("timeOffset") for b in root]
    assert offsets == ["start", "00:00:12.000", "00:00:42.500", "end"]
    assert root[1].get("breakType") == "nonlinear"
