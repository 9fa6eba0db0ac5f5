"""Live-show benchmark (issue 19): what a live show costs and how far behind the camera its viewers are, each part
beside a reference measured or computed in the same run.

  1. glass: a real `vetrina serve` with its live stack (nginx-rtmp, the live encoder with a 480p+360p ladder) on
     free loopback ports; ffmpeg publishes a generated 854x480 25 fps picture with the wall clock burned in
     (vetrina.live.latency), Debian's Chromium plays the show's page, and every 250 ms the clock read off the frame
     on screen is compared with the page's own: p50 / p95 over `--glass-seconds` after the first frame. Reference:
     the usual floor of HLS with 1 s segments and hls.js holding 2 s back (player.js `liveSyncDuration`), 3 s.
  2. fanout: `--viewers` Server-Sent Events connections (bench/sse.mjs, Node) to a live show's event stream on
     `vetrina serve --workers 1 --no-live` (the show turned live by nginx-rtmp's on_publish callback, posted here);
     the host pins a product `--pins` times, `--pin-every` s apart; per pin, the delay from just before the POST
     until each viewer has the `pin` frame. Reference: GET /healthz at a fixed 50/s (bench/load.mjs, open loop)
     under the same open connections at the same time. Also the server's CPU per pin delivered to every viewer, net
     of what the open connections and the /healthz load cost without pins.
  3. encode: the live encoder's ffmpeg ladder command (vetrina.media.ladder.live_command) fed in real time (-re)
     from a generated H.264/AAC FLV file, as a publisher's stream arrives, for `--encode-seconds`: CPU seconds per
     wall second (cores) with 360p; 480p+360p; 720p+480p+360p from a 720p source. References: a `-c copy` remux
     of the source into the same HLS, and the decode alone (`-f null`).

    .venv/bin/python bench/live_show.py [--only glass|fanout|encode] [--glass-seconds 120] [--viewers 2000]
        [--pins 10] [--pin-every 2] [--encode-seconds 30]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from live import cpu_s, node_load, served, server_pids

from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role
from vetrina.live import rtmp
from vetrina.live.encoder import MAX_ASPECT, TICK_S
from vetrina.live.latency import READ_CLOCK_JS, clock_strip_filter
from vetrina.media import ladder
from vetrina.media.ffmpeg import ffmpeg_exe
from vetrina.media.probe import ProbeResult
from vetrina.runtime import build_context
from vetrina.settings import Settings
from vetrina.web.api.live import VIEWER_COUNT_EVERY_S

SECRET_KEY = "live-show-bench"  # noqa: S105  (fixed: the bench computes the RTMP callbacks' secret path)
SSE_SCRIPT = Path(__file__).resolve().parent / "sse.mjs"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
SOURCE_WIDTH, FRAME_RATE = 854, 25
HOLD_BACK_S = 2.0  # hls.js liveSyncDuration in src/vetrina/web/static/player.js
LL_HLS_FLOOR_S = 1.5  # LL-HLS: a ~0.33 s part written + a hold-back of ~3 parts (~1 s) + the blocking reload
HEALTHZ_RATE = 50  # /healthz requests a second beside the pins: modest, so it measures the loop's delay, not a load
# The connections open and /healthz running, no pins: what the pins' CPU is net of; one period of the viewer counts
# every viewer is sent, so the window holds its share of them.
BASELINE_S = float(VIEWER_COUNT_EVERY_S)
TAIL_S = 3.0  # after the last pin, for its frames to arrive
MACHINE_CORES, TARGET_LOAD = 2, 0.7


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    """Nearest rank, as bench/load.mjs computes it."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))] if ordered else math.nan


def new_merchant(work: Path) -> str:
    """A new Vetrina in `work` with one merchant, written straight to its database; returns the merchant's token."""
    ctx = build_context(Settings(data_dir=work, secret_key=SECRET_KEY))
    try:
        with ctx.db.session(write=True) as session:
            user = accounts.create_user(session, "host@bench.example", "bench password", Role.merchant)
            session.flush()
            return accounts.create_api_token(session, user)
    finally:
        ctx.close()


def server_env(work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "VETRINA_DATA_DIR": str(work),
        "VETRINA_SECRET_KEY": SECRET_KEY,
        "VETRINA_RATE_LIMITS_ENABLED": "false",  # one host pinning, a thousand viewers on loopback: a load test
    }


# 1. Glass to glass ----------------------------------------------------------------------------------------------------


@contextmanager
def live_server(work: Path) -> Iterator[tuple[str, str]]:
    """`vetrina serve` with its live stack on free loopback ports; yields its base URL and the RTMP `live` URL."""
    port, rtmp_url = free_port(), f"rtmp://127.0.0.1:{free_port()}/live"
    env = {
        **server_env(work),
        "VETRINA_LIVE_RTMP_URL": rtmp_url,
        "VETRINA_LIVE_RTMP_PULL_URL": rtmp_url,
        "VETRINA_LIVE_RTMP_CONTROL_URL": f"http://127.0.0.1:{free_port()}",
        "VETRINA_LIVE_LADDER_HEIGHTS": "[480, 360]",
    }
    log = work / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "vetrina", "serve", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if server.poll() is not None:
                raise RuntimeError(f"vetrina serve exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base, rtmp_url
    finally:
        server.terminate()  # the encoder finishes its last segments, then nginx-rtmp stops
        server.wait(timeout=60)


def publish(url: str, seconds: float, base_us: int) -> subprocess.Popen[bytes]:
    """ffmpeg as a host's encoder: a generated 480p picture with the wall clock burned in, and a tone, in real time."""
    video = f"testsrc2=size={SOURCE_WIDTH}x480:rate={FRAME_RATE}:duration={seconds}"
    return subprocess.Popen(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i", video]
        + ["-re", "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
        + ["-filter_complex", clock_strip_filter(base_us), "-map", "[clocked]", "-map", "1:a"]
        # ultrafast/zerolatency: no B-frames nor lookahead, so the publisher adds no delay of its own to the figure.
        + ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(FRAME_RATE)]
        + ["-c:a", "aac", "-f", "flv", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def glass(work: Path, options: argparse.Namespace) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    token = new_merchant(work)
    with live_server(work) as (base, rtmp_url):
        auth = {"Authorization": f"Bearer {token}"}
        show = httpx.post(f"{base}/api/v1/live", headers=auth, json={"title": "Glass to glass"}, timeout=30).json()
        base_us = int(time.time() * 1_000_000)
        host = publish(f"{rtmp_url}/{show['stream_key']}", options.glass_seconds + 120, base_us)
        behind: list[float] = []
        frozen = misread = 0
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                page = browser.new_page()
                asked = time.monotonic()
                page.goto(f"{base}/live/{show['id']}")  # before the stream is up: the page waits, then reloads
                while not page.evaluate(READ_CLOCK_JS, [SOURCE_WIDTH]):
                    if time.monotonic() - asked > 90 or host.poll() is not None:
                        raise RuntimeError(f"no live frame on screen; server log: {work / 'serve.log'}")
                    page.wait_for_timeout(250)
                first_frame_s = time.monotonic() - asked
                print(f"glass: first frame after {first_frame_s:.1f} s; sampling ...", file=sys.stderr)
                previous, due = None, time.monotonic()
                for _ in range(int(options.glass_seconds * 4)):
                    reading = page.evaluate(READ_CLOCK_JS, [SOURCE_WIDTH])
                    lag = reading["now"] - (base_us / 1000 + reading["ms"]) if reading else -1.0
                    if not 0 < lag < 60_000:  # no frame (a reload) or a strip read wrong
                        misread += 1
                    else:
                        behind.append(lag)
                        frozen += reading["ms"] == previous  # the same frame as 250 ms ago: a stall
                        previous = reading["ms"]
                    due += 0.25
                    page.wait_for_timeout(max(0.0, due - time.monotonic()) * 1000)
                rung = page.evaluate("document.querySelector('video').videoHeight")
                player_s = page.evaluate("window.vetrinaPlayer?.hls?.latency ?? null")  # hls.js: behind its edge
                browser.close()
        finally:
            host.kill()
            host.wait()
    return dict(
        behind=behind, frozen=frozen, misread=misread, first_frame_s=first_frame_s, rung=rung, player_s=player_s
    )


def print_glass(result: dict[str, Any], options: argparse.Namespace) -> None:
    behind, floor_s = [ms / 1000 for ms in result["behind"]], ladder.LIVE_SEGMENT_SECONDS + HOLD_BACK_S
    p50, p95 = percentile(behind, 50), percentile(behind, 95)
    print(f"\n## Glass to glass: 854x480 {FRAME_RATE} fps via RTMP, ladder 480p+360p, Chromium + hls.js\n")
    print(f"| {'what':<58} | {'p50 s':>6} | {'p95 s':>6} | {'max s':>6} | {'vs floor':>8} |")
    print(f"|{'-' * 60}|{'-' * 8}|{'-' * 8}|{'-' * 8}|{'-' * 10}|")
    print(
        f"| {'Vetrina: ffmpeg -> nginx-rtmp -> encoder -> HLS -> page':<58} | {p50:6.2f} | {p95:6.2f} | "
        f"{max(behind, default=math.nan):6.2f} | {p50 / floor_s:7.2f}x |"
    )
    print(
        f"| {'reference: HLS floor, 1 s segment + 2 s player hold-back':<58} | {floor_s:6.2f} | {floor_s:6.2f} | "
        f"{floor_s:6.2f} | {1:7.2f}x |"
    )
    print(
        f"\n{len(behind)} samples every 250 ms over {options.glass_seconds} s after the first frame (on screen "
        f"{result['first_frame_s']:.1f} s after the page opened); {result['misread']} without a readable frame, "
        f"{result['frozen']} showing the same frame as 250 ms before; the player showed the {result['rung']}p rung."
    )
    player_s = result["player_s"] or math.nan
    print(
        f"floor = one segment ({ladder.LIVE_SEGMENT_SECONDS} s) + hls.js's liveSyncDuration ({HOLD_BACK_S:.0f} s). "
        f"hls.js starts {HOLD_BACK_S:.0f} s behind its estimate of the live edge (the last segment's end + the time "
        f"since the playlist last grew), so the segment shows up as 0-1 s of playlist-refresh phase, not a whole "
        f"second: a run can come out below the floor. At the end hls.js put itself {player_s:.2f} s behind its edge; "
        f"the other {p50 - player_s:.2f} s (p50) come before the playlist: ingest, encode, the encoder's {TICK_S} s "
        f"publishing tick, the player's playlist polling."
    )
    print(
        f"LL-HLS partial segments (~0.2-0.33 s parts; the player holds back ~3 parts, ~1 s) would bring the floor to "
        f"~{LL_HLS_FLOOR_S} s ({LL_HLS_FLOOR_S / floor_s:.2f}x this one), but ffmpeg's HLS muxer writes no partial "
        f"segments (no EXT-X-PART): it would take another packager."
    )


# 2. Fan-out of a pin --------------------------------------------------------------------------------------------------


def fanout(work: Path, options: argparse.Namespace) -> dict[str, Any]:
    token = new_merchant(work)
    with (
        served(server_env(work), 1) as (base, server),
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http,
    ):
        pids = server_pids(server)
        price = {"amount": 1200, "currency": "EUR"}
        products = [
            http.post("/api/v1/products", json={"title": title, "price": price, "stock": 10}).json()["id"]
            for title in ("Oolong", "Sencha")
        ]
        show = http.post("/api/v1/live", json={"title": "Fan-out", "product_ids": products}).json()
        # As nginx-rtmp's on_publish would: the show goes live with no stream (no encoder runs with --no-live).
        secret = rtmp.callback_secret(Settings(data_dir=work, secret_key=SECRET_KEY))
        form = {"call": "publish", "app": "live", "name": show["stream_key"], "addr": "127.0.0.1", "clientid": "1"}
        went_live = http.post(f"/rtmp/{secret}/on_publish", data=form, follow_redirects=False)
        assert went_live.status_code == 302, went_live.text
        path = f"/api/v1/live/{show['id']}/events"
        viewers = subprocess.Popen(
            ["node", str(SSE_SCRIPT), "--url", base, "--path", path, "--connections", str(options.viewers)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert viewers.stdin is not None and viewers.stdout is not None
        try:
            opening = json.loads(viewers.stdout.readline())
            print(f"fanout: {opening['opened']} viewers connected; pinning ...", file=sys.stderr)
            span = BASELINE_S + options.pins * options.pin_every + TAIL_S
            healthz: dict[str, Any] = {}
            load = ("open", base, pids, "--path", "/healthz", "--rate", str(HEALTHZ_RATE), "--seconds", f"{span:.0f}")
            beside = threading.Thread(target=lambda: healthz.update(node_load(*load)))
            beside.start()
            idle_start = cpu_s(pids)
            time.sleep(BASELINE_S)
            pins_start, started = cpu_s(pids), time.monotonic()
            sent: dict[str, float] = {}
            answered_ms = []
            for i in range(options.pins):
                time.sleep(max(0.0, started + i * options.pin_every - time.monotonic()))
                sent_ms = time.time() * 1000
                pinned = http.post(f"/api/v1/live/{show['id']}/pins", json={"product_id": products[i % 2]})
                answered_ms.append(time.time() * 1000 - sent_ms)
                assert pinned.status_code == 201, pinned.text
                sent[str(pinned.json()["pin_id"])] = sent_ms
            time.sleep(TAIL_S)
            pins_cpu, pins_wall = cpu_s(pids) - pins_start, time.monotonic() - started
            beside.join()
            viewers.stdin.close()  # the viewers' arrival times, then it exits
            final = json.loads(viewers.stdout.readline())
        finally:
            if viewers.poll() is None:
                viewers.kill()
            viewers.wait()
    idle_cores = (pins_start - idle_start) / BASELINE_S
    delays = [seen[pin] - at for seen in final["viewers"] for pin, at in sent.items() if pin in seen]
    last = [
        max((seen[pin] - at for seen in final["viewers"] if pin in seen), default=math.nan) for pin, at in sent.items()
    ]
    return {
        "opening": opening,
        "final": final,
        "delays": delays,
        "last_per_pin": last,
        "every_pin": sum(all(pin in seen for pin in sent) for seen in final["viewers"]),
        "missed": len(sent) * len(final["viewers"]) - len(delays),
        "answered_ms": answered_ms,
        "healthz": healthz,
        "pin_cpu_ms": (pins_cpu - idle_cores * pins_wall) * 1000 / max(1, len(sent)),
        "idle_cores": idle_cores,
    }


def print_fanout(r: dict[str, Any], options: argparse.Namespace) -> None:
    delays, healthz, viewers = r["delays"], r["healthz"], r["opening"]["opened"]
    pin_p99 = percentile(delays, 99)
    print(
        f"\n## Fan-out: {viewers} SSE viewers of one live show, `vetrina serve --workers 1`, {options.pins} pins "
        f"{options.pin_every} s apart\n"
    )
    print(f"| {'what':<54} | {'p50 ms':>7} | {'p99 ms':>7} | {'max ms':>7} | {'vs /healthz p99':>15} |")
    print(f"|{'-' * 56}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 17}|")
    print(
        f"| {'pin: POST /pins -> the pin frame at each viewer':<54} | {percentile(delays, 50):7.1f} | "
        f"{pin_p99:7.1f} | {max(delays, default=math.nan):7.1f} | {pin_p99 / healthz['p99_ms']:14.2f}x |"
    )
    print(
        f"| {'pin: POST /pins answered to the host':<54} | {percentile(r['answered_ms'], 50):7.1f} | "
        f"{percentile(r['answered_ms'], 99):7.1f} | {max(r['answered_ms']):7.1f} | {'':>15} |"
    )
    print(
        f"| {f'reference: GET /healthz at {HEALTHZ_RATE}/s, same connections open':<54} | {healthz['p50_ms']:7.1f} | "
        f"{healthz['p99_ms']:7.1f} | {healthz['max_ms']:7.1f} | {1:14.2f}x |"
    )
    final = r["final"]
    per_viewer_us = r["pin_cpu_ms"] * 1000 / max(1, viewers)
    print(
        f"\nviewers: {viewers} connected, {r['opening']['failed']} refused, {final['ended']} streams ended by the "
        f"server; {r['every_pin']} got every pin, {r['missed']} deliveries missing; the last viewer of each pin "
        f"(median over pins): {percentile(r['last_per_pin'], 50):.1f} ms"
    )
    print(
        f"server CPU per pin delivered to all viewers: {r['pin_cpu_ms']:.1f} ms ({per_viewer_us:.1f} us per viewer), "
        f"net of {r['idle_cores']:.3f} cores spent with the connections open and /healthz at {HEALTHZ_RATE}/s; "
        f"/healthz statuses {json.dumps(healthz['statuses'])}"
    )
    print(
        "the delays include the POST itself (its transaction) and bench/sse.mjs's own handling of the viewers ahead "
        "in its one event loop"
    )


# 3. Encode CPU per rung -----------------------------------------------------------------------------------------------


def make_source(folder: Path, height: int, seconds: float) -> Path:
    """What a publisher sends, as a file: H.264 (1 s GOP) and AAC in FLV, generated once, read back in real time."""
    path = folder / f"source-{height}p.flv"
    width, kbps = round(height * 16 / 9 / 2) * 2, {480: 2000, 720: 3500}.get(height, 2000)
    picture = f"testsrc2=size={width}x{height}:rate={FRAME_RATE}:duration={seconds}"
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", picture]
        + ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:v", "libx264", "-preset", "superfast"]
        + ["-b:v", f"{kbps}k", "-g", str(FRAME_RATE), "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)],
        check=True,
    )
    return path


def ladder_args(source: Path, height: int, out_dir: Path, heights: list[int]) -> list[str]:
    """The live encoder's command (as LiveEncoder._start builds it), reading `source` at its own pace (-re)."""
    settings = Settings(data_dir=out_dir)
    width = round(height * 16 / 9 / 2) * 2
    plan = ladder.plan_ladder(
        ProbeResult(0.0, width, height, float(FRAME_RATE), True, "flv"), heights, ladder.LIVE_SEGMENT_SECONDS
    )
    for rung in plan.renditions:
        (out_dir / rung.name).mkdir(parents=True, exist_ok=True)
    cap = settings.live_max_source_height
    args = ladder.live_command(
        str(source), out_dir, plan, True, settings.x264_preset, 0, max_pixels=int(cap * cap * MAX_ASPECT)
    )
    at = args.index("-i")
    return [*args[:at], "-re", *args[at:]]


def cores(args: list[str], log: Path) -> tuple[float, float]:
    """(CPU seconds per wall second, wall seconds) of one ffmpeg run, from its own rusage."""
    started = time.monotonic()
    with log.open("wb") as errors:
        process = subprocess.Popen(
            [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
    _pid, status, usage = os.wait4(process.pid, 0)  # this child's CPU alone, whatever else this process runs
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    if process.returncode != 0:
        raise RuntimeError(f"ffmpeg exited with {process.returncode}: {log.read_text(errors='replace')[-1000:]}")
    return (usage.ru_utime + usage.ru_stime) / wall, wall


def encode(work: Path, options: argparse.Namespace) -> list[dict[str, Any]]:
    seconds = options.encode_seconds
    print(f"encode: generating {seconds} s sources ...", file=sys.stderr)
    sources = {height: make_source(work, height, seconds) for height in (480, 720)}
    # (name, source height, what ffmpeg does: "copy", "null" or the ladder's rungs)
    runs: list[tuple[str, int, str | list[int]]] = [
        ("reference: remux to HLS (-c copy)", 480, "copy"),
        ("reference: decode alone (-f null)", 480, "null"),
        ("ladder 360p", 480, [360]),
        ("ladder 480p + 360p", 480, [480, 360]),
        ("reference: decode alone (-f null)", 720, "null"),
        ("ladder 720p + 480p + 360p", 720, [720, 480, 360]),
    ]
    rows = []
    for index, (name, height, kind) in enumerate(runs):
        out_dir, source = work / f"run-{index}", sources[height]
        out_dir.mkdir()
        if isinstance(kind, list):
            args = ladder_args(source, height, out_dir, kind)
        elif kind == "copy":
            args = ["-re", "-i", str(source), "-c", "copy", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0"]
            args.append(str(out_dir / "index.m3u8"))
        else:
            args = ["-re", "-i", str(source), "-f", "null", "-"]
        print(f"encode: {name} from {height}p ...", file=sys.stderr)
        used, wall = cores(args, work / f"run-{index}.log")
        rows.append({"name": name, "source": height, "cores": used, "speed": seconds / wall, "ladder": kind})
    return rows


def print_encode(rows: list[dict[str, Any]], options: argparse.Namespace) -> None:
    preset = Settings(data_dir=Path(tempfile.gettempdir())).x264_preset
    print(
        f"\n## Encode CPU per rung: the live ladder command, x264 {preset}, from a {FRAME_RATE} fps H.264 FLV read "
        f"in real time for {options.encode_seconds} s\n"
    )
    machine = f"shows per {MACHINE_CORES}-core machine at {TARGET_LOAD:.0%}"
    print(f"| {'run':<36} | source | cores per show | real time | vs decode | {machine} |")
    print(f"|{'-' * 38}|{'-' * 8}|{'-' * 16}|{'-' * 11}|{'-' * 11}|{'-' * (len(machine) + 2)}|")
    decode = {row["source"]: row["cores"] for row in rows if row["ladder"] == "null"}
    for row in rows:
        shows = int(MACHINE_CORES * TARGET_LOAD / row["cores"]) if isinstance(row["ladder"], list) else ""
        print(
            f"| {row['name']:<36} | {row['source']:>5}p | {row['cores']:14.3f} | {row['speed']:8.2f}x | "
            f"{row['cores'] / decode[row['source']]:8.1f}x | {shows:>{len(machine)}} |"
        )
    print(
        "\ncores = the ffmpeg run's CPU seconds / wall seconds (the encoder's own ffmpeg; nginx-rtmp and the encoder "
        "process add little); real time = source seconds / wall seconds (-re reads the first 0.5 s at once; below "
        "1.00x it fell behind the source); shows per machine count encoding only."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["glass", "fanout", "encode"], default=None)
    parser.add_argument("--glass-seconds", type=float, default=120)
    parser.add_argument("--viewers", type=int, default=2000)
    parser.add_argument("--pins", type=int, default=10)
    parser.add_argument("--pin-every", type=float, default=2.0, help="seconds between pins")
    parser.add_argument("--encode-seconds", type=float, default=30)
    options = parser.parse_args()
    # Two thousand viewers are as many sockets on each side: the server and the Node clients inherit the limit.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    parts = [options.only] if options.only else ["glass", "fanout", "encode"]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="vetrina-bench-live-") as tmp:
        for part in parts:
            work = Path(tmp) / part
            work.mkdir()
            results[part] = {"glass": glass, "fanout": fanout, "encode": encode}[part](work, options)
    for part in parts:
        {"glass": print_glass, "fanout": print_fanout, "encode": print_encode}[part](results[part], options)


if __name__ == "__main__":
    main()
