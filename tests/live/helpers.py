"""Live-show test helpers: nginx-rtmp with the shipped config in front of a served Vetrina, and ffmpeg publishing
a generated picture to it, as OBS would."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import imageio_ffmpeg
from playwright.sync_api import Error as PlaywrightError

from tests.helpers import wait_for
from vetrina.live import rtmp
from vetrina.live.latency import READ_CLOCK_JS, clock_strip_filter
from vetrina.settings import Settings


def rtmp_missing() -> str | None:
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        return "Debian's nginx is not installed (make test installs it where it can)"
    if not rtmp.MODULE.exists():
        return "libnginx-mod-rtmp is not installed (make test installs it where it can)"
    return None


@contextmanager
def nginx_rtmp(directory: Path, settings: Settings, vetrina_url: str) -> Iterator[str]:
    """The shipped nginx-rtmp config (as `vetrina live rtmp-config` renders it) on the loopback ports `settings`
    names (its pull and control URLs), calling `vetrina_url` back; yields the `live` application's RTMP URL."""
    directory.mkdir(parents=True, exist_ok=True)
    port = urlsplit(settings.live_rtmp_pull_url).port
    assert port is not None
    config = rtmp.nginx_config(
        settings,
        vetrina_url,
        listen=f"127.0.0.1:{port}",
        pid_file=directory / "nginx.pid",
        error_log=directory / "error.log",
    )
    # In the foreground, for the test to stop; as root, workers would switch to nobody, who cannot enter tmp_path.
    (directory / "nginx.conf").write_text(f"daemon off;\n{'user root;' if os.geteuid() == 0 else ''}\n{config}")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    command = [nginx, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-e", str(directory / "error.log")]
    check = subprocess.run([nginx, "-t", *command[1:]], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _listening(port), timeout_s=15, message="nginx-rtmp to listen")
        yield settings.live_rtmp_pull_url
    finally:
        process.terminate()
        process.wait(timeout=15)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def publish(
    url: str,
    seconds: float,
    *,
    size: str = "320x240",
    rate: int = 15,
    video: list[str] | None = None,
    picture: bool = True,
    sound: bool = True,
    clock_base_us: int | None = None,
) -> subprocess.Popen:
    """ffmpeg streaming `seconds` of a generated picture and sound (each unless told) to `url` in real time (-re), as
    a host's encoder does; `video` replaces the H.264 encoding; with `clock_base_us`, the wall clock is burned into
    the picture (vetrina.live.latency); the caller waits for it."""
    inputs = ["-re", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"] if picture else []
    if sound:
        inputs += ([] if picture else ["-re"]) + ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    encoding = video if video is not None else ["-c:v", "libx264", "-preset", "ultrafast", "-g", str(rate)]
    if clock_base_us is not None:
        mapping = ["-filter_complex", clock_strip_filter(clock_base_us), "-map", "[clocked]"]
        encoding = mapping + (["-map", "1:a"] if sound else []) + encoding
    return subprocess.Popen(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", *inputs]
        + (encoding if picture else [])
        + (["-c:a", "aac"] if sound else [])
        + ["-f", "flv", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def go_live(client, settings: Settings, key: str, client_id: str = "7") -> None:
    """Turn a show live as nginx-rtmp's on_publish callback would, without a stream (`client`: a TestClient)."""
    secret = rtmp.callback_secret(settings)
    fields = {"call": "publish", "app": "live", "name": key, "addr": "127.0.0.1", "clientid": client_id}
    answer = client.post(f"/rtmp/{secret}/on_publish", data=fields, follow_redirects=False)
    assert answer.status_code == 302, answer.text


def live_show(client, ctx, merchant, product_ids: list[int]) -> dict:
    """A show of `merchant`'s featuring `product_ids`, turned live (by the RTMP callback, without a stream)."""
    show = client.post("/api/v1/live", headers=merchant.auth, json={"title": "Flash", "product_ids": product_ids})
    go_live(client, ctx.settings, show.json()["stream_key"])
    return show.json()


def sale_body(product_id: int, **changes) -> dict:
    """A flash sale's body: 3 units at 5.00 EUR for 60 s, one each, unless `changes` says otherwise."""
    return {
        "product_id": product_id,
        "price": {"amount": 500, "currency": "EUR"},
        "quantity": 3,
        "seconds": 60,
        "per_buyer": 1,
        **changes,
    }


def read_clock(page, source_width: int = 854) -> dict | None:
    """The camera clock of the frame on screen (vetrina.live.latency); None before a frame shows, and while the
    show's page reloads itself (it does until the stream starts), which ends a script under way."""
    try:
        return page.evaluate(READ_CLOCK_JS, [source_width])
    except PlaywrightError as error:
        if "Execution context was destroyed" in str(error):
            return None
        raise
