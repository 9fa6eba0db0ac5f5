"""`vetrina demo`: demo accounts and films, generated with ffmpeg's lavfi sources, ready to stream.

Idempotent: users and videos that already exist are left as they are.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from sqlalchemy import select

from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role, User
from vetrina.media import service as media
from vetrina.media.ffmpeg import run_ffmpeg
from vetrina.media.models import Video, VideoStatus
from vetrina.runtime import Runtime

DEMO_PASSWORD = "vetrina-demo"
DEMO_USERS = (
    ("merchant@vetrina.demo", Role.merchant),
    ("buyer@vetrina.demo", Role.viewer),
    ("admin@vetrina.demo", Role.admin),
)


@dataclass(frozen=True)
class DemoFilm:
    title: str
    description: str
    video_source: str
    audio_source: str
    seconds: int = 24


DEMO_FILMS = (
    DemoFilm(
        "Summer Collection: Test Pattern Edition",
        "A short film with products on screen. Tagging arrives with View and Buy.",
        "testsrc2=size=1280x720:rate=30",
        "sine=frequency=330:sample_rate=48000",
    ),
    DemoFilm(
        "Colour Drift",
        "Slow gradients, for checking quality switching and seek previews.",
        "gradients=size=1280x720:rate=30:speed=0.02:n=4",
        "sine=frequency=220:sample_rate=48000",
    ),
    DemoFilm(
        "Studio Bars (vertical)",
        "A 9:16 clip, the shape of a phone ad spot.",
        "smptehdbars=size=720x1280:rate=30",
        "anoisesrc=color=pink:amplitude=0.05:sample_rate=48000",
        seconds=12,
    ),
)


def _demo_user(runtime: Runtime, email: str, role: Role) -> User:
    with runtime.db.session() as session:
        user = accounts.get_user_by_email(session, email)
        if user is None:
            user = accounts.create_user(session, email, DEMO_PASSWORD, role)
            session.flush()
        return user


def seed_demo(runtime: Runtime) -> None:
    """Create the demo users and films; transcode the films with the real job queue, showing progress."""
    users = {email: _demo_user(runtime, email, role) for email, role in DEMO_USERS}
    merchant = users["merchant@vetrina.demo"]
    runtime.queue.start_in_process()
    try:
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn()
        ) as progress:
            pending = {}
            for film in DEMO_FILMS:
                video_id = _existing_film(runtime, merchant, film.title)
                if video_id is None:
                    task = progress.add_task(f"generate {film.title}", total=film.seconds)
                    video_id = _add_film(runtime, merchant, film, lambda s, t=task: progress.update(t, completed=s))
                    progress.update(task, completed=film.seconds)
                pending[video_id] = progress.add_task(f"stream  {film.title}", total=1.0)
            _wait_until_ready(runtime, pending, progress)
    finally:
        runtime.queue.stop_in_process()
    for email, _role in DEMO_USERS:
        print(f"  {email:24s} password: {DEMO_PASSWORD}")


def _existing_film(runtime: Runtime, owner: User, title: str) -> int | None:
    with runtime.db.session() as session:
        return session.scalar(
            select(Video.id).where(
                Video.owner_id == owner.id, Video.title == title, Video.status != VideoStatus.failed.value
            )
        )


def _add_film(runtime: Runtime, owner: User, film: DemoFilm, on_progress: object) -> int:
    scratch = runtime.store.scratch_dir(f"demo-{film.seconds}-{abs(hash(film.title))}")
    source = scratch / "source.mp4"
    run_ffmpeg(
        [
            "-f",
            "lavfi",
            "-i",
            f"{film.video_source}:duration={film.seconds}",
            "-f",
            "lavfi",
            "-i",
            f"{film.audio_source}:duration={film.seconds}",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            str(source),
        ],  # fmt: skip
        on_progress=on_progress,
    )
    with runtime.db.session() as session:
        video = media.create_video(
            session, runtime.store, runtime.settings, runtime.queue, owner,
            title=film.title, description=film.description, upload=source, filename="source.mp4",
        )  # fmt: skip
        session.flush()
        video_id = video.id
    scratch.rmdir()
    return video_id


def _wait_until_ready(runtime: Runtime, tasks: dict[int, int], progress: Progress) -> None:
    waiting = set(tasks)
    while waiting:
        with runtime.db.session() as session:
            for video in session.scalars(select(Video).where(Video.id.in_(waiting))):
                progress.update(tasks[video.id], completed=video.progress)
                if video.status != VideoStatus.processing:
                    waiting.discard(video.id)
                    if video.status == VideoStatus.failed:
                        progress.console.print(f"[red]{video.title} failed: {video.error}")
        time.sleep(0.5)
