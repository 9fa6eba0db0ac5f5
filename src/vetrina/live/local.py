"""The live stack on one machine, for `vetrina serve`: nginx-rtmp with the shipped config, and the live encoder, as
child processes that start and stop with the server (a deployment runs them as services of their own instead)."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from vetrina.live import rtmp
from vetrina.settings import Settings

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def nginx_binary() -> str | None:
    """Debian's nginx, when it and libnginx-mod-rtmp are installed."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    return found if found and rtmp.MODULE.exists() else None


def die_with_parent() -> None:
    """In a child process, before it runs: the kernel sends it SIGTERM when its parent dies, however it dies (a
    SIGKILL skips every clean-up), so no nginx-rtmp, encoder or ffmpeg run is left behind."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@contextmanager
def local_live_stack(settings: Settings, vetrina_url: str) -> Iterator[bool]:
    """nginx-rtmp (listening where VETRINA_LIVE_RTMP_PULL_URL and VETRINA_LIVE_RTMP_CONTROL_URL say) and `vetrina
    live encoder` while the block runs; yields whether they started (no nginx, or a port taken: no live shows)."""
    nginx = nginx_binary()
    if nginx is None:
        log.warning("live shows: nginx with libnginx-mod-rtmp is not installed, so nobody can go live here")
        yield False
        return
    directory = (settings.data_dir / "rtmp").resolve()
    (directory / "tmp").mkdir(parents=True, exist_ok=True)
    pull = urlsplit(settings.live_rtmp_pull_url)
    config = rtmp.nginx_config(
        settings,
        vetrina_url,
        listen=f"{pull.hostname or '127.0.0.1'}:{pull.port or 1935}",
        pid_file=directory / "nginx.pid",
        error_log=directory / "error.log",
        temp_dir=directory / "tmp",
    )
    (directory / "nginx.conf").write_text("daemon off;\n" + config)
    command = [nginx, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-e", str(directory / "error.log")]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
    time.sleep(0.5)
    if server.poll() is not None:
        tail = (directory / "error.log").read_text(errors="replace").strip().splitlines()[-1:]
        log.warning("live shows: nginx-rtmp did not start (%s)", " ".join(tail) or f"exit {server.returncode}")
        yield False
        return
    encoder = subprocess.Popen(
        [sys.executable, "-m", "vetrina", "live", "encoder"], env=os.environ.copy(), preexec_fn=die_with_parent
    )
    log.info("live shows: publish to %s/STREAM_KEY", settings.live_rtmp_url)
    try:
        yield True
    finally:
        for process in (encoder, server):  # the encoder first: it finishes its last segments from nginx
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
