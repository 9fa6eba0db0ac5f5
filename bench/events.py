"""Event intake benchmark: player events ingested per second through POST /api/v1/events (batches of 50 from 16
concurrent clients) beside a trivial route of the same server (the ceiling) in the same run; and the p99 of the
playback timeline (GET /api/v1/videos/{id}/timeline, a video with 200 tags; 200 requests a second from 4
clients, about a third of what this server answers) alone, beside bursts paced at 1,000 events/s (the issue's
burst) and 5,000 events/s (its intake goal), and beside a burst as fast as it is answered.

Every batch carries fresh client event ids (a Node script, written to a temporary folder, drives autocannon's
programmatic API and builds each request's body in `setupRequest`), so none is a duplicate. Events ingested are
counted from the server's answers (`accepted`) and must equal the rows in the database afterwards; batches sent
again must be answered as duplicates and add no row. The timeline is loaded by autocannon's command line, in a
process of its own, the same way alone and beside a burst; at a set rate, since a load that alone takes all of
the server's CPU can only slow down beside any other.

    .venv/bin/python bench/events.py [--batches 2000] [--batch-size 50] [--clients 16] [--rates 1000,5000]
                                     [--timeline-clients 4] [--timeline-rate 200] [--seconds 8] [--rounds 3]
                                     [--processes 2] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from databases import databases
from live import AUTOCANNON, Load, autocannon, cpu_s, median_load, served, server_pids
from sqlalchemy import func, select
from timeline import seed

from vetrina.analytics.models import PlayerEvent
from vetrina.runtime import build_context
from vetrina.settings import Settings

AUTOCANNON_PACKAGE = AUTOCANNON.parents[1] / "autocannon"

DRIVER = """
// A batch POSTer of fresh events and a GETter, as fast as answered (autocannon) or evenly paced (an open loop:
// autocannon's own rate limit sends each second's quota at once, which is a burst, not a pace).
const http = require("http");
const autocannon = require(process.argv[2]);
const config = JSON.parse(require("fs").readFileSync(process.argv[3], "utf8"));
const TYPES = ["play", "progress", "progress", "progress", "quartile", "card_shown", "card_clicked", "pause"];
const tally = { accepted: 0, duplicates: 0, rejected: 0, answers: 0 };
const samples = [];
let made = 0;

function batchBody() {
  const n = made++;
  const at = new Date().toISOString();
  const events = [];
  for (let i = 0; i < config.batchSize; i++) {
    const event = { id: `${n}.${i}`, type: TYPES[i % TYPES.length], video_id: config.videoId, second: (n + i) % 3600 };
    if (i % 2 === 0) event.at = at;
    if (event.type.startsWith("card_")) Object.assign(event, { product_id: 1 + (i % 40), tag_id: 1 + (n % 200) });
    events.push(event);
  }
  const body = JSON.stringify({ viewer: `${config.run}-${n % 256}`, events });
  if (samples.length < config.samples) samples.push(body);
  return body;
}

function count(status, body) {
  if (status !== 202) return;
  const answer = JSON.parse(body);
  tally.answers += 1;
  tally.accepted += answer.accepted;
  tally.duplicates += answer.duplicates;
  tally.rejected += answer.rejected;
}

const done = (seen) => process.stdout.write(JSON.stringify({ seen, tally, samples }));

function asFastAsAnswered() {
  autocannon({
    url: config.base, connections: config.connections, amount: config.requests, timeout: 60,
    requests: [{
      method: "POST", path: "/api/v1/events", headers: { "content-type": "application/json" },
      setupRequest: (request) => ({ ...request, body: batchBody() }), onResponse: count,
    }],
  }, (err, result) => {
    if (err) throw err;
    done({ total: result.requests.total, seconds: result.duration, p50: result.latency.p50,
           p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors + result.timeouts });
  });
}

function paced() {
  // Each request is timed from when it was due, so time spent waiting for a free connection counts.
  const connections = config.path ? config.timelineConnections : config.connections;
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const url = new URL(config.base);
  const every = 1000 / config.perSecond;
  const latencies = [];
  let sent = 0, answered = 0, non2xx = 0, errors = 0;
  const started = performance.now();
  const finish = () => {
    if (++answered < config.requests) return;
    latencies.sort((a, b) => a - b);
    const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))];
    agent.destroy();
    done({ total: latencies.length, seconds: (performance.now() - started) / 1000, p50: at(0.5), p99: at(0.99),
           non2xx, errors });
  };
  const ticker = setInterval(() => {
    for (const now = performance.now(); sent < config.requests && started + sent * every <= now; sent++) {
      const due = started + sent * every;
      const body = config.path ? null : batchBody();
      const headers = body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {};
      const request = http.request({ agent, hostname: url.hostname, port: url.port, headers,
                                     method: body ? "POST" : "GET", path: config.path || "/api/v1/events" }, (res) => {
        const chunks = [];
        res.on("data", (chunk) => { if (body) chunks.push(chunk); });
        res.on("end", () => {
          latencies.push(performance.now() - due);
          if (res.statusCode >= 300) non2xx += 1;
          else if (body) count(res.statusCode, Buffer.concat(chunks).toString());
          finish();
        });
      });
      request.on("error", () => { errors += 1; finish(); });
      request.end(body);
    }
    if (sent === config.requests) clearInterval(ticker);
  }, 1);
}

if (config.perSecond) paced();
else asFastAsAnswered();
"""


@dataclass(frozen=True)
class Burst:
    """One burst of batches: what the load generator saw and what the server answered."""

    load: Load
    seconds: float
    events_per_s: float
    accepted: int
    samples: list[str]


class Driver:
    """The Node script: bursts of batches (each a fresh run id, so new viewers and event ids), and the paced
    timeline load."""

    def __init__(self, folder: Path, base: str, config: dict[str, Any]) -> None:
        self.script = folder / "events-driver.js"
        self.script.write_text(DRIVER)
        self.config = {**config, "base": base}

    def start(self, requests: int, per_second: float = 0, path: str | None = None) -> subprocess.Popen[str]:
        """Start `requests` batches (or GETs of `path`), as fast as they are answered or `per_second`."""
        run = {
            **self.config,
            "run": f"b{secrets.token_hex(4)}",
            "requests": requests,
            "perSecond": per_second,
            "path": path,
        }
        config_path = self.script.with_name(f"{run['run']}.json")
        config_path.write_text(json.dumps(run))
        return subprocess.Popen(
            ["node", str(self.script), str(AUTOCANNON_PACKAGE), str(config_path)], stdout=subprocess.PIPE, text=True
        )

    @staticmethod
    def _answers(process: subprocess.Popen[str], what: str) -> dict[str, Any]:
        out, _ = process.communicate()
        if process.returncode:
            raise RuntimeError(f"the load driver failed ({process.returncode})")
        result = json.loads(out)
        seen = result["seen"]
        if seen["non2xx"] or seen["errors"] or not seen["total"]:
            raise RuntimeError(f"{what}: {seen['non2xx']} non-2xx answers, {seen['errors']} errors, of {seen['total']}")
        return result

    def finish(self, process: subprocess.Popen[str], cpu_used_s: float = 0.0) -> Burst:
        """The burst's figures, once every answer has been checked: all 202, every event accepted."""
        result = self._answers(process, "POST /api/v1/events")
        seen, tally = result["seen"], result["tally"]
        if tally["answers"] != seen["total"] or tally["accepted"] != tally["answers"] * self.config["batchSize"]:
            raise RuntimeError(f"every event of every batch is new and valid, yet the server answered {tally}")
        load = Load(seen["total"] / seen["seconds"], seen["p50"], seen["p99"], cpu_used_s * 1000 / seen["total"])
        return Burst(load, seen["seconds"], tally["accepted"] / seen["seconds"], tally["accepted"], result["samples"])

    def burst(self, batches: int, pids: list[int]) -> Burst:
        started = cpu_s(pids)
        process = self.start(batches)
        process.wait()
        return self.finish(process, cpu_s(pids) - started)

    def paced_gets(self, path: str, per_second: float, seconds: float) -> Load:
        """GET `path` `per_second` for `seconds`, evenly; every answer must be a 2xx."""
        seen = self._answers(self.start(math.ceil(per_second * seconds), per_second, path), f"GET {path}")["seen"]
        return Load(seen["total"] / seen["seconds"], seen["p50"], seen["p99"], 0.0)


def resend(base: str, samples: list[str]) -> int:
    """Send batches already stored again (all duplicates), then one half old and half new; returns the events
    these stored (the new half)."""
    with httpx.Client(base_url=base, headers={"content-type": "application/json"}) as http:
        for body in samples:
            answer = http.post("/api/v1/events", content=body).json()
            size = len(json.loads(body)["events"])
            assert answer == {"accepted": 0, "duplicates": size, "rejected": 0}, f"a resent batch was {answer}"
        mixed = json.loads(samples[0])
        half = len(mixed["events"]) // 2
        for event in mixed["events"][:half]:
            event["id"] = f"again.{event['id']}"
        answer = http.post("/api/v1/events", json=mixed).json()
    assert answer == {"accepted": half, "duplicates": len(mixed["events"]) - half, "rejected": 0}, answer
    return half


def stored_events(settings: Settings) -> int:
    ctx = build_context(settings)
    try:
        with ctx.db.session() as session:
            return session.scalar(select(func.count()).select_from(PlayerEvent))
    finally:
        ctx.close()


def timeline_load(driver: Driver, base: str, path: str, options: argparse.Namespace, pids: list[int]) -> Load:
    """The timeline from `timeline_clients` connections for `seconds`: `timeline_rate` requests a second, evenly,
    or (with 0) as fast as they are answered."""
    if options.timeline_rate:
        return driver.paced_gets(path, options.timeline_rate, options.seconds)
    return autocannon(base, path, options.timeline_clients, options.seconds, pids)


def beside_burst(
    driver: Driver, base: str, path: str, options: argparse.Namespace, pids: list[int], batches: int, per_second: float
) -> tuple[Load, Burst]:
    """The timeline's load while a burst of `batches` (sized to outlast it) runs; it starts once the burst is
    going."""
    process = driver.start(batches, per_second)
    time.sleep(1)
    timeline = timeline_load(driver, base, path, options, pids)
    burst = driver.finish(process)
    if burst.seconds < options.seconds + 1:
        raise RuntimeError("the burst ended before the timeline's run did")
    return timeline, burst


def _busy_cpu_s() -> float:
    """CPU seconds this machine has spent busy (all cores), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _ours_cpu_s() -> float:
    """CPU seconds of this process and its children that have ended (the server, the load generators)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=2000, help="batches in each burst alone")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--timeline-clients", type=int, default=4)
    parser.add_argument("--timeline-rate", type=int, default=200, help="timeline requests/s (0: as fast as answered)")
    parser.add_argument("--tags", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=8, help="of each run of the ceiling and the timeline")
    parser.add_argument(
        "--rates",
        default="1000,5000",
        help="events/s of the paced bursts beside the timeline (the issue's burst; the intake goal)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each load; medians are shown")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL to run on (a fresh schema is made)")
    parser.add_argument("--no-jobs", action="store_true", help="serve without job workers (the per-minute rollups)")
    options = parser.parse_args()
    rates = [int(rate) for rate in options.rates.split(",")]
    beside = [f"paced {rate}" for rate in rates] + ["flat out"]
    runs: dict[str, list[Load]] = {"ceiling": [], "alone": [], **{key: [] for key in beside}}
    bursts: dict[str, list[Burst]] = {"alone": [], **{key: [] for key in beside}}
    # This machine may be shared: what other programs took of its CPU meanwhile is printed beside the figures.
    started, busy_before, ours_before = time.monotonic(), _busy_cpu_s(), _ours_cpu_s()
    with tempfile.TemporaryDirectory(prefix="vetrina-bench-") as tmp, databases(options.postgres) as fresh:
        database_url = fresh()
        # All the load comes from loopback: the events limit per address would refuse most of it.
        env = {**os.environ, "VETRINA_DATA_DIR": tmp, "VETRINA_RATE_LIMITS_ENABLED": "false"}
        if database_url:
            env["VETRINA_DATABASE_URL"] = database_url
        database = "PostgreSQL" if database_url else "SQLite"
        settings = Settings(data_dir=Path(tmp), database_url=database_url)
        video_id = seed(settings, options.tags)
        with served(env, options.processes, *(["--no-worker"] if options.no_jobs else [])) as (base, server):
            path = f"/api/v1/videos/{video_id}/timeline"
            assert len(httpx.get(base + path).json()["tags"]) == options.tags
            pids = server_pids(server)
            driver = Driver(
                Path(tmp),
                base,
                {
                    "videoId": video_id,
                    "connections": options.clients,
                    "batchSize": options.batch_size,
                    "samples": 4,
                    "timelineConnections": options.timeline_clients,
                },
            )
            lasting_s = options.seconds + 4
            # Alternating rounds, so that a slow spell of this shared machine falls on every load.
            for round_ in range(1, options.rounds + 1):
                runs["ceiling"].append(autocannon(base, "/healthz", options.clients, options.seconds, pids))
                bursts["alone"].append(driver.burst(options.batches, pids))
                runs["alone"].append(timeline_load(driver, base, path, options, pids))
                # Twice what the burst alone answered in that time: this shared machine's pace varies.
                flat_out = 2 * bursts["alone"][-1].load.rate
                loads = [(f"paced {rate}", rate / options.batch_size) for rate in rates] + [("flat out", 0)]
                for key, per_second in loads:
                    batches = math.ceil((per_second or flat_out) * lasting_s)
                    timeline, burst = beside_burst(driver, base, path, options, pids, batches, per_second)
                    runs[key].append(timeline)
                    bursts[key].append(burst)
                print(
                    f"round {round_}: "
                    + "; ".join(
                        f"{key} {b[-1].events_per_s:.0f} events/s, timeline p99 {runs[key][-1].p99_ms:.1f} ms"
                        for key, b in bursts.items()
                    ),
                    file=sys.stderr,
                )
            every = [b for runs_of_a_kind in bursts.values() for b in runs_of_a_kind]
            counted = sum(b.accepted for b in every) + resend(base, every[0].samples + every[-1].samples)
        stored = stored_events(settings)
        assert stored == counted, f"the server accepted {counted} events but {stored} rows are stored"
    others = (_busy_cpu_s() - busy_before - (_ours_cpu_s() - ours_before)) / (time.monotonic() - started)
    medians = {key: median_load(of_a_kind) for key, of_a_kind in runs.items()}
    ceiling, quiet = medians["ceiling"], medians["alone"]
    intake = median_load([b.load for b in bursts["alone"]])
    ingested = {key: statistics.median(b.events_per_s for b in of_a_kind) for key, of_a_kind in bursts.items()}
    rise = {key: medians[key].p99_ms / quiet.p99_ms - 1 for key in beside}
    command = f"vetrina serve --workers {options.processes}{' --no-worker' if options.no_jobs else ''}"
    print(
        f"\nEvent intake: batches of {options.batch_size} from {options.clients} clients, {options.batches} batches "
        f"a burst, {options.rounds} alternating rounds (medians), {database}, `{command}`; {stored} events stored, "
        f"as many as accepted, none twice; other programs used {others:.2f} of this machine's {os.cpu_count()} "
        f"cores meanwhile\n"
    )
    print(
        f"| {'route':<26} | {'req/s':>7} | {'events/s':>8} | {'p50 ms':>6} | {'p99 ms':>6} | {'CPU ms/req':>10} "
        f"| {'vs ceiling':>10} |"
    )
    print(f"|{'-' * 28}|{'-' * 9}|{'-' * 10}|{'-' * 8}|{'-' * 8}|{'-' * 12}|{'-' * 12}|")
    for name, load, events in (
        ("GET /healthz (ceiling)", ceiling, "-"),
        ("POST /api/v1/events", intake, f"{ingested['alone']:.0f}"),
    ):
        print(
            f"| {name:<26} | {load.rate:7.1f} | {events:>8} | {load.p50_ms:6.1f} | {load.p99_ms:6.1f} | "
            f"{load.cpu_ms:10.2f} | {load.rate / ceiling.rate:10.3f} |"
        )
    print(
        f"\nTimeline ({options.tags} tags) at {options.timeline_rate or 'as many'} requests/s from "
        f"{options.timeline_clients} clients for {options.seconds} s: alone, beside bursts paced at "
        f"{' and '.join(f'{rate:,}' for rate in rates)} events/s, and beside a burst as fast as it is answered\n"
    )
    print(f"| {'GET .../timeline':<34} | {'req/s':>7} | {'p50 ms':>6} | {'p99 ms':>6} | {'p99 rise':>8} |")
    print(f"|{'-' * 36}|{'-' * 9}|{'-' * 8}|{'-' * 8}|{'-' * 10}|")
    print(f"| {'alone':<34} | {quiet.rate:7.1f} | {quiet.p50_ms:6.1f} | {quiet.p99_ms:6.1f} | {'-':>8} |")
    for key in beside:
        load, name = medians[key], f"beside {ingested[key]:.0f} events/s ({key})"
        print(f"| {name:<34} | {load.rate:7.1f} | {load.p50_ms:6.1f} | {load.p99_ms:6.1f} | {rise[key]:>+8.0%} |")
    print(
        f"\ngoal: >= 5,000 events/s ingested (measured {ingested['alone']:.0f}) and the timeline's p99 rising by no "
        f"more than 50 % while a burst runs (measured {quiet.p99_ms:.1f} ms alone; "
        + "; ".join(f"{medians[key].p99_ms:.1f} ms, {rise[key]:+.0%} beside {key}" for key in beside)
        + ")"
    )


if __name__ == "__main__":
    main()
