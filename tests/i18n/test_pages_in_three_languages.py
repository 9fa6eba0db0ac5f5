"""Every page renders in English, Italian and Chinese, and no English text of the catalogue is left on an Italian or
Chinese page: the rendered text (and the labels people hear: aria-label, title, placeholder, alt) is scanned for
every catalogue text that has a different translation."""

from __future__ import annotations

import re
from functools import cache
from html.parser import HTMLParser

import pytest
from babel.messages.pofile import read_po

from tests.web.helpers import sign_in
from vetrina.i18n import LOCALE_DIR, Message, translations

READ_ATTRIBUTES = {"aria-label", "title", "placeholder", "alt"}
PLACEHOLDER = re.compile(r"\{\w*\}")


class _Text(HTMLParser):
    """What a person reads or hears of a page: its text and labels, not its scripts or styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skipping += 1
        self.parts += [value for name, value in attrs if name in READ_ATTRIBUTES and value]
        if tag == "input" and dict(attrs).get("type") in ("submit", "button"):
            self.parts.append(dict(attrs).get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def readable_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def english_left_behind(text: str, language: str) -> list[str]:
    """Catalogue texts (English) found in `text` although `language` translates them differently."""
    catalogue = translations(language)
    found = []
    for msgid in _catalogue_ids():
        translated = catalogue.gettext(msgid)
        if translated == msgid:
            continue
        fragments = [f.strip(" .,:;·—-") for f in PLACEHOLDER.split(msgid)]
        for fragment in fragments:
            telling = len(fragment) >= 6 and sum(c.isalpha() for c in fragment) >= 4 and fragment not in translated
            # A whole word, not part of a path, handle or code ("/api/v1/licences", "@merchant-1").
            if telling and re.search(rf"(?<![A-Za-z0-9_/@-]){re.escape(fragment)}(?![A-Za-z0-9_/-])", text):
                found.append(fragment)
    return sorted(set(found))


@cache
def _catalogue_ids() -> list[str]:
    with (LOCALE_DIR / "messages.pot").open("rb") as handle:
        return [m.id for m in read_po(handle) if isinstance(m.id, str) and m.id]


def _pages(world) -> dict[str, list[str]]:
    """The pages each one reads: anonymous (the language asked for by the browser), the admin and the merchant (by
    the switcher's cookie)."""
    video, product, show = world["video_id"], world["product_id"], world["show_id"]
    return {
        "anonymous": ["/login", "/signup", f"/live/{show}", f"/simid/overlay/{world['decision_id']}"],
        "admin": [
            "/",
            f"/watch/{video}",
            f"/embed/{video}",
            f"/p/{product}",
            f"/c/{world['handle']}",
            f"/live/{show}",  # as a signed-in viewer: the chat's form
            "/orders",
            "/wallet",
            "/account",
            "/merchant",
            "/studio",
            "/upload",
            "/dashboard",
            "/merchant/campaigns",
            "/partner",
            "/payouts",  # merchants only: the admin reads the refusal page
            "/admin/payouts",
            "/admin/reconciliation",
            f"/videos/{video}/tags",
            f"/videos/{video}/analytics",
            "/watch/999999",  # the error page
        ],
        "merchant": [f"/live/{show}/host", f"/merchant/campaigns/{world['campaign_id']}"],
    }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("language", ["it", "zh"])
def test_no_english_is_left_on_a_translated_page(client, world, language) -> None:
    pages = _pages(world)
    answers = {
        f"anonymous {path}": client.get(path, headers={"Accept-Language": language}) for path in pages["anonymous"]
    }
    for who in ("admin", "merchant"):
        client.cookies.clear()
        assert sign_in(client, world[who].user.email).status_code == 303
        client.cookies.set("vetrina_language", language)
        answers |= {f"{who} {path}": client.get(path, headers={"Accept": "text/html"}) for path in pages[who]}
    leftovers = {}
    for page, answer in answers.items():
        assert answer.status_code in (200, 403, 404), f"{page}: {answer.status_code}"  # 403: the refusal page
        assert answer.headers["content-language"] == language, page
        left = english_left_behind(readable_text(answer.text), language)
        if left:
            leftovers[page] = left
    assert not leftovers, f"English left on {language} pages:\n" + "\n".join(f"{p}: {t}" for p, t in leftovers.items())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_scan_finds_english_where_it_is_left(client) -> None:
    """The scanner itself: an English catalogue text on a Chinese page is found; its translation is not."""
    text = readable_text('<p>Your orders</p><button aria-label="Sign out">x</button><script>"Sign in"</script>')
    assert set(english_left_behind(text, "zh")) >= {"Sign out"}
    assert "Sign in" not in english_left_behind(text, "zh")  # in a script: not read by a person
    translated = readable_text(f"<p>{Message('Sign out', {}).localised('zh')}</p>")
    assert english_left_behind(translated, "zh") == []
