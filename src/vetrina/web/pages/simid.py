"""The SIMID creative of the shoppable overlay ad (vetrina.ads.simid): a page other sites' players frame."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.ads import simid
from vetrina.i18n import current_language
from vetrina.web.deps import db_session, get_context, public_base_url
from vetrina.web.templating import templates

router = APIRouter(include_in_schema=False)


@router.get(simid.OVERLAY_PATH + "{decision_id}", response_class=HTMLResponse)
def simid_overlay(
    request: Request,
    decision_id: str,
    session: Session = db_session,
) -> Response:
    """Any site may frame it (browser_safety); it reads no cookie and sets none, not even a form's CSRF cookie
    (`render` would), since it has no form: its buy action leaves through the player. A token of any length is
    looked up (a too long one is as unknown as a forged one: the same 404)."""
    base = public_base_url(request)
    card = simid.overlay_card(get_context(request), session, base, decision_id, clock.now())
    return templates.TemplateResponse(
        request,
        "simid_overlay.html",
        {"card": card, "language": current_language()},
        headers={"Cache-Control": "private, no-store"},
    )
