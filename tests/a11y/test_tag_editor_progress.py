"""The tag editor follows a recognition run without reloading itself under its reader (WCAG 2.2.1: the page used to
refresh every 3 s): the progress is polled in place, and the page reloads once, when the run has finished."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from tests.helpers import ready_video_row, sign_in_page, wait_in_page
from vetrina import clock
from vetrina.accounts.models import Role
from vetrina.shoppable.models import AutotagRun

pytestmark = pytest.mark.slow


def test_a_running_recognition_is_followed_in_place_then_the_page_reloads_once(live_server, make_account, browser):
    merchant = make_account(Role.merchant)
    with live_server.ctx.db.session(write=True) as session:
        video = ready_video_row(merchant.user.id)
        session.add(video)
        session.flush()
        run = AutotagRun(
            video_id=video.id,
            requested_by=merchant.user.id,
            product_ids=[],
            catalogue_key="k",
            status="running",
            progress=0.25,
            created_at=clock.now(),
        )
        session.add(run)
        session.flush()
        video_id, run_id = video.id, run.id

    def set_run(**values) -> None:
        with live_server.ctx.db.session(write=True) as session:
            session.execute(update(AutotagRun).where(AutotagRun.id == run_id).values(**values))

    page = browser.new_page()
    sign_in_page(page, live_server.url, merchant, f"/videos/{video_id}/tags")
    assert page.locator("meta[http-equiv=refresh]").count() == 0
    page.evaluate("window.sameDocument = true")
    set_run(progress=0.6)
    wait_in_page(page, "document.querySelector('.run-status progress').value > 0.5")
    assert page.evaluate("window.sameDocument") is True  # updated in place
    assert "60" in page.inner_text(".run-percent")

    set_run(status="done", progress=1.0)
    page.wait_for_selector(".run-status[data-status=done]", timeout=15_000)
    assert page.evaluate("window.sameDocument === undefined")  # reloaded, once it was over
