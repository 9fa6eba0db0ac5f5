"""Jinja2 templates, with the CSRF token and small formatting filters every page uses."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from vetrina.catalog import translations as catalog_translations
from vetrina.i18n import LANGUAGES, Message, babel_locale, current_language, localise, n_, script_texts
from vetrina.payments.funding import uses_sandbox_money
from vetrina.web.deps import csrf_token_for, get_context

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _duration(seconds: float | None) -> str:
    total = int(round(seconds or 0))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _template_text(msgid: str, **params: Any) -> str:
    """`_` in templates: the text in the request's language, right away (a page is rendered for one reader)."""
    return Message(msgid, params).localised()


def _template_plural(singular: str, plural: str, count: int, **params: Any) -> str:
    return n_(singular, plural, count, **params).localised()


def _when(moment: datetime | None, form: str = "medium") -> str:
    """A date and time in the reader's language and way of writing them (UTC; the page says so where it matters)."""
    return format_datetime(moment, form, tzinfo=UTC, locale=babel_locale()) if moment else ""


def _day(moment: date | datetime | None, form: str = "medium") -> str:
    return format_date(moment, form, locale=babel_locale()) if moment else ""


def _number(value: float | int | None) -> str:
    return format_decimal(value or 0, locale=babel_locale())


def _percent(value: float | None, digits: int = 1) -> str:
    return format_percent(value or 0, format=f"#,##0.{'0' * digits}%" if digits else None, locale=babel_locale())


templates.env.filters.update(
    duration=_duration, when=_when, day=_day, number=_number, percent=_percent, shown=catalog_translations.shown
)
templates.env.globals.update(_=_template_text, n_=_template_plural, LANGUAGES=LANGUAGES)
# A Message given to a page (a refusal's detail) is shown in the reader's language wherever it is printed.
templates.env.finalize = localise


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("user", None)
    ctx = get_context(request)
    money = {
        "sandbox_money": uses_sandbox_money(ctx),
        "can_top_up": bool(ctx.settings.funding_providers),
        "pay_providers": [p for p in ctx.settings.funding_providers if p != "sandbox"],  # settle by notification
    }
    language = current_language()
    speech = {"language": language, "script_texts": script_texts(language)}
    return templates.TemplateResponse(
        request, name, {"csrf_token": csrf_token_for(request), **money, **speech, **context}, status_code=status_code
    )
