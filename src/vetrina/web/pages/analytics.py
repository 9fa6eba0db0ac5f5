"""The selling-seconds page: the audience curve, card clicks and purchases per second, and the tags, on one
time axis; a click on a second plays the video from there."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.analytics import rollups
from vetrina.web.deps import RowId, db_session, optional_user
from vetrina.web.templating import render

router = APIRouter(include_in_schema=False)
WIDTH, PLOT = 900, 200  # the chart's width and the height of its plot area, in SVG units


def chart(report: dict[str, Any]) -> dict[str, Any]:
    """Coordinates for the SVG: the retention line, bars per second, and tag bars below."""
    s = report["seconds"]
    length = len(s["viewers"])
    step = WIDTH / length
    peak_viewers = max(s["viewers"]) or 1
    peak_actions = max(max(s["clicked"]), max(s["purchases"]), max(s["shown"])) or 1
    line = " ".join(
        f"{round(i * step + step / 2, 1)},{round(PLOT - PLOT * v / peak_viewers, 1)}"
        for i, v in enumerate(s["viewers"])
    )
    columns = [
        {
            "second": i,
            "x": round(i * step, 2),
            "w": round(max(step, 1.0), 2),
            "viewers": s["viewers"][i],
            "shown": s["shown"][i],
            "clicked": s["clicked"][i],
            "purchases": s["purchases"][i],
            "ch": round(PLOT * 0.6 * s["clicked"][i] / peak_actions, 1),
            "ph": round(PLOT * 0.6 * s["purchases"][i] / peak_actions, 1),
        }
        for i in range(length)
    ]
    tags = [
        {
            "x": round(t["start_s"] * step, 1),
            "w": round(max((t["end_s"] - t["start_s"]) * step, 2.0), 1),
            "y": PLOT + 14 + 12 * (n % 3),
            "label": t["label"] or f"product {t['product_id']}",
            "start_s": t["start_s"],
            "end_s": t["end_s"],
        }
        for n, t in enumerate(report["tags"])
    ]
    best = max(range(length), key=lambda i: (s["purchases"][i], s["clicked"][i]), default=0)
    return {
        "width": WIDTH,
        "plot": PLOT,
        "height": PLOT + 60,
        "line": line,
        "columns": columns,
        "tags": tags,
        "peak_viewers": max(s["viewers"]),
        "peak_actions": peak_actions,
        "best": best,
        "empty": not any(s["viewers"]),
    }


@router.get("/videos/{video_id}/analytics", response_class=HTMLResponse)
def selling_seconds_page(
    request: Request, video_id: RowId, user: User | None = optional_user, session: Session = db_session
) -> Response:
    if user is None:
        return RedirectResponse(f"/login?next=/videos/{video_id}/analytics", status_code=303)
    report = rollups.selling_seconds(session, video_id, user)
    return render(request, "selling_seconds.html", user=user, report=report, chart=chart(report))
