"""prefers-reduced-motion in Chromium: a reader who asks for less motion gets no card sliding in and no fading
controls; everyone else keeps them."""

from __future__ import annotations

import pytest

from tests.helpers import ready_video_row
from vetrina.accounts.models import Role

pytestmark = pytest.mark.slow

MOTION = """() => {
    const card = Object.assign(document.createElement('div'), { className: 'product-card' });
    document.querySelector('.cards').append(card);
    const seconds = (text) => Math.max(...text.split(',')
        .map((part) => parseFloat(part) * (part.includes('ms') ? 0.001 : 1)));
    return { card: seconds(getComputedStyle(card).animationDuration),
             controls: seconds(getComputedStyle(document.querySelector('.controls')).transitionDuration),
             scrolling: getComputedStyle(document.documentElement).scrollBehavior };
}"""


@pytest.mark.parametrize("motion", ["reduce", "no-preference"])
def test_less_motion_when_the_reader_asks_for_it(live_server, make_account, browser, motion):
    merchant = make_account(Role.merchant)
    with live_server.ctx.db.session(write=True) as session:
        video = ready_video_row(merchant.user.id)
        session.add(video)
        session.flush()
        video_id = video.id
    context = browser.new_context(reduced_motion=motion)
    page = context.new_page()
    page.goto(f"{live_server.url}/watch/{video_id}")
    moving = page.evaluate(MOTION)
    if motion == "reduce":
        assert moving["card"] < 0.001 and moving["controls"] < 0.001 and moving["scrolling"] == "auto", moving
    else:
        assert moving["card"] >= 0.2 and moving["controls"] >= 0.2, moving
    context.close()
