"""A real RTMP publish: ffmpeg streams to Debian's nginx with libnginx-mod-rtmp and the shipped config, which asks
Vetrina over HTTP whether the key may publish before it takes a frame, and re-checks it while it streams."""

from __future__ import annotations

import httpx

from tests.helpers import wait_for
from tests.live.helpers import publish
from vetrina.accounts.models import Role


def schedule(ingest, host) -> dict:
    response = httpx.post(f"{ingest.api_url}/api/v1/live", headers=host.auth, json={"title": "Live from the shop"})
    assert response.status_code == 201, response.text
    return response.json()


def status(ingest, show_id: int) -> str:
    return httpx.get(f"{ingest.api_url}/api/v1/live/{show_id}").json()["status"]


def test_a_publisher_with_the_key_goes_live_and_a_stranger_or_a_second_publisher_is_refused(ingest, make_account):
    show = schedule(ingest, make_account(Role.merchant))
    host = publish(f"{ingest.rtmp_url}/{show['stream_key']}", seconds=6)
    try:
        wait_for(lambda: status(ingest, show["id"]) == "live", timeout_s=20, message="the show to go live")
        stranger = publish(f"{ingest.rtmp_url}/live_not-a-key", seconds=6)
        twice = publish(f"{ingest.rtmp_url}/{show['stream_key']}", seconds=6)
        assert stranger.wait(timeout=30) != 0  # dropped before a frame was taken
        assert twice.wait(timeout=30) != 0
        assert status(ingest, show["id"]) == "live"  # the refused ones changed nothing
    finally:
        host_error = host.communicate(timeout=60)[1]
    assert host.returncode == 0, host_error
    wait_for(lambda: status(ingest, show["id"]) == "interrupted", timeout_s=20, message="the show to be interrupted")


def test_ending_the_show_drops_its_publisher_at_the_next_check(ingest, make_account):
    merchant = make_account(Role.merchant)
    show = schedule(ingest, merchant)
    host = publish(f"{ingest.rtmp_url}/{show['stream_key']}", seconds=60)
    try:
        wait_for(lambda: status(ingest, show["id"]) == "live", timeout_s=20, message="the show to go live")
        ended = httpx.post(f"{ingest.api_url}/api/v1/live/{show['id']}/end", headers=merchant.auth)
        assert ended.status_code == 200
        host.wait(timeout=30)  # nginx re-checks every 5 s and drops it: long before its 60 s are up
    finally:
        if host.poll() is None:
            host.kill()
    assert host.returncode != 0
    assert status(ingest, show["id"]) == "ended"
