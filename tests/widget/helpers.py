"""Helpers of the widget's browser tests: a shop's page carrying the widget's script tag (and recording the page's
layout shifts and the widget's events), the sites a channel lets sell in frames, and waiting inside a frame."""

from __future__ import annotations

import re
import time
from html import escape, unescape
from typing import Any

import httpx

from tests.helpers import PASSWORD
from tests.web.helpers import form_token

# The shop's own CSS is hostile on purpose: the widget, in its Shadow DOM, must look the same.
SHOP_PAGE = """<!doctype html>
<html{lang}><head><meta charset="utf-8"><title>A shop</title><link rel="icon" href="data:,">
<style>
  body {{ font: 16px serif; margin: 2rem; }}
  button {{ background: rgb(255, 0, 0) !important; font-size: 40px !important; }}
  img {{ width: 3px !important; }}
</style>
<script>
  window.layoutShifts = [];
  new PerformanceObserver((list) => {{ for (const entry of list.getEntries()) window.layoutShifts.push(entry.value); }})
    .observe({{ type: "layout-shift", buffered: true }});
  window.shopEvents = [];
  for (const type of ["product_viewed", "add_to_cart", "checkout", "cart"]) {{
    document.addEventListener("vetrina:" + type, (event) => window.shopEvents.push(event.detail));
  }}
</script></head>
<body>
<h1>Our shop</h1>
<p>Watch and shop:</p>
{widget}
<p id="below">Free shipping over 50 EUR.</p>
</body></html>
"""


def shop_page(vetrina_url: str, lang: str | None = "en", **attributes: str) -> str:
    """The shop's page in `lang` (None: a page that names no language) with the widget's tag: `attributes` as
    data-*/style attributes (`data_channel="x"`)."""
    written = " ".join(f'{name.replace("_", "-")}="{escape(value)}"' for name, value in attributes.items())
    return shop_page_with(f'<script src="{escape(vetrina_url)}/static/widget.js" {written} async></script>', lang)


def shop_page_with(widget_tag: str, lang: str | None = "en") -> str:
    """The shop's page in `lang` (None: no `lang` attribute) with `widget_tag` pasted in as it is."""
    return SHOP_PAGE.format(widget=widget_tag, lang=f' lang="{escape(lang)}"' if lang is not None else "")


def desk_snippet(vetrina_url: str, email: str, layout: str) -> str:
    """The widget's tag for `layout` as the merchant desk shows it to the merchant signed in as `email`."""
    with httpx.Client(base_url=vetrina_url, timeout=30) as browser_like:
        token = form_token(browser_like, "/login")
        signed_in = browser_like.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
        assert signed_in.status_code in (200, 303), signed_in.text
        desk = browser_like.get("/merchant")
        assert desk.status_code == 200, desk.text
    found = re.search(rf'<code class="widget-snippet" data-layout="{layout}">(.*?)</code>', desk.text)
    assert found, "the merchant desk shows no widget snippet"
    return unescape(found.group(1))


def let_sell_in_frames(http: httpx.Client, merchant: Any, handle: str, origins: list[str]) -> None:
    """Set the channel's list of sites that may sell inside frames of its player."""
    changed = http.patch(f"/api/v1/channels/{handle}", headers=merchant.auth, json={"embed_origins": origins})
    assert changed.status_code == 200, changed.text


def wait_in_frame(locator: Any, expression: str, timeout_s: float = 30) -> Any:
    """Wait until `expression` (a function of the located element) is truthy inside a player frame; its value. The
    player's Content-Security-Policy forbids the eval of Playwright's own waiting, so this polls from outside."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = locator.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_s:.0f} s: {expression}")
        time.sleep(0.1)


def events_of(page: Any, kind: str) -> list[dict]:
    return page.evaluate(f"window.shopEvents.filter((e) => e.type === {kind!r})")
