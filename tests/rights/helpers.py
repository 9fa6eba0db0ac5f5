"""Rights test helpers: the fixed "now" of the licence tests, a ready title written straight to the database,
licences over the API, and the territory a request comes from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.helpers import ready_video_row

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)


def at(days: float) -> str:
    return (NOW + timedelta(days=days)).isoformat()


def from_(territory: str, auth: dict | None = None) -> dict:
    return {"CF-IPCountry": territory, **(auth or {})}


def title(ctx, owner, name: str = "Licensed film") -> int:
    """A ready title with a real (tiny) playlist in the store, written directly: no transcode needed here."""
    with ctx.db.session(write=True) as session:
        video = ready_video_row(
            owner.user.id,
            title=name,
            width=640,
            height=360,
            frame_rate=25.0,
            output_key=None,
            created_at=NOW - timedelta(days=9),
        )
        session.add(video)
        session.flush()
        video.output_key = f"videos/{video.id}/hls-test"
        video_id = video.id
    playlist = ctx.store.path(f"videos/{video_id}/hls-test/master.m3u8")
    playlist.parent.mkdir(parents=True, exist_ok=True)
    playlist.write_text("#EXTM3U\n")
    return video_id


def licence(http, owner, video_id: int, territories, start: float = -30, end: float = 30, **extra):
    body = {
        "video_id": video_id,
        "distributor": extra.pop("distributor", "Dist"),
        "territories": territories,
        "starts_at": at(start),
        "ends_at": at(end),
        "uses": extra.pop("uses", ["stream", "ads", "commerce"]),
        **extra,
    }
    return http.post("/api/v1/licences", headers=owner.auth, json=body)
