"""Shoppable helpers for any test that needs a product tagged in a video."""

from __future__ import annotations


def tag(client, account, video_id, product_id, start, end, **extra):
    return client.post(
        f"/api/v1/videos/{video_id}/tags",
        headers=account.auth,
        json={"product_id": product_id, "start_s": start, "end_s": end, **extra},
    )
