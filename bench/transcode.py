"""Transcode benchmarks, two of them (`--mode`):

`chunks` (the default): a long source transcoded in one pass by one `vetrina worker` (the reference) against the
same source in parts (VETRINA_TRANSCODE_CHUNK_SECONDS) on two `vetrina worker` processes, one after the other, on
the same machine and with the same CPU budget (both cores). Each run is a real Vetrina: the video is created through
the media service, the workers are separate processes sharing its SQLite database and data directory. Reports the
wall time, the CPU-seconds of the workers and their ffmpeg children (from wait4), and each part's wall time; then
projects the wall time with N workers on N machines of this one's size, from the parts' measured CPU-seconds.

`ladder`: for a generated clip, one after another:
  1. bare ffmpeg, one pass: exactly the command Vetrina's job runs (one decode, every encode);
  2. Vetrina: HTTP upload to a real uvicorn server, probe, queue, transcode, publish, until the API says ready;
  3. bare ffmpeg, one run per rendition: the ladder made the naive way (each run decodes the source again).

    .venv/bin/python bench/transcode.py [--mode chunks] [--seconds 600] [--height 1080] [--chunk-seconds 60]
    .venv/bin/python bench/transcode.py --mode ladder [--seconds 60] [--height 1080] [--repeat 1]
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from live import merchant_client

from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role
from vetrina.media import service as media
from vetrina.media.ffmpeg import ffmpeg_exe, run_ffmpeg
from vetrina.media.ladder import LadderPlan, ladder_command, plan_ladder
from vetrina.media.models import AUDIO_PART, TranscodeChunk, Video
from vetrina.media.probe import probe_video
from vetrina.runtime import build_context
from vetrina.settings import Settings

SECRET = "bench-" + secrets.token_hex(16)


def make_source(path: Path, seconds: int, height: int, preset: str = "veryfast") -> None:
    width = height * 16 // 9
    run_ffmpeg(
        [
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={width}x{height}:rate=30:duration={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:sample_rate=48000:duration={seconds}",
            "-c:v",
            "libx264",
            "-preset",
            preset,
            "-crf",
            "18",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "192k",
            "-shortest",
            str(path),
        ]
    )


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def bare_one_pass(source: Path, work: Path, settings: Settings) -> float:
    probe = probe_video(source, settings.max_duration_s)
    plan = plan_ladder(probe, settings.ladder_heights, settings.segment_seconds)
    out = work / "one-pass"
    shutil.rmtree(out, ignore_errors=True)
    (out / "thumbs").mkdir(parents=True)
    args = ladder_command(source, out, probe, plan, settings.segment_seconds, settings.x264_preset)
    return timed([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args])


def bare_per_rendition(source: Path, work: Path, settings: Settings, plan: LadderPlan) -> float:
    total = 0.0
    gop = str(plan.gop_frames)
    for rendition in plan.renditions:
        out = work / "per-rendition" / rendition.name
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        total += timed(
            [
                ffmpeg_exe(),
                "-hide_banner",
                "-nostdin",
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(source),
                "-vf",
                f"scale={rendition.width}:{rendition.height}:flags=bicubic,format=yuv420p",
                "-c:v",
                "libx264",
                "-preset",
                settings.x264_preset,
                "-profile:v",
                "high",
                "-g",
                gop,
                "-keyint_min",
                gop,
                "-sc_threshold",
                "0",
                "-force_key_frames",
                f"expr:gte(t,n_forced*{settings.segment_seconds})",
                "-b:v",
                f"{rendition.video_kbps}k",
                "-maxrate",
                f"{int(rendition.video_kbps * 1.07)}k",
                "-bufsize",
                f"{rendition.video_kbps * 2}k",
                "-c:a",
                "aac",
                "-b:a",
                "128k",
                "-ac",
                "2",
                "-ar",
                "48000",
                "-f",
                "hls",
                "-hls_time",
                str(settings.segment_seconds),
                "-hls_playlist_type",
                "vod",
                "-hls_segment_filename",
                str(out / "seg_%05d.ts"),
                str(out / "index.m3u8"),
            ]
        )
    return total


def vetrina_upload_to_ready(source: Path, work: Path) -> float:
    with merchant_client(work / f"vetrina-{time.monotonic_ns()}") as http:
        started = time.perf_counter()
        with source.open("rb") as handle:
            response = http.post("/api/v1/videos", data={"title": "bench"}, files={"file": ("src.mp4", handle)})
        response.raise_for_status()
        video_id = response.json()["id"]
        while (body := http.get(f"/api/v1/videos/{video_id}").json())["status"] == "processing":
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    if body["status"] != "ready":
        raise SystemExit(f"Vetrina failed the transcode: {body['error']}")
    return elapsed


def ladder_mode(options: argparse.Namespace) -> None:

    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="vetrina-bench-") as tmp:
        work = Path(tmp)
        source = work / "source.mp4"
        print(f"generating a {options.seconds} s {options.height}p30 clip ...", file=sys.stderr)
        make_source(source, options.seconds, options.height)
        plan = plan_ladder(probe_video(source, 1e9), settings.ladder_heights, settings.segment_seconds)
        runs: dict[str, list[float]] = {"bare": [], "vetrina": [], "per": []}
        for round_number in range(options.repeat):
            print(f"round {round_number + 1}/{options.repeat} ...", file=sys.stderr)
            runs["bare"].append(bare_one_pass(source, work, settings))
            runs["vetrina"].append(vetrina_upload_to_ready(source, work))
            runs["per"].append(bare_per_rendition(source, work, settings, plan))

    bare, ours, per = (statistics.median(runs[k]) for k in ("bare", "vetrina", "per"))
    ladder = ", ".join(f"{r.height}p" for r in plan.renditions)
    print(
        f"\nTranscode: {options.seconds} s {options.height}p30 source -> HLS ladder [{ladder}], "
        f"preset {settings.x264_preset}, median of {options.repeat}\n"
    )
    print(f"| {'path':<46} | {'wall s':>7} | {'realtime x':>10} | {'vs bare one-pass':>16} |")
    print(f"|{'-' * 48}|{'-' * 9}|{'-' * 12}|{'-' * 18}|")
    for name, seconds in [
        ("bare ffmpeg, one pass (reference)", bare),
        ("Vetrina upload-to-ready (HTTP, queue, publish)", ours),
        ("bare ffmpeg, one run per rendition", per),
    ]:
        print(f"| {name:<46} | {seconds:7.2f} | {options.seconds / seconds:10.2f} | {seconds / bare:16.3f} |")
    print(f"\nVetrina overhead ratio: {ours / bare:.3f} (goal <= 1.10)")
    print(f"one pass vs one run per rendition: {per / bare:.2f}x faster")


# Chunked transcoding -------------------------------------------------------------------------------------------------


class Run:
    """One transcode by `workers` real `vetrina worker` processes: wall time, CPU-seconds, and each part's span."""

    def __init__(self, source: Path, data_dir: Path, workers: int, chunk_seconds: int) -> None:
        self.env = {
            **os.environ,
            "VETRINA_DATA_DIR": str(data_dir),
            "VETRINA_SECRET_KEY": SECRET,
            "VETRINA_TRANSCODE_CHUNK_SECONDS": str(chunk_seconds),
            "VETRINA_JOB_POLL_MAX_S": "0.2",
            "VETRINA_LEASE_STALL_SECONDS": "600",  # a part is minutes long; nothing dies here
        }
        self.settings = Settings(data_dir=data_dir, secret_key=SECRET, transcode_chunk_seconds=chunk_seconds)
        self.source, self.workers = source, workers
        self.parts: dict[int, list[float]] = {}  # part -> [first seen encoding, seen done] (monotonic)

    def go(self) -> tuple[float, float]:
        """Wall seconds from queueing to ready, and the CPU-seconds the workers and their ffmpeg children spent."""
        ctx = build_context(self.settings)
        with ctx.db.session() as session:
            owner = accounts.create_user(session, "bench@example.com", "bench password", Role.merchant)
            session.flush()
        upload = self.settings.data_dir / "upload.mp4"
        shutil.copyfile(self.source, upload)
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "vetrina", "worker"],
                env=self.env,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(self.workers)
        ]
        try:
            started = time.monotonic()
            with ctx.db.session() as session:
                video_id = media.create_video(
                    ctx, session, owner, title="bench", description="", upload=upload, filename="s.mp4"
                ).id
            status, error = self._wait(ctx, video_id)
            wall = time.monotonic() - started
        finally:
            cpu = 0.0
            for process in processes:
                os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                _, _, usage = os.wait4(process.pid, 0)
                cpu += usage.ru_utime + usage.ru_stime
            ctx.close()
        if status != "ready":
            raise SystemExit(f"the transcode failed: {error}")
        return wall, cpu

    def _wait(self, ctx, video_id: int) -> tuple[str, str | None]:
        while True:
            now = time.monotonic()
            with ctx.db.session() as session:
                video = session.get(Video, video_id)
                for part in session.query(TranscodeChunk).filter_by(video_id=video_id):
                    if part.status == "encoding":
                        self.parts.setdefault(part.part, [now, now])
                    elif (
                        part.status == "done"
                        and part.part in self.parts
                        and self.parts[part.part][1] == self.parts[part.part][0]
                    ):
                        self.parts[part.part][1] = now
                if video.status != "processing":
                    for span in self.parts.values():  # parts still encoding at the last look ended by now
                        span[1] = now if span[1] == span[0] else span[1]
                    return video.status, video.error
            time.sleep(0.25)


def chunks_mode(options: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="vetrina-bench-") as tmp:
        work = Path(tmp)
        source = work / "source.mp4"
        print(f"generating a {options.seconds} s {options.height}p30 clip ...", file=sys.stderr)
        make_source(source, options.seconds, options.height, preset="ultrafast")
        print("one pass, one worker ...", file=sys.stderr)
        one = Run(source, work / "one-pass", workers=1, chunk_seconds=0)
        one_wall, one_cpu = one.go()
        print(f"  {one_wall:.1f} s wall, {one_cpu:.1f} CPU-s", file=sys.stderr)
        print(f"in {options.chunk_seconds} s parts, {options.workers} workers ...", file=sys.stderr)
        parted = Run(source, work / "chunked", workers=options.workers, chunk_seconds=options.chunk_seconds)
        parted_wall, parted_cpu = parted.go()
        print(f"  {parted_wall:.1f} s wall, {parted_cpu:.1f} CPU-s", file=sys.stderr)

    settings = Settings()
    ladder = ", ".join(f"{h}p" for h in settings.ladder_heights if h <= options.height)
    print(
        f"\nChunked transcoding: {options.seconds} s {options.height}p30 source -> HLS ladder [{ladder}], "
        f"preset {settings.x264_preset}, {options.chunk_seconds} s parts, {os.cpu_count()} cores\n"
    )
    print(f"| {'run':<40} | {'wall s':>8} | {'CPU-s':>8} | {'CPU vs one pass':>15} | {'realtime x':>10} |")
    print(f"|{'-' * 42}|{'-' * 10}|{'-' * 10}|{'-' * 17}|{'-' * 12}|")
    for name, wall, cpu in [
        ("one pass, one worker (reference)", one_wall, one_cpu),
        (f"in parts, {options.workers} workers", parted_wall, parted_cpu),
    ]:
        print(f"| {name:<40} | {wall:8.1f} | {cpu:8.1f} | {cpu / one_cpu:15.3f} | {options.seconds / wall:10.2f} |")
    print(f"\nCPU of the parted run over the one pass: {parted_cpu / one_cpu:.3f} (goal <= 1.10)")

    video_parts = {k: v for k, v in parted.parts.items() if k != AUDIO_PART}
    spans = sorted(end - start for start, end in video_parts.values())
    audio = parted.parts.get(AUDIO_PART)
    print(
        f"\nMeasured: {len(video_parts)} picture parts, wall {min(spans):.1f}-{max(spans):.1f} s each "
        f"(median {statistics.median(spans):.1f} s, two at a time on these cores)"
        + (f"; the audio part {audio[1] - audio[0]:.1f} s" if audio else "")
    )
    # Projection: a machine like this one runs one part at a time with both cores as busy as the one pass kept them.
    busy_cores = one_cpu / one_wall
    part_cpu = parted_cpu / len(video_parts)
    part_alone = part_cpu / busy_cores
    first, last = min(s for s, _ in video_parts.values()), max(e for _, e in video_parts.values())
    overhead = max(0.0, parted_wall - (last - first))  # queueing, planning and the join, as measured
    print(
        f"Projected (not measured): one part alone on a {os.cpu_count()}-core machine ~{part_alone:.1f} s "
        f"(its {part_cpu:.1f} CPU-s at the one pass's {busy_cores:.2f} busy cores), plus {overhead:.1f} s "
        "of planning, queueing and joining measured above\n"
    )
    print(f"| {'workers (one per machine)':<26} | {'projected wall s':>16} | {'vs one pass':>11} |")
    print(f"|{'-' * 28}|{'-' * 18}|{'-' * 13}|")
    for machines in sorted({1, 2, 4, 8, len(video_parts)}):
        wall = math.ceil(len(video_parts) / machines) * part_alone + overhead
        print(f"| {machines:<26} | {wall:16.1f} | {one_wall / wall:10.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["chunks", "ladder"], default="chunks")
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--chunk-seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="ladder mode: runs of each path; the median is reported")
    options = parser.parse_args()
    if options.mode == "chunks":
        chunks_mode(options)
    else:
        ladder_mode(options)


if __name__ == "__main__":
    main()
