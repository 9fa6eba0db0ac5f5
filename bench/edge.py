"""Edge benchmark: HLS segments served by the caching edge (deploy/nginx: Debian's nginx checking Vetrina's media
tokens in njs, cache warm) beside the same nginx serving the same files straight from disk, in one run; and how
many requests reach the object store once the cache is warm (it must stay near zero).

The object store is moto's S3 in server mode, in this process; load comes from autocannon (npm). Throughput is
measured closed-loop with 200 connections (200 simulated viewers on loopback); latency at a fixed offered rate
below saturation, where p99 measures the server rather than a queue.

    .venv/bin/python bench/edge.py [--segments 50] [--segment-kb 400] [--seconds 8] [--rate 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import boto3
from live import Load, autocannon, median_load

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the edge runner the tests use
from tests.deploy.helpers import edge, nginx_missing, static_nginx, upstream_calls  # noqa: E402
from tests.helpers import free_port  # noqa: E402
from vetrina.storage import Covers, LocalStore  # noqa: E402

SECRET = "bench-" + secrets.token_hex(16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=50)
    parser.add_argument("--segment-kb", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rate", type=int, default=100, help="the fixed offered rate for latency (below saturation)")
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    if reason := nginx_missing():
        sys.exit(reason)
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's line per request

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    moto_port = free_port()
    moto = ThreadedMotoServer("127.0.0.1", moto_port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{moto_port}"
    with tempfile.TemporaryDirectory(prefix="vetrina-edge-bench-") as tmp:
        root = Path(tmp)
        files = root / "files"
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="bench-media")
        read = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bench-media/*"}
        s3.put_bucket_policy(Bucket="bench-media", Policy=json.dumps({"Version": "2012-10-17", "Statement": [read]}))
        names = [f"720p/seg_{n:05d}.ts" for n in range(options.segments)]
        for name in names:
            body = os.urandom(options.segment_kb * 1024)
            s3.put_object(Bucket="bench-media", Key=f"prod/videos/1/hls-a/{name}", Body=body)
            (files / "videos/1/hls-a/720p").mkdir(parents=True, exist_ok=True)
            (files / "videos/1/hls-a" / name).write_bytes(body)
        signer = LocalStore(root / "signer", SECRET.encode())
        now = time.time()  # noqa: TID251
        urls = [signer.signed_url("videos/1/hls-a", name, now, 3600, covers=Covers.hls) for name in names]
        logs = root / "edge"
        with (
            edge(logs, SECRET, "127.0.0.1:9", f"127.0.0.1:{moto_port}", "/bench-media/prod") as edge_url,
            static_nginx(root / "static", files) as static_url,
        ):
            import httpx

            for url in urls:  # warm the cache: one miss each
                assert httpx.get(edge_url + url).status_code == 200
            warm = sum(1 for name in names for call in upstream_calls(logs, name) if call != "-")
            edge_pids, static_pids = _pids(logs), _pids(root / "static")
            segment = urls[len(urls) // 2]
            plain = "/" + segment.split("/", 3)[3]
            runs: dict[str, list[Load]] = {"edge": [], "static": [], "edge_rate": [], "static_rate": []}
            for _ in range(options.rounds):  # alternating, so both see the same machine
                runs["edge"].append(autocannon(edge_url, segment, options.connections, options.seconds, edge_pids))
                runs["static"].append(autocannon(static_url, plain, options.connections, options.seconds, static_pids))
                runs["edge_rate"].append(
                    autocannon(edge_url, segment, 50, options.seconds, edge_pids, rate=options.rate)
                )
                runs["static_rate"].append(
                    autocannon(static_url, plain, 50, options.seconds, static_pids, rate=options.rate)
                )
            after = sum(1 for name in names for call in upstream_calls(logs, name) if call != "-")
    moto.stop()
    loads = {key: median_load(value) for key, value in runs.items()}
    edge_load, static_load = loads["edge"], loads["static"]
    print(
        f"\nEdge: {options.segments} segments of {options.segment_kb} KB, cache warm; autocannon, "
        f"{options.seconds:g} s x {options.rounds} rounds (medians); one nginx worker each\n"
    )
    print(
        "| served by | segments/s, 200 viewers | p99 at 200 viewers | p50 / p99 at a fixed "
        f"{options.rate}/s | server CPU per segment |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, key in (
        ("the edge (token checked in njs, from its cache)", "edge"),
        ("nginx from disk (reference)", "static"),
    ):
        closed, fixed = loads[key], loads[f"{key}_rate"]
        print(
            f"| {label} | {closed.rate:,.0f} | {closed.p99_ms:.1f} ms | {fixed.p50_ms:.1f} / {fixed.p99_ms:.1f} ms "
            f"| {closed.cpu_ms:.3f} ms |"
        )
    rate_ratio, cpu_ratio = edge_load.rate / static_load.rate, edge_load.cpu_ms / static_load.cpu_ms
    print(f"| edge / reference | {rate_ratio:.2f}x | | | {cpu_ratio:.2f}x |")
    print(
        f"\nRequests that reached the object store: {warm} while warming ({options.segments} segments), "
        f"{after - warm} under load once warm."
    )


def _pids(directory: Path) -> list[int]:
    master = int((directory / "nginx.pid").read_text())
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [master, *map(int, children)]


if __name__ == "__main__":
    main()
