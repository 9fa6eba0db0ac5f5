"""The one ffmpeg runner: the static build shipped by imageio-ffmpeg, with progress read from -progress."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Sequence
from functools import cache

import imageio_ffmpeg


class FfmpegFailed(RuntimeError):
    """ffmpeg exited non-zero; `stderr_tail` holds its last words."""

    def __init__(self, returncode: int, stderr_tail: str) -> None:
        super().__init__(f"ffmpeg exited with {returncode}: {stderr_tail}")
        self.returncode = returncode
        self.stderr_tail = stderr_tail


@cache
def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(
    args: Sequence[str],
    on_progress: Callable[[float], object] | None = None,
    timeout_s: float | None = None,
) -> None:
    """Run ffmpeg with `args`; `on_progress` gets the seconds of output written so far."""
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    if on_progress is not None:
        command += ["-progress", "pipe:1", "-nostats"]
    process = subprocess.Popen(
        [*command, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace"
    )
    stdout, stderr = process.stdout, process.stderr
    assert stdout is not None and stderr is not None  # both are pipes (for the type checker)
    stderr_chunks: list[str] = []
    drain = threading.Thread(target=lambda: stderr_chunks.append(stderr.read()), daemon=True)
    drain.start()
    try:
        for line in stdout:
            key, _, value = line.strip().partition("=")
            if on_progress is not None and key == "out_time_us" and value.isdigit():
                on_progress(int(value) / 1_000_000)
        process.wait(timeout=timeout_s)
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        drain.join(timeout=5)
    if process.returncode != 0:
        tail = "".join(stderr_chunks).strip().splitlines()[-3:]
        raise FfmpegFailed(process.returncode, " | ".join(tail) or "no message")
