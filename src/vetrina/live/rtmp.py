"""The RTMP server's side: the nginx-rtmp configuration Vetrina ships, and the secret that lets only that server
call the publish checks (`/rtmp/{secret}/on_publish` and the rest)."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from string import Template

from vetrina.settings import Settings

MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")  # Debian's libnginx-mod-rtmp
UPDATE_EVERY_S = 5  # how often nginx re-checks a publisher: a replaced key or an ended show is dropped within it


def callback_secret(settings: Settings) -> str:
    """The path segment nginx's callbacks carry: derived from the signing key, so a stranger cannot turn a show
    live or learn which keys exist."""
    return hmac.new(settings.signing_key, b"rtmp-callbacks", hashlib.sha256).hexdigest()[:32]


def is_callback_secret(settings: Settings, given: str) -> bool:
    return hmac.compare_digest(given.encode(), callback_secret(settings).encode())


def nginx_config(
    settings: Settings,
    vetrina_url: str,
    *,
    listen: str = "1935",
    pid_file: Path = Path("/run/vetrina-rtmp.pid"),
    error_log: Path = Path("/var/log/nginx/vetrina-rtmp.log"),
    module: Path | None = MODULE,
) -> str:
    """The nginx.conf for the RTMP ingest: `vetrina_url` is where nginx reaches Vetrina (e.g. http://127.0.0.1:8000);
    `module` None when the rtmp module is loaded elsewhere (a Debian nginx loads it from modules-enabled)."""
    template = Template((Path(__file__).parent / "nginx-rtmp.conf").read_text())
    return template.substitute(
        load_module=f"load_module {module};" if module is not None else "",
        listen=listen,
        pid_file=pid_file,
        error_log=error_log,
        callbacks=f"{vetrina_url.rstrip('/')}/rtmp/{callback_secret(settings)}",
        update_s=UPDATE_EVERY_S,
    )
