"""Transcode benchmark: Vetrina's upload-to-ready path against the bare ffmpeg command for the same ladder.

For a generated 60 s 1080p30 clip, in one process, one after another on the same machine:
  1. bare ffmpeg, one pass: exactly the command Vetrina's job runs (one decode, every encode);
  2. Vetrina: HTTP upload to a real uvicorn server, probe, queue, transcode, publish, until the API says ready;
  3. bare ffmpeg, one run per rendition: the ladder made the naive way (each run decodes the source again).
Prints wall times, the realtime factor (media seconds per wall second) and the ratios.

    .venv/bin/python bench/transcode.py [--seconds 60] [--height 1080] [--repeat 1]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from live import merchant_client

from vetrina.media.ffmpeg import ffmpeg_exe, run_ffmpeg
from vetrina.media.ladder import LadderPlan, ladder_command, plan_ladder
from vetrina.media.probe import probe_video
from vetrina.settings import Settings


def make_source(path: Path, seconds: int, height: int) -> None:
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
            "veryfast",
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each path; the median is reported")
    options = parser.parse_args()

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


if __name__ == "__main__":
    main()
