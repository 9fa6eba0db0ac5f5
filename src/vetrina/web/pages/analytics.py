"""The selling-seconds page: the audience curve, card clicks and purchases per second, and the tags, on one
time axis (uPlot, static/charts.js: zoomed by dragging or by buttons); a click on a second plays the video from there,
and the same figures are a table beside it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.analytics import rollups
from vetrina.i18n import _, localise
from vetrina.web import charts
from vetrina.web.deps import RowId, db_session, optional_user
from vetrina.web.templating import render

router = APIRouter(include_in_schema=False)
FIGURES = ("viewers", "shown", "clicked", "purchases")  # per second, in the chart and its table


def chart(report: dict[str, Any]) -> charts.Chart:
    """The audience (a line, left axis) and what it did (cards shown, clicks, purchases: right axis) per second,
    with the tags' spans drawn behind; a click on a second plays the video from there (`play` + second)."""
    per_second = report["seconds"]
    series = [
        charts.Series(_("Watching"), per_second["viewers"], tone=2),
        charts.Series(_("Cards shown"), per_second["shown"], axis="right", tone=3),
        charts.Series(_("Card clicks"), per_second["clicked"], axis="right", style="bars", tone=0),
        charts.Series(_("Purchases"), per_second["purchases"], axis="right", style="bars", tone=1),
    ]
    tags = [
        {
            "label": t["label"] or localise(_("Product {id}", id=t["product_id"])),
            "start": t["start_s"],
            "end": t["end_s"],
        }
        for t in report["tags"]
    ]
    axes: dict[str, object] = {"left": _("Viewers"), "right": _("Cards, clicks and purchases")}
    extra = {"play": f"/watch/{report['video_id']}?t=", "tags": tags, "zoom": True}
    return charts.Chart(_("Second"), series, axes, extra=extra)


def spans(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The table's rows: seconds in a row with the same figures are one row (a 2-hour film has 7,200 seconds)."""
    per_second = report["seconds"]
    rows: list[dict[str, Any]] = []
    for second, figures in enumerate(zip(*(per_second[name] for name in FIGURES), strict=True)):
        if rows and rows[-1]["figures"] == figures:
            rows[-1]["end"] = second
        else:
            rows.append({"start": second, "end": second, "figures": figures})
    return rows


def best_second(report: dict[str, Any]) -> int:
    """The second with the most purchases (then clicks): the moment that sells."""
    per_second = report["seconds"]
    return max(
        range(len(per_second["viewers"])),
        key=lambda i: (per_second["purchases"][i], per_second["clicked"][i]),
        default=0,
    )


@router.get("/videos/{video_id}/analytics", response_class=HTMLResponse)
def selling_seconds_page(
    request: Request, video_id: RowId, user: User | None = optional_user, session: Session = db_session
) -> Response:
    if user is None:
        return RedirectResponse(f"/login?next=/videos/{video_id}/analytics", status_code=303)
    report = rollups.selling_seconds(session, video_id, user)
    per_second = report["seconds"]
    return render(
        request,
        "selling_seconds.html",
        user=user,
        report=report,
        chart=chart(report),
        rows=spans(report),
        best=best_second(report),
        totals={name: sum(per_second[name]) for name in FIGURES},
        peak_viewers=max(per_second["viewers"], default=0),
        empty=not any(per_second["viewers"]),
    )
