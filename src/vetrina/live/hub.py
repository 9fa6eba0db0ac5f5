"""The fan-out of show events to the event streams a web process serves (`GET /api/v1/live/{id}/events`).

An event is written once as a Server-Sent Events frame and handed to every viewer's queue on the event loop in one
call. With VETRINA_REDIS_URL the frame goes through Redis pub/sub first, so the viewers of every web process get it;
without, it goes straight to this process's viewers (one process serves them all). A viewer too slow to keep up is
dropped (its queue is bounded): its browser reconnects with Last-Event-ID and gets what it missed from the database.
Viewer counts: each process counts its own streams, and with Redis adds them up in a hash that forgets a process
gone quiet."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import redis

from vetrina import clock
from vetrina.live.hls import program_time_text

log = logging.getLogger(__name__)
QUEUE_FRAMES = 256  # deliveries (an event's frames, sent as one chunk) a viewer may fall behind before it is dropped
COUNT_TTL_S = 15  # a process's viewer count is forgotten this long after it last wrote it
CLOSED = ""  # the frame that tells a dropped viewer's stream to end
STREAMS_PER_ADDRESS = 20  # open event streams one client address may hold in one process


@dataclass(eq=False)
class Viewer:
    """One open event stream: its frames, in order, and whether it was dropped for falling behind."""

    show_id: int
    frames: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_FRAMES))
    dropped: bool = False


def sse_frame(event_id: int | None, event_type: str, data: object) -> str:
    """One Server-Sent Events frame (the data on one line: JSON has no newlines)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event_type}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def fleeting_frame(kind: str, payload: dict[str, object]) -> str:
    """A frame of something not kept (a reaction, a viewer count): no id, stamped with the stream time of now."""
    at = program_time_text(clock.now())
    return sse_frame(None, kind, {"type": kind, "stream_time": at, "payload": payload})


class LiveHub:
    def __init__(self, redis_url: str | None, channel: str, streams_per_address: int | None = STREAMS_PER_ADDRESS):
        self.channel = channel
        self.streams_per_address = streams_per_address  # None: no cap (rate limits off, for load benchmarks)
        self._viewers: dict[int, set[Viewer]] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._node = uuid.uuid4().hex[:12]
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=5) if redis_url else None
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self._by_address: dict[str, int] = {}

    # Viewers (on the event loop) -------------------------------------------------------------------------------

    def admit(self, address: str) -> bool:
        """Count one more stream of `address`, unless it already holds STREAMS_PER_ADDRESS (a stranger cannot hold
        a process's connections, nor inflate a show's viewer count, from one address)."""
        cap = self.streams_per_address
        if cap is not None and self._by_address.get(address, 0) >= cap:
            return False
        self._by_address[address] = self._by_address.get(address, 0) + 1
        return True

    def release(self, address: str) -> None:
        left = self._by_address.get(address, 0) - 1
        if left > 0:
            self._by_address[address] = left
        else:
            self._by_address.pop(address, None)

    def join(self, show_id: int) -> Viewer:
        self._loop = asyncio.get_running_loop()
        if self._redis is not None and self._listener is None:
            self._listen()
        viewer = Viewer(show_id)
        with self._lock:
            self._viewers.setdefault(show_id, set()).add(viewer)
        return viewer

    def leave(self, viewer: Viewer) -> None:
        with self._lock:
            watching = self._viewers.get(viewer.show_id)
            if watching is not None:
                watching.discard(viewer)
                if not watching:
                    del self._viewers[viewer.show_id]

    def local_count(self, show_id: int) -> int:
        with self._lock:
            return len(self._viewers.get(show_id, ()))

    def shows_watched(self) -> list[int]:
        with self._lock:
            return list(self._viewers)

    def viewer_count(self, show_id: int) -> int:
        """Viewers of the show on every process (this one's count written for the others)."""
        mine = self.local_count(show_id)
        if self._redis is None:
            return mine
        key, now = f"{self.channel}:viewers:{show_id}", int(clock.now().timestamp())
        try:
            pipe = self._redis.pipeline()
            pipe.hset(key, self._node, f"{mine}:{now}")
            pipe.expire(key, COUNT_TTL_S)
            pipe.hvals(key)
            counts = pipe.execute()[-1]
        except redis.RedisError as exc:
            log.warning("live viewer counts: Redis unreachable (%s); counting this process only", exc)
            return mine
        total = 0
        for value in counts:  # "count:when written"; a process that stopped writing is not counted
            count, _, written = value.decode().partition(":")
            if count.isdigit() and written.isdigit() and now - int(written) <= COUNT_TTL_S:
                total += int(count)
        return total

    # Frames (from any thread) ------------------------------------------------------------------------------------

    def publish(self, show_id: int, frames: Iterable[str]) -> None:
        """Send the frames to every viewer of the show, on every process."""
        frames = list(frames)
        if not frames:
            return
        if self._redis is None:
            self.deliver(show_id, frames)
            return
        try:
            self._redis.publish(self.channel, json.dumps({"show": show_id, "frames": frames}))
        except redis.RedisError as exc:
            log.warning("live events: Redis unreachable (%s); only this process's viewers get them", exc)
            self.deliver(show_id, frames)

    def deliver(self, show_id: int, frames: list[str]) -> None:
        """Hand the frames to this process's viewers of the show."""
        self._on_loop(show_id, _enqueue, frames)

    def end(self, show_id: int, frame: str) -> None:
        """Send this process's viewers of the show a last frame, and end their streams (the show is over)."""
        self._on_loop(show_id, _end, frame)

    def _on_loop(self, show_id: int, work: Callable[[list[Viewer], Any], None], argument: object) -> None:
        """Run `work` on this process's viewers of the show, on the event loop that serves them (from any thread)."""
        loop = self._loop
        with self._lock:
            viewers = list(self._viewers.get(show_id, ()))
        if loop is not None and viewers and not loop.is_closed():
            loop.call_soon_threadsafe(work, viewers, argument)

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(timeout=5)
        if self._redis is not None:
            self._redis.close()

    def _listen(self) -> None:
        with self._lock:
            if self._listener is None:
                self._listener = threading.Thread(target=self._run, name="live-events", daemon=True)
                self._listener.start()

    def _run(self) -> None:
        assert self._redis is not None
        while not self._stop.is_set():
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message is not None:
                        body = json.loads(message["data"])
                        self.deliver(int(body["show"]), [str(frame) for frame in body["frames"]])
                pubsub.close()
            except (redis.RedisError, ValueError, KeyError) as exc:
                log.warning("live events: lost the Redis channel (%s); listening again shortly", exc)
                self._stop.wait(1.0)


def _enqueue(viewers: list[Viewer], frames: list[str]) -> None:
    # One chunk per delivery (an unpin and the pin that replaces it are one write to each viewer): the cost of a
    # delivery is per viewer and per chunk, hardly per byte.
    chunk = "".join(frames)
    for viewer in viewers:
        if viewer.dropped:
            continue
        try:
            viewer.frames.put_nowait(chunk)
        except asyncio.QueueFull:
            viewer.dropped = True
            viewer.frames = asyncio.Queue(1)
            viewer.frames.put_nowait(CLOSED)


def _end(viewers: list[Viewer], frame: str) -> None:
    for viewer in viewers:
        if viewer.dropped:
            continue  # its stream ends already
        viewer.dropped = True  # nothing more is queued for it
        while not viewer.frames.empty():  # what it has not sent yet is moot (its stream may be waiting on this queue)
            viewer.frames.get_nowait()
        viewer.frames.put_nowait(frame)
        viewer.frames.put_nowait(CLOSED)
