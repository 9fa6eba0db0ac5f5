"""The video owner's ad breaks and floor price, as a form on the tag editor page (`/videos/{id}/tags`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from babel import Locale
from babel.numbers import NumberFormatError, format_decimal, get_decimal_symbol, get_group_symbol, parse_decimal
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.ads import serve as ad_serve
from vetrina.context import Context
from vetrina.errors import InvalidInput
from vetrina.i18n import _, babel_locale
from vetrina.media.models import Video
from vetrina.money import Money
from vetrina.web.deps import RowId, optional_user
from vetrina.web.pages.forms import CsrfField, form_action

router = APIRouter(include_in_schema=False)


# One typed number of seconds, before Babel reads it: digits, points and commas (our languages' decimal and grouping
# symbols), so "nan", "1e3" or "1_0" (which Decimal would take) are refused as text, never read.
_TYPED_SECONDS = re.compile(r"[+-]?[0-9.,]*[0-9][0-9.,]*")


@dataclass(frozen=True)
class AdBreaksForm:
    """The ad settings form's fields, as the reader types them."""

    preroll: bool
    snap_to_scenes: bool
    midrolls: str
    overlays: str
    floor: str
    separator: str


def ad_breaks_form(session: Session, video: Video, currency: str) -> AdBreaksForm:
    """The video's ad settings as the form holds them in the reader's language: breaks "12.5, 30" or "12,5; 30",
    the floor price "4.50" or "4,50"."""
    settings = ad_serve.ad_settings(session, video, currency)
    return AdBreaksForm(
        preroll=settings.preroll,
        snap_to_scenes=settings.snap_to_scenes,
        midrolls=typed_seconds(settings.midrolls_s),
        overlays=typed_seconds(settings.overlays_s),
        floor=settings.floor.typed(),
        separator=seconds_separator(),
    )


def seconds_separator(language: str | None = None) -> str:
    """What goes between typed seconds: ";" where the decimal symbol is a comma ("12,5; 30"), else ","."""
    return ";" if get_decimal_symbol(babel_locale(language)) == "," else ","


def typed_seconds(values: Iterable[float], language: str | None = None) -> str:
    """Seconds as the reader types them, what `_seconds_list` reads back to the same values: "12.5, 30", "12,5; 30"
    (ungrouped; whole seconds without decimals)."""
    locale = babel_locale(language)
    # repr is the shortest text that reads back to the same float, so no digit is lost or invented.
    shown = (format_decimal(Decimal(repr(v)), format="0.#", locale=locale, decimal_quantization=False) for v in values)
    return f"{seconds_separator(language)} ".join(shown)


def _unreadable(field: str, part: str, example: str) -> InvalidInput:
    if field == "midrolls":
        text = _(
            "In the mid-rolls, “{part}” is not a number of seconds (write them like {example}).",
            part=part,
            example=example,
        )
    else:
        text = _(
            "In the overlay cards, “{part}” is not a number of seconds (write them like {example}).",
            part=part,
            example=example,
        )
    return InvalidInput(text, field=field)


def _seconds_list(text: str, field: str) -> list[float]:
    """Seconds typed in the reader's language: "12.5, 30" or "12.5; 30"; where the decimal symbol is a comma,
    "12,5; 30" (a comma there is a decimal, so only ";" separates). Each number is read strictly, never guessed."""
    locale = babel_locale()
    separators = ";" if seconds_separator() == ";" else ",;"
    values: list[float] = []
    for part in (p.strip() for p in re.split(f"[{separators}]", text)):
        if not part:
            continue
        value = _read_seconds(part, locale)
        if value is None:
            raise _unreadable(field, part[:40], typed_seconds([12.5, 30]))
        # Negative, past the video's end or too many: the ads service refuses those, as it does for the API.
        values.append(value)
    return values


def _read_seconds(part: str, locale: Locale) -> float | None:
    """One typed number of seconds, or None if it does not read as one in `locale`."""
    # Seconds are never grouped: Italian "1.500" is refused, not read as 1500 where 1.5 was meant.
    if not _TYPED_SECONDS.fullmatch(part) or get_group_symbol(locale) in part:
        return None
    try:
        return float(parse_decimal(part, locale=locale, strict=True))
    except NumberFormatError:
        return None


@router.post("/videos/{video_id}/ad-settings")
def save_ad_settings(
    request: Request,
    video_id: RowId,
    csrf_token: CsrfField = "",
    preroll: Annotated[bool, Form()] = False,
    midrolls: Annotated[str, Form(max_length=500)] = "",
    overlays: Annotated[str, Form(max_length=500)] = "",
    floor: Annotated[str, Form(max_length=20)] = "",
    snap: Annotated[bool, Form()] = False,
    user: User | None = optional_user,
) -> Response:
    """The owner's ad breaks, as the API's PUT /api/v1/videos/{id}/ad-settings sets them."""

    def save(ctx: Context, session: Session, user: User) -> None:
        currency = ctx.settings.default_currency
        price = Money.parse(floor, currency) if floor.strip() else Money.zero(currency)
        breaks = _seconds_list(midrolls, "midrolls"), _seconds_list(overlays, "overlays")
        ad_serve.set_ad_settings(ctx, session, video_id, user, preroll, *breaks, price, snap)

    back = f"/videos/{video_id}/tags"
    return form_action(request, csrf_token, user, back=back, done=_("Ad breaks saved."), action=save)
