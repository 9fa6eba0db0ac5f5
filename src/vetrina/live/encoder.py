"""The live encoder: its own process (`vetrina live encoder`), never the job worker, whose one thread must keep
serving transcodes, webhooks and rollups while a show lasts for hours.

Once a second it looks for live shows no other encoder holds, checks in nginx-rtmp's statistics what each stream
carries (a stream with no video, an unsupported codec or too large a picture is dropped through nginx-rtmp's
control, with the reason kept for the host), and runs one ffmpeg per show that pulls the raw stream and writes its
ladder in 1 s segments into scratch. Four times a second it moves each rung's finished segments into the store,
records them (`live_segments`: their program date time and length) and rewrites the rungs' live playlists. A
publisher that stops ends its ffmpeg run; one that comes back starts another, its segments numbered on after a
discontinuity. When the show ends, the playlists list every segment as a VOD and the recording becomes the replay,
a video on the host's channel."""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.commerce.models import FlashSale
from vetrina.context import Context
from vetrina.errors import VetrinaError
from vetrina.i18n import _
from vetrina.live import controls, hls, rtmp
from vetrina.live import service as live
from vetrina.live.highlights import HIGHLIGHTS_JOB
from vetrina.live.local import die_with_parent
from vetrina.live.models import LiveSegment, LiveShow, ShowStatus
from vetrina.media import ladder
from vetrina.media.ffmpeg import ffmpeg_exe
from vetrina.media.models import Video, VideoStatus
from vetrina.media.probe import ProbeResult
from vetrina.shoppable import service as shoppable
from vetrina.shoppable.service import MAX_TAGS_PER_VIDEO, TagSpec

log = logging.getLogger(__name__)
TICK_S = 0.25  # how often finished segments are published: a quarter of a segment at most is added to latency
REFRESH_S = 1.0  # how often the database and nginx-rtmp are asked about shows
HOLD_FOR_S = 15  # a show whose encoder has not said it holds it for this long is taken over by another
WAIT_FOR_VIDEO_MS = 5000  # a stream that has published this long with no video (or no size) is dropped
STOP_WAIT_S = 15  # how long ffmpeg gets to finish its last segment when asked to stop
AUDIO_CODECS = {"AAC", "MP3"}
MAX_ASPECT = 2.5  # widest (and tallest) picture taken: 21:9 is 2.33
HEARTBEAT_S = 2.0
REPLAY_AFTER_S = 5.0  # between ending the live playlists and turning them into the replay's VOD
SCRATCH_STALE_S = 3600.0  # scratch of runs a crashed encoder left
_PULL_TOKEN = re.compile(r"pull=[\w.-]+")


class ShowGone(RuntimeError):
    """The show was deleted, or another encoder holds it now: this one stops writing it."""


@dataclass
class _Run:
    """One ffmpeg taking one publish of a show."""

    process: subprocess.Popen[bytes]
    out_dir: Path
    start_seq: int
    started_at: datetime  # the wall clock when ffmpeg began pulling: its first frame was on camera then
    moved: int = 0  # segments of this run in the store so far
    # ffmpeg dates its first segment when its output starts, after it has read the stream's opening fraction of a
    # second: the run's dates are moved back by that much, so a date is when the frame was on camera.
    lag: timedelta | None = None
    unrecorded: list[hls.Segment] = field(default_factory=list)  # in the store, not yet in live_segments
    stop_asked_at: float | None = None


@dataclass
class _Encode:
    """A show this encoder holds: where its HLS lives, its rungs, its segments so far and its current run."""

    show_id: int
    prefix: str | None
    renditions: list[dict[str, Any]] | None
    segments: list[hls.Segment]
    run: _Run | None = None
    runs: int = 0
    refused_client: str | None = None  # the publisher whose stream was found bad (not checked again)
    retry_at: float = 0.0  # after a failed replay, when to try again
    has_audio: bool = True
    frame_rate: float = 30.0
    ended_at: float | None = None  # when its live playlists were ended (monotonic)


class LiveEncoder:
    def __init__(self, ctx: Context, control: rtmp.RtmpControl | None = None, encoder_id: str | None = None) -> None:
        self.ctx = ctx
        self.control = control or rtmp.RtmpControl(ctx.settings.live_rtmp_control_url)
        self.encoder_id = encoder_id or secrets.token_hex(8)
        self._encodes: dict[int, _Encode] = {}
        self._next_refresh = 0.0
        self._streams_now: dict[str, rtmp.StreamInfo] | None = None

    @property
    def show_ids(self) -> set[int]:
        return set(self._encodes)

    def run(self, stop: threading.Event) -> None:
        """Encode until `stop` is set; then let each ffmpeg finish its last segment and hand the shows back."""
        log.info("live encoder %s: pulling from %s", self.encoder_id, self.ctx.settings.live_rtmp_pull_url)
        self.ctx.store.clean_scratch(older_than_s=SCRATCH_STALE_S)
        # The heartbeat has a thread of its own: a slow round (a store upload, a replay's poster) never lets another
        # encoder take over a show this one still encodes.
        beating = threading.Thread(target=self._beat, args=(stop,), name="live-encoder-heartbeat", daemon=True)
        beating.start()
        try:
            while not stop.is_set():
                self.tick()
                stop.wait(TICK_S)
        finally:
            self.close()
            beating.join(timeout=HEARTBEAT_S * 2)

    def tick(self) -> None:
        """One round: each show's finished segments published; once a second, which shows to take, start, stop
        or finish. A failure is one show's (logged, tried again next round), never the round's."""
        for encode in list(self._encodes.values()):
            if encode.run is not None:
                self._guarded(encode.show_id, partial(self._publish_segments, encode))
        if time.monotonic() >= self._next_refresh:
            self._next_refresh = time.monotonic() + REFRESH_S
            try:
                self._refresh()
            except Exception:  # a database hiccup: the next round asks again
                log.exception("live encoder: could not look up the live shows")

    def _guarded(self, show_id: int, work: Callable[[], object]) -> None:
        try:
            work()
        except ShowGone:
            log.info("live show %s: deleted or taken over by another encoder; letting go", show_id)
            self._let_go(show_id, release=False)
        except Exception:
            log.exception("live show %s: this round failed; trying again", show_id)

    def _beat(self, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_S):
            try:
                with self.ctx.db.session(write=True) as session:
                    session.execute(
                        update(LiveShow)
                        .where(LiveShow.encoder_id == self.encoder_id)
                        .values(encoder_seen_at=clock.now())
                    )
            except Exception:
                log.exception("live encoder: heartbeat failed")

    def close(self) -> None:
        for encode in self._encodes.values():
            if encode.run is not None:
                self._stop(encode.run)
        deadline = time.monotonic() + STOP_WAIT_S
        for encode in list(self._encodes.values()):
            if encode.run is not None:
                self._wait(encode.run, deadline)
                self._guarded(encode.show_id, partial(self._publish_segments, encode))
        with self.ctx.db.session(write=True) as session:
            session.execute(update(LiveShow).where(LiveShow.encoder_id == self.encoder_id).values(encoder_id=None))
        self._encodes.clear()

    # Which shows, and what to do with each -------------------------------------------------------------------

    def _refresh(self) -> None:
        now = clock.now()
        with self.ctx.db.session(write=True) as session:
            live.interrupt_silent(session)
            live.end_unresumed(session, self.ctx.settings.live_resume_grace_seconds)
            free = or_(LiveShow.encoder_id.is_(None), LiveShow.encoder_seen_at < now - timedelta(seconds=HOLD_FOR_S))
            wanted = or_(
                LiveShow.status == ShowStatus.live.value,
                and_(
                    LiveShow.status == ShowStatus.ended.value,
                    LiveShow.media_prefix.is_not(None),
                    LiveShow.replay_made_at.is_(None),
                ),
            )
            rows = session.execute(
                select(LiveShow.id, LiveShow.status, LiveShow.encoder_id).where(
                    or_(LiveShow.encoder_id == self.encoder_id, and_(free, wanted))
                )
            ).all()
        statuses = {row.id: ShowStatus(row.status) for row in rows}
        for show_id in list(self._encodes):
            if show_id not in statuses:  # deleted, or another encoder took it over: this one lets go
                self._let_go(show_id, release=False)
        self._streams_now = None
        for show_id, status in statuses.items():
            self._guarded(show_id, partial(self._handle, show_id, status))

    def _handle(self, show_id: int, status: ShowStatus) -> None:
        """What one show needs this second: its stream checked and taken, its run stopped, or its replay made."""
        encode = self._encodes.get(show_id) or self._take(show_id)
        if encode is None or time.monotonic() < encode.retry_at:
            return
        if status == ShowStatus.live and encode.run is None:
            info = self._streams().get(rtmp.stream_name(show_id))
            if info is not None and info.client_id != encode.refused_client:
                self._check_and_start(encode, info)
        elif status != ShowStatus.live and encode.run is not None:
            if status == ShowStatus.ended:
                self._drop(show_id)
            if encode.run.stop_asked_at is None:
                self._stop(encode.run)
        elif status == ShowStatus.ended and encode.run is None:
            self._finish(encode)
        elif status == ShowStatus.interrupted and encode.run is None:
            self._let_go(show_id, release=True)

    def _streams(self) -> dict[str, rtmp.StreamInfo]:
        """nginx-rtmp's streams, asked once a round."""
        if self._streams_now is None:
            try:
                self._streams_now = self.control.streams()
            except OSError as exc:
                log.warning("live encoder: nginx-rtmp's statistics are unreachable (%s)", exc)
                self._streams_now = {}
        return self._streams_now

    def _take(self, show_id: int) -> _Encode | None:
        """Claim the show (one encoder at a time) and load what it has published so far."""
        now = clock.now()
        with self.ctx.db.session(write=True) as session:
            claimed = session.execute(
                update(LiveShow)
                .where(
                    LiveShow.id == show_id,
                    or_(
                        LiveShow.encoder_id.is_(None),
                        LiveShow.encoder_id == self.encoder_id,
                        LiveShow.encoder_seen_at < now - timedelta(seconds=HOLD_FOR_S),
                    ),
                )
                .values(encoder_id=self.encoder_id, encoder_seen_at=now)
            )
            if getattr(claimed, "rowcount", 0) != 1:
                return None
            show = session.get(LiveShow, show_id)
            assert show is not None
            encode = _Encode(show_id, show.media_prefix, show.renditions, _segments(session, show_id))
        self._encodes[show_id] = encode
        return encode

    def _let_go(self, show_id: int, *, release: bool) -> None:
        encode = self._encodes.pop(show_id, None)
        if encode is None:
            return
        if encode.run is not None:
            encode.run.process.kill()
            encode.run.process.wait()
            shutil.rmtree(encode.run.out_dir, ignore_errors=True)
        if release:
            with self.ctx.db.session(write=True) as session:
                session.execute(
                    update(LiveShow)
                    .where(LiveShow.id == show_id, LiveShow.encoder_id == self.encoder_id)
                    .values(encoder_id=None)
                )

    # A stream's checks and its ffmpeg run ----------------------------------------------------------------------

    def _check_and_start(self, encode: _Encode, info: rtmp.StreamInfo) -> None:
        problem = self._problem(info)
        if problem == "":
            return  # its metadata has not come yet
        if problem is not None:
            log.info("live show %s: dropping its stream: %s", encode.show_id, problem)
            encode.refused_client = info.client_id
            with self.ctx.db.session(write=True) as session:
                live.note_stream_problem(session, encode.show_id, problem)
            self._drop(encode.show_id)
            return
        self._start(encode, info)

    def _problem(self, info: rtmp.StreamInfo) -> str | None:
        """Why the stream cannot be taken (None: it can; "": not known yet)."""
        if info.video_codec is None or not info.height:
            if info.publishing_ms < WAIT_FOR_VIDEO_MS:
                return ""
            return _("The stream carries no video: send H.264 video (and AAC sound).")
        if info.video_codec != "H264":
            return _(
                "The stream's video is {codec}: send H.264 (x264 or a hardware H.264 encoder).",
                codec=info.video_codec[:20],
            )
        if info.audio_codec is not None and info.audio_codec not in AUDIO_CODECS:
            return _("The stream's sound is {codec}: send AAC (or MP3), or no sound.", codec=info.audio_codec[:20])
        cap = self.ctx.settings.live_max_source_height
        # The publisher's metadata names the size: bounded here, and again by the decoder's -max_pixels.
        if info.height > cap or info.width > cap * MAX_ASPECT:
            return _(
                "The stream is {width}x{height}: this server takes at most {cap} lines; send less.",
                width=info.width,
                height=info.height,
                cap=cap,
            )
        if not info.width or not 1 / MAX_ASPECT <= info.width / info.height <= MAX_ASPECT:
            return _(
                "The stream's picture, {width}x{height}, is not a shape a player can show.",
                width=info.width,
                height=info.height,
            )
        return None

    def _start(self, encode: _Encode, info: rtmp.StreamInfo) -> None:
        plan = self._plan(encode, info)
        encode.has_audio, encode.frame_rate = info.audio_codec is not None, info.frame_rate or 30.0
        encode.runs += 1
        out_dir = self.ctx.store.scratch_dir(f"live-{encode.show_id}-{self.encoder_id}-{encode.runs}")
        for rung in plan.renditions:
            (out_dir / rung.name).mkdir()
        start_seq = encode.segments[-1].seq + 1 if encode.segments else 0
        cap = self.ctx.settings.live_max_source_height
        started_at = clock.now()
        args = ladder.live_command(
            rtmp.pull_url(self.ctx.settings, encode.show_id, clock.now().timestamp()),
            out_dir,
            plan,
            info.audio_codec is not None,
            self.ctx.settings.x264_preset,
            start_seq,
            max_pixels=int(cap * cap * MAX_ASPECT),
        )
        with (out_dir / "ffmpeg.log").open("wb") as errors:
            process = subprocess.Popen(
                [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                preexec_fn=die_with_parent,  # an encoder that dies takes its ffmpeg runs with it
            )
        encode.run = _Run(process, out_dir, start_seq, started_at)
        log.info("live show %s: encoding %s from segment %s", encode.show_id, info.name, start_seq)

    def _plan(self, encode: _Encode, info: rtmp.StreamInfo) -> ladder.LadderPlan:
        """The ladder of this run: the show's rungs, chosen by its first stream (capped at its height) and kept for
        every later one, so the replay has one set of rungs."""
        has_audio = info.audio_codec is not None
        if encode.renditions:
            top = encode.renditions[0]
            heights = [rung["height"] for rung in encode.renditions]
            probe = ProbeResult(0.0, top["width"], top["height"], info.frame_rate or 30.0, has_audio, "flv")
            return ladder.plan_ladder(probe, heights, ladder.LIVE_SEGMENT_SECONDS)
        probe = ProbeResult(0.0, info.width, info.height, info.frame_rate or 30.0, has_audio, "flv")
        plan = ladder.plan_ladder(probe, self.ctx.settings.live_ladder_heights, ladder.LIVE_SEGMENT_SECONDS)
        audio_kbps = ladder.AUDIO_KBPS if has_audio else 0
        encode.renditions = [
            {"height": r.height, "width": r.width, "bandwidth": int((r.video_kbps * 1.07 + audio_kbps) * 1000)}
            for r in plan.renditions
        ]
        encode.prefix = f"live/{encode.show_id}/hls-{secrets.token_hex(4)}"
        self._put_text(f"{encode.prefix}/{hls.MASTER}", hls.master_playlist(encode.renditions))
        with self.ctx.db.session(write=True) as session:
            session.execute(
                update(LiveShow)
                .where(LiveShow.id == encode.show_id)
                .values(media_prefix=encode.prefix, renditions=encode.renditions)
            )
        return plan

    def _stop(self, run: _Run) -> None:
        """Ask ffmpeg to finish: it writes out its last segment and playlists, then exits."""
        run.stop_asked_at = time.monotonic()
        if run.process.poll() is None:
            run.process.send_signal(signal.SIGINT)

    def _wait(self, run: _Run, deadline: float) -> None:
        try:
            run.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            run.process.kill()
            run.process.wait()

    def _drop(self, show_id: int) -> None:
        try:
            self.control.drop_publisher(rtmp.stream_name(show_id))
        except OSError as exc:
            log.warning("live show %s: nginx-rtmp's control is unreachable (%s)", show_id, exc)

    # Publishing ---------------------------------------------------------------------------------------------------

    def _publish_segments(self, encode: _Encode) -> None:
        """Move the run's finished segments into the store, record them and rewrite the live playlists; once
        ffmpeg has exited, the run is over (what it finished is published first). Safe to repeat after a failure
        part-way: a segment already moved is not moved again, and one already recorded not recorded twice."""
        run = encode.run
        assert run is not None and encode.prefix is not None and encode.renditions is not None
        exited = run.process.poll() is not None
        if not exited and run.stop_asked_at is not None and time.monotonic() - run.stop_asked_at > STOP_WAIT_S:
            run.process.kill()
            run.process.wait()
            exited = True
        names = [f"{rung['height']}p" for rung in encode.renditions]
        listed = [hls.parse_run_playlist(_read(run.out_dir / name / hls.MEDIA)) for name in names]
        ready = min(len(entries) for entries in listed)
        for index in range(run.moved, ready):
            seq = run.start_seq + index
            for name, entries in zip(names, listed, strict=True):
                source = run.out_dir / name / Path(entries[index].uri).name
                if source.exists():  # else moved by an earlier try
                    self.ctx.store.put_file(source, f"{encode.prefix}/{name}/{hls.segment_name(seq)}")
            first = listed[0][index]
            if run.lag is None:
                run.lag = max(timedelta(0), (first.program_time or run.started_at) - run.started_at)
            program_time = (first.program_time or clock.now()) - run.lag
            run.unrecorded.append(hls.Segment(seq, program_time, first.duration_s, index == 0 and seq > 0))
            run.moved = index + 1
        if run.unrecorded:
            self._record(encode.show_id, run.unrecorded)
            encode.segments += run.unrecorded
            run.unrecorded = []
            self._write_playlists(encode, ended=False)
        if exited:
            if run.process.returncode not in (0, 255, -signal.SIGINT):
                log.warning(
                    "live show %s: ffmpeg exited with %s: %s",
                    encode.show_id,
                    run.process.returncode,
                    _PULL_TOKEN.sub("pull=…", _read(run.out_dir / "ffmpeg.log")[-500:]),
                )
            encode.run = None
            shutil.rmtree(run.out_dir, ignore_errors=True)

    def _record(self, show_id: int, segments: list[hls.Segment]) -> None:
        """The segments in `live_segments`, while this encoder still holds the show (ShowGone if it does not)."""
        with self.ctx.db.session(write=True) as session:
            holder = session.scalar(select(LiveShow.encoder_id).where(LiveShow.id == show_id).with_for_update())
            if holder != self.encoder_id:
                raise ShowGone(show_id)
            known = set(
                session.scalars(
                    select(LiveSegment.seq).where(LiveSegment.show_id == show_id, LiveSegment.seq >= segments[0].seq)
                )
            )
            rows = [
                {
                    "show_id": show_id,
                    "seq": s.seq,
                    "program_time": s.program_time,
                    "duration_s": s.duration_s,
                    "discontinuity": s.discontinuity,
                }
                for s in segments
                if s.seq not in known
            ]
            if rows:
                session.execute(insert(LiveSegment), rows)

    def _write_playlists(self, encode: _Encode, *, ended: bool, window: bool = False) -> None:
        assert encode.prefix is not None and encode.renditions is not None
        text = hls.media_playlist(encode.segments, ended=ended, window=window)
        for rung in encode.renditions:
            self._put_text(f"{encode.prefix}/{rung['height']}p/{hls.MEDIA}", text)

    def _put_text(self, key: str, text: str) -> None:
        with tempfile.NamedTemporaryFile("w", dir=self.ctx.store.work_root, delete=False, suffix=".txt") as out:
            out.write(text)
        try:
            self.ctx.store.put_file(Path(out.name), key)
        finally:
            Path(out.name).unlink(missing_ok=True)

    # The replay ---------------------------------------------------------------------------------------------------

    def _finish(self, encode: _Encode) -> None:
        """The show ended and its last run is published. First the live playlists end (players watching stop
        polling them); a few seconds later they list every segment as a VOD, and the recording becomes the host's
        replay video, in the transaction that marks the show done (a failure: tried again a minute later)."""
        if encode.segments and encode.ended_at is None:
            self._write_playlists(encode, ended=True, window=True)
            encode.ended_at = time.monotonic()
        if encode.ended_at is not None and time.monotonic() - encode.ended_at < REPLAY_AFTER_S:
            return
        try:
            self._make_replay(encode)
        except ShowGone:
            raise
        except Exception:
            log.exception("live show %s: its replay could not be made; trying again in a minute", encode.show_id)
            encode.retry_at = time.monotonic() + 60
            return
        del self._encodes[encode.show_id]

    def _make_replay(self, encode: _Encode) -> None:
        replay_id: int | None = None
        if encode.segments:
            assert encode.prefix is not None and encode.renditions is not None
            self._write_playlists(encode, ended=True)
            duration_s = sum(segment.duration_s for segment in encode.segments)
            self._write_poster(encode, duration_s)
            self._put_text(f"{encode.prefix}/{ladder.THUMBS_VTT}", "WEBVTT\n")
        with self.ctx.db.session(write=True) as session:
            show = session.get(LiveShow, encode.show_id, with_for_update=True)
            if show is None or show.encoder_id != self.encoder_id:
                raise ShowGone(encode.show_id)
            if encode.segments:
                assert encode.prefix is not None and encode.renditions is not None
                top, now = encode.renditions[0], clock.now()
                video = Video(
                    owner_id=show.host_id,
                    title=show.title,
                    description=f"Recorded live on {encode.segments[0].program_time:%Y-%m-%d}.",
                    status=VideoStatus.ready.value,
                    progress=1.0,
                    duration_s=round(duration_s, 3),
                    width=top["width"],
                    height=top["height"],
                    frame_rate=encode.frame_rate,
                    has_audio=encode.has_audio,
                    renditions=encode.renditions,
                    output_key=encode.prefix,
                    allow_merchant_tags=False,
                    created_at=now,
                    ready_at=now,
                )
                session.add(video)
                session.flush()
                replay_id = video.id
                self._tag_replay(session, show, video.id, encode.segments)
                self.ctx.queue.enqueue_after_commit(session, HIGHLIGHTS_JOB, show.id)
            show.replay_video_id, show.replay_made_at, show.encoder_id = replay_id, clock.now(), None
        log.info("live show %s: ended; replay video %s", encode.show_id, replay_id)

    def _tag_replay(self, session: Session, show: LiveShow, video_id: int, segments: list[hls.Segment]) -> None:
        """The show's moments on the replay's timeline: each pin as a tag of its product from the second it was
        pinned to the second it was unpinned, each flash sale as a tag over its minutes, at the same stream times."""
        host = session.get(User, show.host_id)
        assert host is not None  # a show goes with its host
        end = sum(segment.duration_s for segment in segments)
        pins = controls.pins(session, show.id)
        moments = [(pin.product_id, pin.pinned_at, pin.unpinned_at, "Pinned live") for pin in pins]
        sales = session.scalars(select(FlashSale).where(FlashSale.show_id == show.id).order_by(FlashSale.id))
        moments += [(s.product_id, s.starts_at, min(s.ends_at, s.closed_at or s.ends_at), "Flash sale") for s in sales]
        for product_id, start, stop, label in moments[:MAX_TAGS_PER_VIDEO]:
            start_s = hls.replay_second(segments, start)
            stop_s = hls.replay_second(segments, stop) if stop is not None else None
            stop_s = end if stop_s is None else stop_s
            if start_s is None or stop_s - start_s < 0.5:
                continue  # pinned after the last frame, or for less than a frame or two
            spec = TagSpec(product_id=product_id, start_s=start_s, end_s=stop_s, label=label)
            try:
                with session.begin_nested():
                    shoppable.create_tag(self.ctx, session, video_id, host, spec)
            except VetrinaError as refused:  # the product was deleted since: the replay goes on without its tag
                log.info("live show %s: replay tag of product %s left out: %s", show.id, product_id, refused)

    def _write_poster(self, encode: _Encode, duration_s: float) -> None:
        """The replay's poster: a frame from a tenth of the way in (at most 5 s), as for an upload."""
        assert encode.prefix is not None and encode.renditions is not None
        at, elapsed = min(duration_s * 0.1, 5.0), 0.0
        segment = encode.segments[-1]
        for candidate in encode.segments:
            if elapsed + candidate.duration_s > at:
                segment = candidate
                break
            elapsed += candidate.duration_s
        name = f"{encode.renditions[0]['height']}p/{hls.segment_name(segment.seq)}"
        poster = self.ctx.store.work_root / f"poster-{encode.show_id}-{self.encoder_id}.jpg"
        with self.ctx.store.local_copy(f"{encode.prefix}/{name}") as source:
            subprocess.run(
                [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(source)]
                + ["-frames:v", "1", "-q:v", "3", str(poster)],
                check=True,
                timeout=60,
                capture_output=True,
            )
        self.ctx.store.put_file(poster, f"{encode.prefix}/{ladder.POSTER}")


def _segments(session: Session, show_id: int) -> list[hls.Segment]:
    rows: Sequence[LiveSegment] = session.scalars(
        select(LiveSegment).where(LiveSegment.show_id == show_id).order_by(LiveSegment.seq)
    ).all()
    return [hls.Segment(row.seq, row.program_time, row.duration_s, row.discontinuity) for row in rows]


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
