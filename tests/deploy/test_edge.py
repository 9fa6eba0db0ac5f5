"""The caching edge (deploy/nginx, Debian's nginx with njs) in front of a Vetrina whose media are in a bucket
(moto's S3 in server mode): it checks Vetrina's media tokens itself, serves segments from its cache, fetches a
miss from the bucket, and refuses a tampered, expired or out-of-territory URL without a request upstream."""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

import boto3
import httpx
import m3u8
import pytest

from tests.deploy.helpers import edge, upstream_calls
from tests.helpers import free_port, in_bucket, served, wait_for
from vetrina.accounts.models import Role
from vetrina.runtime import build_context
from vetrina.storage import Covers

pytestmark = pytest.mark.slow


def test_the_edge_serves_media_from_its_cache_and_refuses_bad_links_itself(
    needs_nginx, settings, s3_endpoint, s3_bucket, make_account, short_clip, tmp_path
):
    edge_port = free_port()  # known before the site starts: its media links point at the edge (VETRINA_EDGE_URL)
    site = build_context(in_bucket(settings, s3_endpoint, s3_bucket, "prod", edge_url=f"http://127.0.0.1:{edge_port}"))
    bucket = boto3.client("s3", endpoint_url=s3_endpoint)
    try:
        with served(site) as origin:
            merchant = make_account(Role.merchant)
            with short_clip.open("rb") as handle:
                accepted = httpx.post(
                    f"{origin}/api/v1/videos",
                    headers=merchant.auth,
                    data={"title": "At the edge"},
                    files={"file": ("clip.mp4", handle, "video/mp4")},
                    timeout=60,
                )
            assert accepted.status_code == 202, accepted.text
            video_id = accepted.json()["id"]
            video = wait_for(
                lambda: (
                    (v := httpx.get(f"{origin}/api/v1/videos/{video_id}", headers=merchant.auth).json())["status"]
                    == "ready"
                    and v
                ),
                timeout_s=120,
                message="the transcode",
            )
            # The bucket readable by the edge (in production, a policy on the edge's address or a private network).
            read = {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{s3_bucket}/*",
            }
            bucket.put_bucket_policy(
                Bucket=s3_bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [read]})
            )
            store_host = urlsplit(s3_endpoint).netloc
            logs = tmp_path / "edge"
            with edge(
                logs, settings.secret_key, urlsplit(origin).netloc, store_host, f"/{s3_bucket}/prod", edge_port
            ) as url:
                assert httpx.get(f"{url}/healthz").json()["status"] == "ok"  # the rest goes to the web nodes

                master_url = video["hls_url"]
                assert master_url.startswith(f"{url}/media/")  # handed out on the edge, not the web nodes
                playlist = httpx.get(master_url)
                assert playlist.headers["cache-control"] == "public, max-age=10" and playlist.headers["etag"]
                # nginx logs a request once it has answered it: the line may come a moment after the answer.
                rendered_by = wait_for(lambda: upstream_calls(logs, "master.m3u8"), timeout_s=5, message="its log line")
                assert rendered_by[-1] == urlsplit(origin).netloc  # rendered by Vetrina
                master = m3u8.loads(playlist.text, uri=master_url)
                variant_url = master.playlists[0].absolute_uri
                variant = m3u8.loads(httpx.get(variant_url).text, uri=variant_url)
                segment_url = variant.segments[0].absolute_uri
                key = urlsplit(segment_url).path.split("/", 3)[3]
                stored = bucket.get_object(Bucket=s3_bucket, Key=f"prod/{key}")["Body"].read()
                first, again = httpx.get(segment_url), httpx.get(segment_url)
                assert first.status_code == again.status_code == 200
                assert first.content == again.content == stored
                assert (first.headers["x-cache-status"], again.headers["x-cache-status"]) == ("MISS", "HIT")
                part = httpx.get(segment_url, headers={"Range": "bytes=10-19"})
                assert part.status_code == 206 and part.content == stored[10:20]

                token, _, _ = urlsplit(segment_url).path.removeprefix("/media/").partition("/")
                tampered = token[:-1] + ("0" if token[-1] != "0" else "1")
                assert httpx.get(segment_url.replace(token, tampered)).status_code == 403
                poster = key.rsplit("/", 2)[0] + "/poster.jpg"  # the set's token does not open the poster
                assert httpx.get(f"{url}/media/{token}/{poster}").status_code == 403
                traversal = f"{url}/media/{token}/{key.rsplit('/', 1)[0]}/../../source.mp4"
                assert httpx.get(traversal).status_code in (400, 403, 404)
                scope, name = key.rsplit("/", 2)[0], "/".join(key.rsplit("/", 2)[1:])
                long_ago = time.time() - 10 * 86400  # noqa: TID251
                expired = site.store.signed_url(scope, name, long_ago, 60, covers=Covers.hls)
                assert httpx.get(expired).status_code == 403
                in_china = site.store.signed_url(scope, name, time.time(), 3600, territory="CN", covers=Covers.hls)  # noqa: TID251
                assert httpx.get(in_china, headers={"CF-IPCountry": "CN"}).status_code == 200
                assert httpx.get(in_china, headers={"CF-IPCountry": "IT"}).status_code == 451
                # A client that is not the CDN cannot claim a country.
                with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as stranger:
                    assert stranger.get(in_china, headers={"CF-IPCountry": "CN"}).status_code == 451
                    assert stranger.put(segment_url, content=b"x").status_code == 403  # GET and HEAD only
                # None of the refusals reached the bucket or the web nodes.
                calls = upstream_calls(logs, "source.mp4") + upstream_calls(logs, "poster.jpg")
                assert calls and set(calls) == {"-"}
                assert upstream_calls(logs, name).count(store_host) == 1  # one miss; the rest from the cache
    finally:
        site.close()
