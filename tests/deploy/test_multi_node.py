"""The multi-node proof: two web nodes and two workers, separate processes that share nothing but the network
(PostgreSQL, Redis, moto's S3 in its own process, Debian's nginx as the edge), each web node on its own loopback
address and every process with its own empty data directory.

Upload through node A; the workers transcode it in parts, one of them SIGKILLed mid-part; Chromium plays it
through the edge with its product cards and buys through node B while it plays; a tag changed on node A reaches
node B's cached timeline at once (its time-to-live is five minutes: only the change bus explains it); node B is
SIGKILLed mid-upload. At the end nothing is lost: the ledger checks clean, every accepted upload is ready, the
half-sent one left nothing in the bucket, and every segment Chromium played is byte for byte the stored one."""

from __future__ import annotations

import io
import json
import os
import secrets
import threading
import time
from urllib.parse import urlsplit

import boto3
import httpx
import pytest
from sqlalchemy import select

from tests.deploy.helpers import Cluster, edge
from tests.e2e.helpers import buy_while_playing, shop_the_look, watch_signed_in
from tests.helpers import PASSWORD, Account, free_port, wait_for, wait_in_page
from vetrina.accounts import service as accounts
from vetrina.accounts.models import Role
from vetrina.media.models import AUDIO_PART, TranscodeChunk, Video
from vetrina.payments.ledger import check_ledger
from vetrina.runtime import build_context
from vetrina.settings import Settings

pytestmark = pytest.mark.slow

NODE_A, NODE_B, EDGE_HOST = "127.0.0.2", "127.0.0.3", "127.0.0.4"


class DyingUpload(io.RawIOBase):
    """A large file read out slowly, that kills a node once `kill_after` bytes have gone."""

    def __init__(self, size: int, kill_after: int, kill) -> None:
        self.left, self.sent, self.kill_after, self.kill = size, 0, kill_after, kill

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.sent >= self.kill_after and self.kill is not None:
            self.kill()
            self.kill = None
        size = min(len(buffer), self.left, 64 * 1024)
        buffer[:size] = os.urandom(size)
        self.left -= size
        self.sent += size
        return size


def test_two_web_nodes_and_two_workers_share_nothing_but_the_network_and_lose_nothing(
    needs_nginx, cluster_database_url, store_process, media_dir, browser, tmp_path
):
    bucket_name, secret = f"vetrina-{secrets.token_hex(4)}", secrets.token_hex(32)
    credentials = {
        "AWS_ACCESS_KEY_ID": "cluster",
        "AWS_SECRET_ACCESS_KEY": "cluster",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    os.environ.update(credentials)  # the test's own boto3 client and context
    bucket = boto3.client("s3", endpoint_url=store_process)
    bucket.create_bucket(Bucket=bucket_name)
    # The edge reads the bucket (in production: a policy on the edge's address, or a private network).
    read = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket_name}/*"}
    bucket.put_bucket_policy(Bucket=bucket_name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [read]}))

    port, edge_port = free_port(), free_port()
    settings = {
        **credentials,
        "VETRINA_DATABASE_URL": cluster_database_url,
        "VETRINA_REDIS_URL": "redis://127.0.0.1:6379/0",
        "VETRINA_QUEUE_NAME": f"cluster-{secrets.token_hex(4)}",
        "VETRINA_STORAGE_URL": f"s3://{bucket_name}/prod",
        "VETRINA_S3_ENDPOINT_URL": store_process,
        "VETRINA_EDGE_URL": f"http://{EDGE_HOST}:{edge_port}",
        "VETRINA_SECRET_KEY": secret,
        "VETRINA_FUNDING_PROVIDERS": '["sandbox"]',
        "VETRINA_SEGMENT_SECONDS": "2",
        "VETRINA_TRANSCODE_CHUNK_SECONDS": "4",  # the 12 s film goes in three parts and its audio
        "VETRINA_LADDER_HEIGHTS": "[480, 360]",
        "VETRINA_X264_PRESET": "veryfast",
        "VETRINA_LEASE_STALL_SECONDS": "3",
        "VETRINA_LEASE_SWEEP_SECONDS": "1",
        "VETRINA_JOB_POLL_MAX_S": "0.2",
        "VETRINA_TIMELINE_CACHE_S": "300",
        "VETRINA_RATE_LIMITS_ENABLED": "false",
    }
    cluster = Cluster(tmp_path / "cluster", settings)
    # The test's own view of the deployment: to make accounts and to read what the nodes wrote.
    ctx = build_context(
        Settings(
            data_dir=tmp_path / "test-process",
            database_url=cluster_database_url,
            storage_url=f"s3://{bucket_name}/prod",
            s3_endpoint_url=store_process,
            secret_key=secret,
            redis_url=settings["VETRINA_REDIS_URL"],
            queue_name=settings["VETRINA_QUEUE_NAME"],
        )
    )

    def make_account(role: Role = Role.merchant) -> Account:
        with ctx.db.session() as session:
            user = accounts.create_user(session, f"{role}-{secrets.token_hex(4)}@example.com", PASSWORD, role)
            session.flush()
            return Account(user=user, token=accounts.create_api_token(session, user))

    attempts: dict[int, int] = {}
    killed_part: list[int] = []
    worker_metrics: list[str] = []

    def watch_parts(video_id: int) -> None:
        """Record each part's attempts until the video is no longer processing (its parts' rows then go)."""
        while True:
            with ctx.db.session() as session:
                for part in session.scalars(select(TranscodeChunk).where(TranscodeChunk.video_id == video_id)):
                    attempts[part.part] = max(attempts.get(part.part, 0), part.attempts)
                if session.get(Video, video_id).status != "processing":
                    return
            time.sleep(0.05)

    def kill_a_worker_mid_part(video_id: int) -> None:
        threading.Thread(target=watch_parts, args=(video_id,), daemon=True).start()

        def encoding() -> TranscodeChunk | None:
            with ctx.db.session() as session:
                return session.scalar(
                    select(TranscodeChunk).where(
                        TranscodeChunk.video_id == video_id,
                        TranscodeChunk.part != AUDIO_PART,
                        TranscodeChunk.status == "encoding",
                    )
                )

        # worker-1 runs alone so far: the picture part being encoded is its own.
        part = wait_for(encoding, timeout_s=60, interval_s=0.05, message="worker-1 to take a part")
        cluster.kill("worker-1")
        with ctx.db.session() as session:
            dead = session.get(TranscodeChunk, part.id)
            assert (dead.status, dead.attempts) == ("encoding", 1)  # killed mid-part
        killed_part.append(part.part)
        worker_metrics.append(cluster.worker("worker-2", free_port()))
        worker_metrics.append(cluster.worker("worker-3", free_port()))  # worker-1's machine, restarted

    try:
        node_a = cluster.web("web-a", NODE_A, port)
        node_b = cluster.web("web-b", NODE_B, port)
        cluster.worker("worker-1", free_port())
        store_host = urlsplit(store_process).netloc
        with edge(
            tmp_path / "edge", secret, f"{NODE_A}:{port}", store_host, f"/{bucket_name}/prod", edge_port, EDGE_HOST
        ) as edge_url:
            merchant, buyer, video_id, shirt, _mug = shop_the_look(
                node_a, lambda role: make_account(role), media_dir, while_transcoding=kill_a_worker_mid_part
            )
            # The dead worker's part was taken over and encoded again; no other part was encoded twice.
            assert attempts.pop(killed_part[0]) == 2
            assert set(attempts.values()) == {1}
            # Each worker counts the jobs it ran, for a scraper.
            ran = [
                m
                for url in worker_metrics
                for m in httpx.get(url).text.splitlines()
                if m.startswith("vetrina_jobs_total")
            ]
            assert any('job="media.transcode_part",outcome="ok"' in m for m in ran), ran
            assert any('job="media.transcode",outcome="ok"' in m for m in ran), ran

            # Chromium plays on node B, its media through the edge; it buys through node B while the film plays.
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            played: dict[str, bytes] = {}

            def keep_segment(response) -> None:
                if response.url.startswith(edge_url) and response.url.endswith(".ts") and response.status == 200:
                    played[response.url] = response.body()

            page.on("response", keep_segment)
            watch_signed_in(page, node_b, buyer, video_id)
            wait_in_page(page, "document.querySelectorAll('.seek .marker').length > 0")
            buy_while_playing(page, "Linen shirt")
            assert errors == []
            orders = httpx.get(f"{node_a}/api/v1/orders", headers=buyer.auth).json()["items"]
            assert [(o["status"], o["items"][0]["product_id"]) for o in orders] == [
                ("WAIT_SELLER_SEND_GOODS", shirt["id"])
            ]

            # A tag changed on node A: node B's cached timeline (five minutes to live) changes at once.
            timeline = f"{node_b}/api/v1/videos/{video_id}/timeline"
            before = httpx.get(timeline).json()
            tags = httpx.get(f"{node_a}/api/v1/videos/{video_id}/tags", headers=merchant.auth).json()
            changed_at = time.monotonic()
            moved = httpx.patch(
                f"{node_a}/api/v1/videos/{video_id}/tags/{tags[0]['id']}", headers=merchant.auth, json={"end_s": 5}
            )
            assert moved.status_code == 200, moved.text
            wait_for(lambda: httpx.get(timeline).json() != before, timeout_s=10, interval_s=0.02, message="node B")
            seen_after_s = time.monotonic() - changed_at
            # Within a second as a rule; the floor leaves room for a loaded test machine.
            assert seen_after_s < 3, f"node B saw the change after {seen_after_s:.2f} s"

            # Node B dies mid-upload (SIGKILL): the upload fails, and nothing of it is anywhere but its own disk.
            upload = DyingUpload(40 * 1024**2, kill_after=4 * 1024**2, kill=lambda: cluster.kill("web-b"))
            with pytest.raises(httpx.TransportError):
                httpx.post(
                    f"{node_b}/api/v1/videos",
                    headers=merchant.auth,
                    data={"title": "Never finished"},
                    files={"file": ("big.mp4", upload, "video/mp4")},
                    timeout=60,
                )
            assert upload.kill is None  # it did die mid-upload
            assert httpx.get(f"{node_a}/healthz").status_code == 200  # the other node serves on

        with ctx.db.session() as session:
            videos = list(session.scalars(select(Video)))
            assert [(v.id, v.status) for v in videos] == [(video_id, "ready")]  # every accepted upload is ready
            report = check_ledger(session)
            assert report.ok, report.violations
            assert session.scalar(select(TranscodeChunk.id)) is None
        stored = [o["Key"] for o in bucket.list_objects_v2(Bucket=bucket_name)["Contents"]]
        ladder = next(v.output_key for v in videos)
        assert {key.split("/")[1] for key in stored} <= {"videos", "products"}
        assert all(key.startswith(f"prod/videos/{video_id}/") for key in stored if key.split("/")[1] == "videos")
        # Every segment Chromium played came through the edge, byte for byte the stored object.
        assert len(played) >= 3 and any("/audio/" in url for url in played)
        for url, body in played.items():
            key = "prod/" + urlsplit(url).path.split("/", 3)[3]
            assert key.startswith(f"prod/{ladder}/")
            assert body == bucket.get_object(Bucket=bucket_name, Key=key)["Body"].read(), url
    finally:
        cluster.stop()
        ctx.close()
