"""The RTMP server's side: the nginx-rtmp configuration Vetrina ships, the secrets that let only that server call
the publish checks (`/rtmp/{secret}/on_publish` and the rest) and only Vetrina's encoder pull a show's raw stream,
and the client of nginx-rtmp's statistics and control (what a stream carries; drop a stream Vetrina cannot take)."""

from __future__ import annotations

import hashlib
import hmac
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from string import Template

import defusedxml.ElementTree as SafeXml

from vetrina.settings import Settings

MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")  # Debian's libnginx-mod-rtmp
UPDATE_EVERY_S = 5  # how often nginx re-checks a publisher: a replaced key or an ended show is dropped within it
APPLICATION = "live"
_STREAM_PREFIX = "show-"


def callback_secret(settings: Settings) -> str:
    """The path segment nginx's callbacks carry: derived from the signing key, so a stranger cannot turn a show
    live or learn which keys exist."""
    return hmac.new(settings.signing_key, b"rtmp-callbacks", hashlib.sha256).hexdigest()[:32]


def is_callback_secret(settings: Settings, given: str) -> bool:
    return hmac.compare_digest(given.encode(), callback_secret(settings).encode())


def stream_name(show_id: int) -> str:
    """What nginx calls a show's stream once it is accepted: `on_publish` renames it from the key (a 3xx answer),
    so the key never appears where the stream is pulled, listed or dropped."""
    return f"{_STREAM_PREFIX}{show_id}"


def show_of_stream(name: str) -> int | None:
    number = name.removeprefix(_STREAM_PREFIX)
    return int(number) if name.startswith(_STREAM_PREFIX) and number.isdigit() and len(number) < 12 else None


PULL_TOKEN_TTL_S = 60  # a pull token starts a pull within this; the pull it started goes on


def pull_token(settings: Settings, name: str, now_ts: float) -> str:
    """What the live encoder adds to a stream's play URL: nginx asks `on_play`, which lets only such a token start
    pulling the raw stream (viewers watch the HLS), whatever address the player comes from (an RTMPS proxy's is
    loopback); it expires a minute after it is made, so one seen in a process list or a log opens nothing later."""
    expires = int(now_ts) + PULL_TOKEN_TTL_S
    return f"{expires}.{_pull_signature(settings, name, expires)}"


def _pull_signature(settings: Settings, name: str, expires: int) -> str:
    return hmac.new(settings.signing_key, f"rtmp-pull:{name}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def is_pull_token(settings: Settings, name: str, given: str, now_ts: float | None) -> bool:
    """Whether `given` is the encoder's token for `name`; with `now_ts` (a pull starting), also unexpired."""
    expires_text, _, signature = given.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12:
        return False
    expires = int(expires_text)
    if now_ts is not None and expires < now_ts:
        return False
    return hmac.compare_digest(signature.encode(), _pull_signature(settings, name, expires).encode())


def pull_url(settings: Settings, show_id: int, now_ts: float) -> str:
    name = stream_name(show_id)
    return f"{settings.live_rtmp_pull_url.rstrip('/')}/{name}?pull={pull_token(settings, name, now_ts)}"


def nginx_config(
    settings: Settings,
    vetrina_url: str,
    *,
    listen: str = "1935",
    control_listen: str | None = None,
    pid_file: Path = Path("/run/vetrina-rtmp.pid"),
    error_log: Path = Path("/var/log/nginx/vetrina-rtmp.log"),
    module: Path | None = MODULE,
    temp_dir: Path | None = None,
) -> str:
    """The nginx.conf for the RTMP ingest: `vetrina_url` is where nginx reaches Vetrina (e.g. http://127.0.0.1:8000);
    `control_listen` the loopback HTTP address of its statistics and control (by default the host and port of
    VETRINA_LIVE_RTMP_CONTROL_URL); `module` None when the rtmp module is loaded elsewhere (a Debian nginx loads it
    from modules-enabled); `temp_dir` for nginx's HTTP temporary files when its compiled-in ones are not writable
    (an unprivileged user)."""
    if control_listen is None:
        control = urllib.parse.urlsplit(settings.live_rtmp_control_url)
        host = control.hostname or "127.0.0.1"
        control_listen = f"{f'[{host}]' if ':' in host else host}:{control.port or 80}"
    template = Template((Path(__file__).parent / "nginx-rtmp.conf").read_text())
    return template.substitute(
        load_module=f"load_module {module};" if module is not None else "",
        listen=listen,
        control_listen=control_listen,
        pid_file=pid_file,
        error_log=error_log,
        callbacks=f"{vetrina_url.rstrip('/')}/rtmp/{callback_secret(settings)}",
        update_s=UPDATE_EVERY_S,
        temp_paths="".join(
            f"{kind}_temp_path {temp_dir / kind}; " for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        if temp_dir is not None
        else "",
    )


@dataclass(frozen=True)
class StreamInfo:
    """What a publishing stream carries, as nginx-rtmp read it from the stream's metadata."""

    name: str
    client_id: str  # the publisher's connection
    publishing_ms: int  # how long it has published
    video_codec: str | None  # None: no video (yet)
    width: int
    height: int
    frame_rate: float
    audio_codec: str | None


class RtmpControl:
    """nginx-rtmp's `rtmp_stat` and `rtmp_control` on its loopback HTTP port (VETRINA_LIVE_RTMP_CONTROL_URL)."""

    def __init__(self, base_url: str, timeout_s: float = 3.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def _get(self, path: str) -> bytes:
        # The operator's own loopback address (a setting), never a user's URL.
        with urllib.request.urlopen(self.base_url + path, timeout=self.timeout_s) as answer:  # noqa: S310
            return bytes(answer.read(8 * 1024**2))

    def streams(self) -> dict[str, StreamInfo]:
        """The streams being published now, by name."""
        root = SafeXml.fromstring(self._get("/stat"))
        found: dict[str, StreamInfo] = {}
        for application in root.iter("application"):
            if application.findtext("name") != APPLICATION:
                continue
            for stream in application.iter("stream"):
                publisher = next((c for c in stream.iter("client") if c.find("publishing") is not None), None)
                if publisher is None:
                    continue
                video, audio = stream.find("meta/video"), stream.find("meta/audio")
                # nginx-rtmp writes both elements for every stream: no codec in one means no such track.
                name = stream.findtext("name") or ""
                found[name] = StreamInfo(
                    name=name,
                    client_id=publisher.findtext("id") or "",
                    publishing_ms=_number(publisher.findtext("time")),
                    video_codec=(video.findtext("codec") or None) if video is not None else None,
                    width=_number(video.findtext("width")) if video is not None else 0,
                    height=_number(video.findtext("height")) if video is not None else 0,
                    frame_rate=float(_number(video.findtext("frame_rate"))) if video is not None else 0.0,
                    audio_codec=(audio.findtext("codec") or None) if audio is not None else None,
                )
        return found

    def drop_publisher(self, name: str) -> None:
        query = urllib.parse.urlencode({"app": APPLICATION, "name": name})
        self._get(f"/control/drop/publisher?{query}")


def _number(text: str | None) -> int:
    try:
        return max(0, int(float(text or 0)))
    except ValueError:
        return 0
