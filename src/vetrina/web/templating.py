"""Jinja2 templates, with the CSRF token and small formatting filters every page uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from vetrina.payments.funding import uses_sandbox_money
from vetrina.web.deps import csrf_token_for, get_context

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _duration(seconds: float | None) -> str:
    total = int(round(seconds or 0))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


templates.env.filters["duration"] = _duration


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("user", None)
    ctx = get_context(request)
    money = {
        "sandbox_money": uses_sandbox_money(ctx),
        "can_top_up": bool(ctx.settings.funding_providers),
        "pay_providers": [p for p in ctx.settings.funding_providers if p != "sandbox"],  # settle by notification
    }
    return templates.TemplateResponse(
        request, name, {"csrf_token": csrf_token_for(request), **money, **context}, status_code=status_code
    )
