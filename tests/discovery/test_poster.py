"""A video's stable poster address (`/watch/{id}/poster.jpg`): ids that are not row ids are 422 problems, and a
private, a still processing and an unknown video get the same 404 (but for the id asked), so the address never
tells which videos exist."""

from __future__ import annotations

from tests.discovery.helpers import video_row
from tests.web.helpers import assert_problem
from vetrina.accounts.models import Role


def test_bad_poster_ids_are_problems(site):
    for bad in ("0", "-1", "abc", "1.5", str(2**31)):
        assert_problem(site.get(f"/watch/{bad}/poster.jpg"), 422, "invalid-input")


def test_private_processing_and_unknown_posters_are_one_404(live_server, site, make_account):
    owner = make_account(Role.merchant)
    private = video_row(live_server.ctx, owner.user.id, published=False)
    processing = video_row(live_server.ctx, owner.user.id, status="processing")
    public = video_row(live_server.ctx, owner.user.id)
    assert site.get(f"/watch/{public}/poster.jpg").status_code == 302

    asked = (private, processing, 999_999)
    answers = [site.get(f"/watch/{video_id}/poster.jpg") for video_id in asked]
    for answer in answers:
        assert_problem(answer, 404, "not-found")
    assert {a.headers["content-type"] for a in answers} == {answers[0].headers["content-type"]}
    # The problem names the id asked for (its detail and instance), and nothing else tells the three apart.
    bodies = {
        a.text.replace(f"/{video_id}/", "/ID/").replace(f" {video_id}.", " ID.")
        for a, video_id in zip(answers, asked, strict=True)
    }
    assert len(bodies) == 1, bodies
