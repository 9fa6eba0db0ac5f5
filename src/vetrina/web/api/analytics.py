"""/api/v1/videos/{id}/selling-seconds: which second of a video sells (for its owner)."""

from __future__ import annotations

import csv
import io
from typing import Any, Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.analytics import rollups
from vetrina.web.deps import RowId, db_session, required_user

router = APIRouter(tags=["analytics"])


def as_csv(report: dict[str, Any]) -> str:
    """One row per second: the same numbers as the JSON and the page."""
    out = io.StringIO()
    names = list(report["seconds"])
    writer = csv.writer(out)
    writer.writerow(["second", *names])
    for second in range(len(report["seconds"]["viewers"])):
        writer.writerow([second, *(report["seconds"][name][second] for name in names)])
    return out.getvalue()


@router.get("/api/v1/videos/{video_id}/selling-seconds", summary="Audience and card activity per second")
def selling_seconds(
    video_id: RowId,
    format: Literal["json", "csv"] = "json",  # noqa: A002  (the query parameter's name)
    user: User = required_user,
    session: Session = db_session,
) -> Response:
    report = rollups.selling_seconds(session, video_id, user)
    if format == "csv":
        return Response(
            as_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="video-{video_id}-seconds.csv"'},
        )
    return JSONResponse(report)
