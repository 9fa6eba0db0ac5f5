"""The storage interface, the same on both backends: the local directory and S3-compatible object storage (moto's
S3 in server mode, over real HTTP, spoken to by the real boto3). Then S3 alone: multipart uploads, publishing a set
with its last file last, failing fast on a bucket that cannot be used, a store that is down answered 503, and the
migration of a local data dir into a bucket."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import boto3
import httpx
import m3u8
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.helpers import free_port, in_bucket, s3_that_checks_credentials, wait_for
from tests.web.helpers import assert_problem, upload, wait_until_done
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.cli import app as cli
from vetrina.media import service as media
from vetrina.media.models import Video
from vetrina.media.transcode import transcode_video
from vetrina.rights import service as rights
from vetrina.runtime import build_context
from vetrina.storage import LocalStore, MediaStore, StorageMisconfigured, StorageUnavailable
from vetrina.storage.migrate import expected_etag
from vetrina.storage.s3 import PART_SIZE, S3Store, s3_client
from vetrina.web.app import create_app

KEY = b"k" * 32


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> MediaStore:
    if request.param == "local":
        return LocalStore(tmp_path / "media", KEY)
    bucket = request.getfixturevalue("s3_bucket")
    endpoint = request.getfixturevalue("s3_endpoint")
    return S3Store.from_url(f"s3://{bucket}/media", tmp_path / "work", KEY, endpoint)


def made(directory: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return directory


def test_files_go_in_are_listed_read_and_removed(store: MediaStore, tmp_path: Path):
    source = made(tmp_path / "in", {"source.mp4": b"\x00video" * 1000}) / "source.mp4"
    store.put_file(source, "videos/1/source.mp4")
    assert not source.exists()  # moved or uploaded, not left behind
    assert store.exists("videos/1/source.mp4") and store.exists("videos/1") and not store.exists("videos/2")
    assert store.size("videos/1/source.mp4") == 6000 and store.size("videos/1/none.mp4") is None
    with store.local_copy("videos/1/source.mp4") as path:
        assert path.read_bytes() == b"\x00video" * 1000
    with pytest.raises(FileNotFoundError), store.local_copy("videos/1/none.mp4"):
        pass
    part = store.open_stream("videos/1/source.mp4", 6, 11)
    assert part is not None and (part.first, part.length, part.total) == (6, 6, 6000)
    assert b"".join(part.chunks) == b"\x00video"
    assert store.open_stream("videos/1/none.mp4") is None

    ladder = made(tmp_path / "ladder", {"master.m3u8": b"#EXTM3U", "720p/index.m3u8": b"#", "720p/seg_00000.ts": b"s"})
    store.publish_dir(ladder, "videos/1/hls-a", last="master.m3u8")
    assert not ladder.exists()
    assert {found.key for found in store.list("videos/1")} == {
        "videos/1/source.mp4",
        "videos/1/hls-a/master.m3u8",
        "videos/1/hls-a/720p/index.m3u8",
        "videos/1/hls-a/720p/seg_00000.ts",
    }
    assert store.children("videos/1") == {"source.mp4", "hls-a"}
    with pytest.raises(FileExistsError):  # a published set is never written over
        store.publish_dir(made(tmp_path / "again", {"master.m3u8": b"x"}), "videos/1/hls-a")
    store.delete("videos/1/hls-a")
    assert not store.exists("videos/1/hls-a") and store.exists("videos/1/source.mp4")
    store.delete("videos/1")
    assert list(store.list("videos")) == []


def test_scratch_lives_on_this_machine_and_old_scratch_is_cleaned(store: MediaStore):
    scratch = store.scratch_dir("upload-1")
    (scratch / "part").write_bytes(b"x")
    assert store.scratch_dirs("upload-") == [scratch]
    old = 1_000_000_000
    os.utime(scratch, (old, old))
    assert store.clean_scratch(older_than_s=60) == 1 and not scratch.exists()


def test_a_source_many_parts_read_is_downloaded_once_per_machine_and_dropped_when_idle(
    s3_endpoint, s3_bucket, tmp_path
):
    store = S3Store(s3_bucket, "kept", boto3.client("s3", endpoint_url=s3_endpoint), tmp_path / "work", KEY)
    for name in ("a", "b"):
        store.upload_copy(
            made(tmp_path / name, {"source.mp4": name.encode() * 1000}) / "source.mp4", f"videos/{name}/source.mp4"
        )
    with store.shared_copy("videos/a/source.mp4") as first:
        assert first.read_bytes() == b"a" * 1000
    store.delete("videos/a")  # the next part of the same transcode reads this machine's copy
    with store.shared_copy("videos/a/source.mp4") as again:
        assert again == first and again.read_bytes() == b"a" * 1000
    old = 1_000_000_000
    os.utime(first, (old, old))  # no part has read it for long: the next copy made drops it
    with store.shared_copy("videos/b/source.mp4") as other:
        assert other.read_bytes() == b"b" * 1000
    assert not first.exists() and other.exists()
    with pytest.raises(FileNotFoundError), store.shared_copy("videos/c/source.mp4"):
        pass


def test_a_large_file_goes_up_in_parts_and_a_set_shows_its_last_file_last(s3_endpoint, s3_bucket, tmp_path):
    store = S3Store.from_url(f"s3://{s3_bucket}", tmp_path / "work", KEY, s3_endpoint)
    calls: list[tuple[str, str]] = []
    store.client.meta.events.register(
        "before-parameter-build.s3.*", lambda model, params, **_: calls.append((model.name, params.get("Key", "")))
    )
    big = tmp_path / "big.mp4"
    big.write_bytes(os.urandom(PART_SIZE * 2 + 1000))
    wanted = expected_etag(big)
    store.put_file(big, "videos/9/source.mp4")
    assert [name for name, _key in calls].count("UploadPart") == 3
    assert store.etag("videos/9/source.mp4") == wanted and wanted.endswith("-3")

    calls.clear()
    files = {"master.m3u8": b"#EXTM3U", "a/index.m3u8": b"#", "a/seg_00000.ts": b"1", "z/seg_00000.ts": b"2"}
    store.publish_dir(made(tmp_path / "set", files), "videos/9/hls-b", last="master.m3u8")
    written = [key for name, key in calls if name == "PutObject"]
    assert len(written) == 4 and written[-1] == "videos/9/hls-b/master.m3u8"


def test_a_bucket_that_cannot_be_used_stops_start_up(s3_endpoint, tmp_path):
    missing = S3Store.from_url("s3://no-such-bucket-here", tmp_path / "work", KEY, s3_endpoint)
    with pytest.raises(StorageMisconfigured, match="no-such-bucket-here.*does not exist"):
        missing.check()
    nowhere = S3Store.from_url("s3://bucket", tmp_path / "work", KEY, f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StorageMisconfigured, match="cannot be reached"):
        nowhere.check()
    result = CliRunner().invoke(
        cli,
        ["migrate"],
        env={
            "VETRINA_DATA_DIR": str(tmp_path / "data"),
            "VETRINA_STORAGE_URL": "s3://no-such-bucket-here",
            "VETRINA_S3_ENDPOINT_URL": s3_endpoint,
            "VETRINA_SECRET_KEY": "shared",
        },
    )
    assert result.exit_code == 2 and "no-such-bucket-here" in result.output
    # Nodes sharing a store must share the secret that signs its links: without it, start-up says so.
    unsigned = CliRunner().invoke(
        cli, ["migrate"], env={"VETRINA_DATA_DIR": str(tmp_path / "data"), "VETRINA_STORAGE_URL": "s3://bucket-x"}
    )
    assert unsigned.exit_code == 2 and "VETRINA_SECRET_KEY must be set" in unsigned.output


def test_a_store_that_is_down_is_a_503_to_retry(s3_bucket, tmp_path):
    down = S3Store.from_url(f"s3://{s3_bucket}", tmp_path / "work", KEY, f"http://127.0.0.1:{free_port()}")
    source = made(tmp_path, {"clip.mp4": b"x"}) / "clip.mp4"
    with pytest.raises(StorageUnavailable) as raised:
        down.put_file(source, "videos/1/source.mp4")
    assert raised.value.status == 503 and raised.value.extra["retry_after_s"] > 0
    assert source.exists()  # nothing lost: the upload can be tried again


def test_a_local_data_dir_moves_into_a_bucket_resumably_and_checked(s3_endpoint, s3_bucket, tmp_path):
    data = tmp_path / "data"
    local = LocalStore(data / "media", KEY)
    files = {"videos/1/source.mp4": os.urandom(PART_SIZE + 5), "products/2/large.jpg": b"jpeg", "a/b/c.txt": b""}
    for key, body in files.items():
        local.put_file(made(tmp_path / "in", {"f": body}) / "f", key)
    local.scratch_dir("upload-x")  # scratch is not media: it stays behind
    env = {"VETRINA_DATA_DIR": str(data), "VETRINA_SECRET_KEY": "k"}
    target = f"s3://{s3_bucket}/vetrina"
    run = ["storage", "migrate", "--to", target, "--endpoint-url", s3_endpoint]

    first = CliRunner().invoke(cli, run, env=env)
    assert first.exit_code == 0, first.output
    assert "3 copied" in first.output and "0 already there" in first.output
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    for key, body in files.items():
        stored = client.get_object(Bucket=s3_bucket, Key=f"vetrina/{key}")["Body"].read()
        assert hashlib.sha256(stored).digest() == hashlib.sha256(body).digest(), key
    listed = client.list_objects_v2(Bucket=s3_bucket)["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted(f"vetrina/{key}" for key in files)

    again = CliRunner().invoke(cli, run, env=env)  # resumed: nothing left to copy
    assert "0 copied" in again.output and "3 already there" in again.output

    client.put_object(Bucket=s3_bucket, Key="vetrina/products/2/large.jpg", Body=b"damaged")
    repaired = CliRunner().invoke(cli, run, env=env)
    assert "1 copied" in repaired.output and "2 already there" in repaired.output
    assert client.get_object(Bucket=s3_bucket, Key="vetrina/products/2/large.jpg")["Body"].read() == b"jpeg"

    bad = CliRunner().invoke(cli, ["storage", "migrate", "--to", "http://bucket"], env=env)
    assert bad.exit_code == 2 and "s3://bucket/prefix" in bad.output


@pytest.mark.slow
def test_a_video_uploaded_into_a_bucket_transcodes_there_and_plays_from_it(
    settings, s3_endpoint, s3_bucket, make_account, short_clip
):
    site = build_context(in_bucket(settings, s3_endpoint, s3_bucket, "site"))
    bucket = boto3.client("s3", endpoint_url=s3_endpoint)
    try:
        with TestClient(create_app(site, run_worker=True)) as client:
            merchant = make_account(Role.merchant)
            accepted = upload(client, merchant, short_clip)
            assert accepted.status_code == 202, accepted.text
            video = wait_until_done(client, merchant, accepted.json()["id"])
            assert video["status"] == "ready", video["error"]

            answer = client.get(video["hls_url"])
            assert answer.headers["etag"] and "max-age=10" in answer.headers["cache-control"]
            assert client.get(video["hls_url"], headers={"If-None-Match": answer.headers["etag"]}).status_code == 304
            master = m3u8.loads(answer.text, uri=video["hls_url"])
            playlist_url = master.playlists[0].absolute_uri
            variant_answer = client.get(playlist_url)
            variant = m3u8.loads(variant_answer.text, uri=playlist_url)
            # The title may play anywhere and no edge is configured: its segments come straight from the bucket,
            # by presigned URLs, and the playlist holds its ETag while players poll it.
            direct = variant.segments[0].absolute_uri
            assert direct.startswith(f"{s3_endpoint}/{s3_bucket}/site/videos/") and "X-Amz-Signature=" in direct
            assert client.get(playlist_url).headers["etag"] == variant_answer.headers["etag"]
            key = urlsplit(direct).path.split("/", 2)[2]
            stored = bucket.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
            assert httpx.get(direct).content == stored and len(stored) > 1000
            # A title licensed territory by territory keeps its segments behind its territory-bound token.
            with site.db.session() as session:
                year = timedelta(days=365)
                rights.create_licence(
                    site,
                    session,
                    merchant.user,
                    video["id"],
                    distributor="Studio",
                    territories=["rest of world"],
                    starts_at=clock.now() - year,
                    ends_at=clock.now() + year,
                    uses=["stream"],
                )
            licensed = client.get(playlist_url)
            assert m3u8.loads(licensed.text).segments[0].uri == "seg_00000.ts"
            assert licensed.headers["etag"] != variant_answer.headers["etag"]
            segment_url = urljoin(playlist_url, "seg_00000.ts")
            served = client.get(segment_url)
            assert served.status_code == 200 and served.headers["content-type"] == "video/mp2t"
            assert served.content == stored
            part = client.get(segment_url, headers={"Range": "bytes=100-199"})
            assert part.status_code == 206 and part.content == stored[100:200]
            assert part.headers["content-range"] == f"bytes 100-199/{len(stored)}"
            tail = client.get(segment_url, headers={"Range": "bytes=-10"})
            assert tail.status_code == 206 and tail.content == stored[-10:]
            assert client.get(segment_url, headers={"Range": f"bytes={len(stored)}-"}).status_code == 416
            for ignored in ("bytes=5-3", "bytes=-"):  # no range a client could mean: the whole file
                whole = client.get(segment_url, headers={"Range": ignored})
                assert whole.status_code == 200 and whole.content == stored, ignored
            head = client.head(segment_url)
            assert head.status_code == 200 and int(head.headers["content-length"]) == len(stored)
            # Nothing of the video stayed on this machine's disk: the next node finds it all in the bucket.
            assert not (settings.data_dir / "media" / "videos").exists()
            assert not [p for p in (settings.data_dir / "work").rglob("*") if p.is_file()]

            deleted = client.delete(f"/api/v1/videos/{video['id']}", headers=merchant.auth)
            assert deleted.status_code == 204
            wait_for(
                lambda: bucket.list_objects_v2(Bucket=s3_bucket, Prefix=f"site/videos/{video['id']}/")["KeyCount"] == 0,
                timeout_s=10,
                message="the video's objects to be removed",
            )
    finally:
        site.close()


def test_an_upload_while_the_store_is_down_is_a_503_and_leaves_nothing(
    settings, s3_endpoint, s3_bucket, make_account, short_clip
):
    site = build_context(in_bucket(settings, s3_endpoint, s3_bucket))
    try:
        with TestClient(create_app(site)) as client:
            merchant = make_account(Role.merchant)
            site.store.client = s3_client(f"http://127.0.0.1:{free_port()}")  # the store goes down
            refused = upload(client, merchant, short_clip)
            body = assert_problem(refused, 503, "storage-unavailable")
            assert int(refused.headers["retry-after"]) > 0 and "try again" in body["detail"]
            assert client.get("/api/v1/videos", headers=merchant.auth, params={"mine": "true"}).json()["total"] == 0
            assert not [p for p in (settings.data_dir / "work").rglob("*") if p.is_file()]
    finally:
        site.close()


@pytest.mark.slow
def test_a_transcode_while_the_store_is_down_waits_for_it_and_then_finishes(
    settings, s3_endpoint, s3_bucket, make_account, short_clip
):
    site = build_context(in_bucket(settings, s3_endpoint, s3_bucket))
    try:
        upload_path = settings.data_dir / "upload.mp4"
        upload_path.write_bytes(short_clip.read_bytes())
        owner = make_account(Role.merchant).user
        with site.db.session() as session:
            video_id = media.create_video(
                site, session, owner, title="Patient", description="", upload=upload_path, filename="clip.mp4"
            ).id
        working = site.store.client
        site.store.client = s3_client(f"http://127.0.0.1:{free_port()}")  # the store goes down
        queued = site.queue.pending_count()
        transcode_video(site, video_id)
        with site.db.session() as session:
            waiting = session.get_one(Video, video_id)
            # Waiting again, the attempt not counted against it, and its job queued to try after a pause.
            assert (waiting.status, waiting.output_key, waiting.lease_token, waiting.attempts) == (
                "processing",
                None,
                None,
                0,
            )
        assert site.queue.pending_count() == queued + 1  # to run after a pause

        site.store.client = working  # back
        transcode_video(site, video_id)
        with site.db.session() as session:
            done = session.get_one(Video, video_id)
            assert (done.status, done.attempts) == ("ready", 1), done.error
        assert site.store.exists(f"{done.output_key}/master.m3u8")
    finally:
        site.close()


def test_refused_credentials_stop_start_up_with_a_clear_message(tmp_path):
    with s3_that_checks_credentials("vetrina-private") as s3:
        granted = boto3.client(
            "s3", endpoint_url=s3.endpoint, aws_access_key_id=s3.access_key, aws_secret_access_key=s3.secret_key
        )
        S3Store("vetrina-private", "", granted, tmp_path / "work", KEY).check()  # the right keys open it
        wrong = boto3.client(
            "s3", endpoint_url=s3.endpoint, aws_access_key_id=s3.access_key, aws_secret_access_key="not-the-secret"
        )
        with pytest.raises(StorageMisconfigured, match="vetrina-private.*refused the credentials"):
            S3Store("vetrina-private", "", wrong, tmp_path / "work", KEY).check()
        env = {
            "VETRINA_DATA_DIR": str(tmp_path / "data"),
            "VETRINA_SECRET_KEY": "shared",
            "VETRINA_STORAGE_URL": "s3://vetrina-private/media",
            "VETRINA_S3_ENDPOINT_URL": s3.endpoint,
            "AWS_ACCESS_KEY_ID": s3.access_key,
            "AWS_SECRET_ACCESS_KEY": "not-the-secret",
        }
        refused = CliRunner().invoke(cli, ["migrate"], env=env)
        assert refused.exit_code == 2 and "refused the credentials" in refused.output
        allowed = CliRunner().invoke(cli, ["migrate"], env={**env, "AWS_SECRET_ACCESS_KEY": s3.secret_key})
        assert allowed.exit_code == 0, allowed.output
