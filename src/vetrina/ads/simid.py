"""The shoppable overlay as an IAB SIMID 1.2 creative: the page a SIMID-capable player (Google IMA and others)
loads in an iframe for the overlay's `NonLinear apiFramework="SIMID"`, and the product card it shows.

The page is named by the served ad's signed token (`tokens`), so it exists only for an ad Vetrina served, only
for a day, and only while the campaign's product is published. Showing it records nothing and charges nothing;
its buy action is a SIMID clickThru to the ad's click route, which counts the click once (and charges it under
the beacon screen) before leading to the product's own page, where buying happens outside any frame."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from vetrina.ads import tokens
from vetrina.ads.models import Campaign
from vetrina.catalog import service as catalog
from vetrina.catalog.translations import shown
from vetrina.context import Context
from vetrina.errors import NotFound
from vetrina.i18n import _
from vetrina.money import Money

OVERLAY_PATH = "/simid/overlay/"


def creative_url(base_url: str, decision_id: str) -> str:
    """Where a player loads the SIMID creative of a served overlay ad."""
    return f"{base_url}{OVERLAY_PATH}{decision_id}"


def click_url(base_url: str, decision_id: str) -> str:
    """The ad's click route: counts the click once, then leads to the product's page."""
    return f"{base_url}/api/v1/ads/click/{decision_id}"


@dataclass(frozen=True)
class OverlayCard:
    """What the SIMID creative shows: the product's title, price and card image, and where its buy action goes."""

    product_id: int
    title: str
    price: Money
    image_url: str | None
    click_url: str


def overlay_card(ctx: Context, session: Session, base_url: str, decision_id: str, now: datetime) -> OverlayCard:
    """The card of a served overlay ad. A forged, expired or unknown token, an ad without a product and a product
    that is unpublished or gone are all the same NotFound: the page says nothing about which it was."""
    try:
        served = tokens.verify(ctx.store.signing_key, decision_id, now.timestamp())
        campaign = session.get(Campaign, served.campaign_id)
        if campaign is None or campaign.product_id is None:
            raise NotFound("no product")
        product = catalog.get_product(session, campaign.product_id, None)  # as a stranger sees it
    except NotFound:
        raise NotFound(_("There is no such served ad.")) from None
    image = catalog.image_urls(ctx, product.images[0])["card"] if product.images else None
    return OverlayCard(
        product_id=product.id,
        title=shown(product, "title"),  # in the viewer's language, as the player's own cards
        price=Money(product.price_amount, product.currency),
        image_url=image,
        click_url=click_url(base_url, decision_id),
    )
