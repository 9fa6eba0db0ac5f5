"""Tells every process of a deployment what changed, so each drops its cached copies within a second.

With VETRINA_REDIS_URL set, a change is published on a Redis channel of the deployment (`VETRINA_QUEUE_NAME`) and
every process that caches listens in a thread of its own. A message lost (Redis restarting) costs freshness, never
correctness: the caches' own time-to-live still bounds how stale a copy can be. Without Redis there is no bus and
the time-to-live alone applies to other processes."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)

OnChange = Callable[[str, int | None], None]
EVERYTHING = "*"  # the topic of "drop every cached copy"


class ChangeBus:
    def __init__(self, redis_url: str, channel: str, on_change: OnChange) -> None:
        self._client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
        self.channel = channel
        self._on_change = on_change
        self._origin = uuid.uuid4().hex  # this process's own messages are already applied
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self._subscribed = threading.Event()
        self._lock = threading.Lock()

    def publish(self, topic: str, key: int | None) -> None:
        message = json.dumps({"origin": self._origin, "topic": topic, "key": key})
        try:
            self._client.publish(self.channel, message)
        except redis.RedisError as exc:
            log.warning("could not tell other processes that %s changed (%s): their caches expire instead", topic, exc)

    def listen(self, wait_s: float = 2.0) -> None:
        """Start hearing other processes' changes (once), waiting up to `wait_s` for the subscription to hold."""
        with self._lock:
            if self._listener is None:
                self._listener = threading.Thread(target=self._run, name="vetrina-changes", daemon=True)
                self._listener.start()
        self._subscribed.wait(wait_s)

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(timeout=5)
        self._client.close()

    def _run(self) -> None:
        heard_before = False
        while not self._stop.is_set():
            try:
                pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                if heard_before:  # changes made while we were deaf went unheard: forget everything once
                    self._on_change(EVERYTHING, None)
                heard_before = True
                self._subscribed.set()
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message is not None:
                        self._apply(message["data"])
                pubsub.close()
            except redis.RedisError as exc:
                log.warning("lost the change channel (%s); listening again shortly", exc)
                self._stop.wait(1.0)

    def _apply(self, data: bytes) -> None:
        try:
            message = json.loads(data)
            if message["origin"] != self._origin:
                key = message["key"]
                self._on_change(str(message["topic"]), int(key) if key is not None else None)
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed change message: %r", data[:200])
