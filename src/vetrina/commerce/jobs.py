"""Scheduled order work: close unpaid orders that expired, confirm receipt for buyers who did not."""

from __future__ import annotations

import logging

from huey import crontab

from vetrina import clock
from vetrina.commerce import flash
from vetrina.commerce import service as orders
from vetrina.context import Context
from vetrina.jobs import periodic_job

log = logging.getLogger(__name__)


def sweep_orders(ctx: Context) -> tuple[int, int]:
    """Close ended flash sales (their unsold units back in stock), expired unpaid orders and auto-confirm due ones,
    each in its own transaction; returns the counts of orders."""
    now = clock.now()
    with ctx.db.session() as session:
        sales = flash.due_for_closing(session)
        expired = orders.due_for_closing(session, now)
        due = orders.due_for_auto_confirm(session, now)
    for sale_id in sales:
        with ctx.db.session(write=True) as session:
            flash.close_sale(session, sale_id)
    closed = confirmed = 0
    for order_id in expired:
        with ctx.db.session(write=True) as session:
            closed += orders.close_if_expired(ctx, session, order_id)
    for order_id in due:
        with ctx.db.session(write=True) as session:
            confirmed += orders.auto_confirm_if_due(ctx, session, order_id)
    if closed or confirmed:
        log.info("orders: %s expired and closed, %s auto-confirmed", closed, confirmed)
    return closed, confirmed


@periodic_job("commerce.sweep_orders", crontab(minute="*"))
def sweep_orders_job(ctx: Context) -> None:
    sweep_orders(ctx)
