"""The live selling controls: pins, chat and its moderation. Each is kept in its table and as an event of the show,
stamped with the stream time it belongs to (the program date time of the frame on camera when it happened), which
the event stream carries to viewers and the replay turns into its moments.

A viewer in chat is known by a handle (a keyed hash of the show and the account), never by their account or email."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.catalog.models import Product
from vetrina.commerce import flash
from vetrina.commerce.models import FlashSale
from vetrina.context import Context
from vetrina.errors import Conflict, Forbidden, InvalidInput, NotFound
from vetrina.i18n import _
from vetrina.live import hls
from vetrina.live import service as live
from vetrina.live.models import (
    ChatMessage,
    ChatSanction,
    EventType,
    LiveEvent,
    LivePin,
    LiveShow,
    ShowMerchant,
    ShowStatus,
)
from vetrina.live.service import featured_products, hosted_show
from vetrina.money import Money
from vetrina.shoppable.service import product_card
from vetrina.text import clean_text

MAX_CHAT_CHARS = 300
RECENT_CHAT = 50  # messages a viewer who opens the stream is sent
BACKLOG_EVENTS = 500  # events a reconnecting viewer is sent at most
# How far back a host's own stream time may point: their preview lags the camera by a few seconds, never a minute.
STREAM_TIME_WINDOW = timedelta(seconds=60)
REACTIONS = ("heart", "fire", "clap", "laugh", "wow")
_WORD = re.compile(r"\w+", re.UNICODE)


def stream_time(given: datetime | None) -> datetime:
    """The stream time of what the host does now: `given` (the program date time their preview shows) when it is
    within the last minute, else the wall clock (the encoder stamps a frame with the wall clock as it takes it,
    so the frame on camera now is the frame of this moment, give or take the ingest's fraction of a second)."""
    now = clock.now()
    if given is not None:
        try:
            given = given.astimezone(UTC)
        except (OverflowError, ValueError):  # a date at the edge of the calendar: not a preview's
            return now
        if now - STREAM_TIME_WINDOW <= given <= now + timedelta(seconds=2):
            return given
    return now


def event_data(event: LiveEvent) -> dict[str, Any]:
    """An event as the stream sends it: `{id, type, stream_time, payload}`."""
    return {
        "id": event.id,
        "type": event.type,
        "stream_time": hls.program_time_text(event.stream_time),
        "payload": event.payload,
    }


def _record(session: Session, show_id: int, kind: EventType, at: datetime, payload: dict[str, Any]) -> LiveEvent:
    event = LiveEvent(show_id=show_id, type=kind.value, stream_time=at, payload=payload, created_at=clock.now())
    session.add(event)
    session.flush()
    return event


def _on_air(show: LiveShow) -> None:
    if not show.on_air:
        raise Conflict(_("The show is not on air."), current_status=show.status)


# Pins ----------------------------------------------------------------------------------------------------------------


def pin(
    ctx: Context, session: Session, show_id: int, user: User, product_id: int, given: datetime | None
) -> tuple[LivePin, list[LiveEvent]]:
    """Pin one of the show's products (one at a time: the one pinned before is unpinned at the same moment); returns
    the pin and its events, in order."""
    show = hosted_show(session, show_id, user)
    _on_air(show)
    product = next((p for p in featured_products(session, show) if p.id == product_id), None)
    if product is None:
        raise InvalidInput(
            _("This show does not feature product {product_id}.", product_id=product_id), field="product_id"
        )
    opened = _open_pins(session, show_id)
    # Never before the pin it replaces, nor the last unpin: a preview lagging more than the last click does not
    # reorder the moments (the replay's tags follow one another).
    last_unpin = session.scalar(select(func.max(LivePin.unpinned_at)).where(LivePin.show_id == show_id))
    earlier = [open_pin.pinned_at for open_pin in opened] + ([last_unpin] if last_unpin is not None else [])
    at = max([stream_time(given), *earlier])
    events = []
    for open_pin in opened:
        open_pin.unpinned_at = at
        unpinned = {"pin_id": open_pin.id, "product_id": open_pin.product_id}
        events.append(_record(session, show_id, EventType.unpin, at, unpinned))
    placed = LivePin(show_id=show_id, product_id=product_id, pinned_at=at)
    session.add(placed)
    session.flush()
    card = {"pin_id": placed.id, "product": product_card(ctx, product)}
    events.append(_record(session, show_id, EventType.pin, at, card))
    return placed, events


def unpin(session: Session, show_id: int, user: User, pin_id: int, given: datetime | None) -> LiveEvent:
    show = hosted_show(session, show_id, user)
    placed = session.get(LivePin, pin_id)
    if placed is None or placed.show_id != show.id:
        raise NotFound(_("This show has no pin {pin_id}.", pin_id=pin_id))
    if placed.unpinned_at is not None:
        raise Conflict(_("That product is no longer pinned."))
    at = max(stream_time(given), placed.pinned_at)
    placed.unpinned_at = at
    return _record(session, show_id, EventType.unpin, at, {"pin_id": placed.id, "product_id": placed.product_id})


def _open_pins(session: Session, show_id: int) -> Sequence[LivePin]:
    return session.scalars(select(LivePin).where(LivePin.show_id == show_id, LivePin.unpinned_at.is_(None))).all()


def pins(session: Session, show_id: int) -> Sequence[LivePin]:
    return session.scalars(select(LivePin).where(LivePin.show_id == show_id).order_by(LivePin.pinned_at)).all()


def decide_consent(
    session: Session, show_id: int, merchant: User, accept: bool
) -> tuple[ShowMerchant, list[LiveEvent]]:
    """A merchant answers a partner's show (`service.decide_consent`); declining also unpins its product if pinned,
    at once. Returns the answer and the unpin events."""
    asked = live.decide_consent(session, show_id, merchant, accept)
    events = []
    if not accept:
        theirs = select(Product.id).where(Product.merchant_id == merchant.id)
        for open_pin in session.scalars(
            select(LivePin).where(
                LivePin.show_id == show_id, LivePin.unpinned_at.is_(None), LivePin.product_id.in_(theirs)
            )
        ):
            open_pin.unpinned_at = at = max(stream_time(None), open_pin.pinned_at)
            unpinned = {"pin_id": open_pin.id, "product_id": open_pin.product_id}
            events.append(_record(session, show_id, EventType.unpin, at, unpinned))
    return asked, events


# Flash sales ---------------------------------------------------------------------------------------------------------


def start_flash_sale(
    ctx: Context,
    session: Session,
    show_id: int,
    user: User,
    product_id: int,
    price: Money,
    quantity: int,
    seconds: int,
    per_buyer: int,
) -> tuple[FlashSale, LiveEvent]:
    """Open a flash sale of one of the show's products (its units out of stock now), announced to every viewer."""
    show = hosted_show(session, show_id, user)
    if show.host_id != user.id:  # an admin could otherwise sell the host's stock cheap, and buy it
        raise Forbidden(_("Only the show's host starts its flash sales."))
    _on_air(show)
    product = next((p for p in featured_products(session, show) if p.id == product_id), None)
    if product is None:
        raise InvalidInput(
            _("This show does not feature product {product_id}.", product_id=product_id), field="product_id"
        )
    host = session.get(User, show.host_id)
    assert host is not None  # a show goes with its host
    sale = flash.start_sale(session, host, product_id, price, quantity, seconds, per_buyer, show_id=show.id)
    payload = {"sale": flash.sale_state(sale), "product": product_card(ctx, product)}
    return sale, _record(session, show_id, EventType.flash_sale, stream_time(None), payload)


def end_flash_sale(session: Session, show_id: int, user: User, sale_id: int) -> FlashSale:
    """The host ends one of the show's flash sales before its time: nothing more is sold in it, its unsold units go
    back to stock, and the reservations already made keep their time."""
    show = hosted_show(session, show_id, user)
    if show.host_id != user.id:
        raise Forbidden(_("Only the show's host ends its flash sales."))
    sale = session.get(FlashSale, sale_id)
    if sale is None or sale.show_id != show.id:
        raise NotFound(_("This show has no flash sale {sale_id}.", sale_id=sale_id))
    if not flash.close_sale(session, sale_id, early=True):
        raise Conflict(_("This flash sale has ended already."))
    return sale


# Chat ----------------------------------------------------------------------------------------------------------------


def viewer_handle(ctx: Context, show_id: int, user_id: int) -> str:
    """How chat names a viewer in one show: stable there, meaningless anywhere else."""
    message = f"live-chat:{show_id}:{user_id}".encode()
    return "v" + hmac.new(ctx.settings.signing_key, message, hashlib.sha256).hexdigest()[:10]


def post_chat(
    ctx: Context, session: Session, show_id: int, user: User, text: str
) -> tuple[ChatMessage, LiveEvent | None]:
    """A chat message; its event is None when it reaches nobody (its author is muted, so only they see it)."""
    show = session.get(LiveShow, show_id)
    if show is None:
        raise NotFound(_("There is no live show {show_id}.", show_id=show_id))
    if show.status == ShowStatus.ended:
        raise Conflict(_("The show has ended: its chat is closed."), current_status=show.status)
    text = clean_text(text, "text", MAX_CHAT_CHARS, required=True)
    sanction = session.get(ChatSanction, (show_id, user.id))
    if sanction is not None and sanction.kind == "ban":
        raise Forbidden(_("The host has banned you from this show's chat."))
    blocked = {word.casefold() for word in ctx.settings.live_blocked_words}
    if blocked and any(word.casefold() in blocked for word in _WORD.findall(text)):
        raise InvalidInput(_("That message uses a word this show's chat does not allow."), field="text")
    at = clock.now()
    muted = sanction is not None and sanction.kind == "mute"
    message = ChatMessage(show_id=show_id, user_id=user.id, text=text, stream_time=at, deleted=False, hidden=muted)
    session.add(message)
    session.flush()
    if muted:
        return message, None
    return message, _record(session, show_id, EventType.chat, at, chat_payload(ctx, show, message))


def chat_payload(ctx: Context, show: LiveShow, message: ChatMessage) -> dict[str, Any]:
    return {
        "message_id": message.id,
        "viewer": viewer_handle(ctx, show.id, message.user_id),
        "host": message.user_id == show.host_id,
        "text": message.text,
    }


def moderate(
    ctx: Context, session: Session, show_id: int, user: User, action: str, viewer: str | None, message_id: int | None
) -> list[LiveEvent]:
    """Mute or ban a viewer (named by handle, or as a message's author), or delete a message. A deleted line, and
    every line of a banned viewer, is taken back from every viewer (the events returned) and from the history a
    reconnecting viewer is sent. Only the host or an admin; the host cannot mute themself."""
    show = hosted_show(session, show_id, user)
    message = None
    if message_id is not None:
        message = session.get(ChatMessage, message_id)
        if message is None or message.show_id != show_id:
            raise NotFound(_("This show's chat has no message {message_id}.", message_id=message_id))
    if action == "delete":
        if message is None:
            raise InvalidInput(_("Name the message to delete."), field="message_id")
        if message.deleted:
            return []
        message.deleted = True
        return [_record(session, show_id, EventType.chat_deleted, message.stream_time, {"message_id": message.id})]
    target = message.user_id if message is not None else _viewer_of(ctx, session, show_id, viewer)
    if target == show.host_id:
        raise InvalidInput(_("The host cannot mute or ban themself."), field="viewer")
    sanction = session.get(ChatSanction, (show_id, target))
    if sanction is None:
        session.add(ChatSanction(show_id=show_id, user_id=target, kind=action, created_at=clock.now()))
    elif sanction.kind != "ban":  # a ban outranks a mute
        sanction.kind = action
    if action != "ban":
        return []
    said = session.scalars(
        select(ChatMessage).where(
            ChatMessage.show_id == show_id, ChatMessage.user_id == target, ChatMessage.hidden.is_(False)
        )
    ).all()
    events = []
    for line in said:  # what they said stays in the table, unseen from now on
        line.hidden = True
        if not line.deleted:
            events.append(_record(session, show_id, EventType.chat_deleted, line.stream_time, {"message_id": line.id}))
    return events


def _viewer_of(ctx: Context, session: Session, show_id: int, handle: str | None) -> int:
    if not handle:
        raise InvalidInput(_("Name the viewer (or one of their messages)."), field="viewer")
    authors = session.scalars(select(ChatMessage.user_id).where(ChatMessage.show_id == show_id).distinct())
    for author in authors:
        if hmac.compare_digest(viewer_handle(ctx, show_id, author), handle):
            return author
    raise NotFound(_("No viewer by that name has written in this show's chat."))


# What a viewer is sent ----------------------------------------------------------------------------------------------


def events_after(session: Session, show_id: int, after_id: int) -> Sequence[LiveEvent]:
    """What a reconnecting viewer missed (Last-Event-ID), oldest first, at most BACKLOG_EVENTS; chat lines deleted
    or hidden since are left out (their text is not for anyone any more)."""
    events = session.scalars(
        select(LiveEvent)
        .where(LiveEvent.show_id == show_id, LiveEvent.id > after_id)
        .order_by(LiveEvent.id)
        .limit(BACKLOG_EVENTS)
    ).all()
    shown = _shown_lines(session, [event.payload.get("message_id") for event in events if event.type == EventType.chat])
    return [event for event in events if event.type != EventType.chat.value or event.payload.get("message_id") in shown]


def _shown_lines(session: Session, message_ids: list[Any]) -> set[int]:
    """Which of these chat lines anyone may still see (not deleted, not hidden by a mute or a ban)."""
    visible = (ChatMessage.id.in_(message_ids), ChatMessage.deleted.is_(False), ChatMessage.hidden.is_(False))
    return set(session.scalars(select(ChatMessage.id).where(*visible)))


def _latest(session: Session, show_id: int, kind: EventType, count: int) -> Sequence[LiveEvent]:
    """The show's last `count` events of one kind, newest first."""
    return session.scalars(
        select(LiveEvent)
        .where(LiveEvent.show_id == show_id, LiveEvent.type == kind.value)
        .order_by(LiveEvent.id.desc())
        .limit(count)
    ).all()


def opening_events(session: Session, show_id: int) -> list[LiveEvent]:
    """What a viewer who opens the stream is sent first: the pinned product's pin, the open flash sale and the
    recent chat, in order."""
    open_ids = {p.id for p in _open_pins(session, show_id)}
    pinned = [event for event in _latest(session, show_id, EventType.pin, 1) if event.payload.get("pin_id") in open_ids]
    chat = _latest(session, show_id, EventType.chat, RECENT_CHAT * 2)
    shown = _shown_lines(session, [event.payload.get("message_id") for event in chat])
    recent = [event for event in chat if event.payload.get("message_id") in shown][:RECENT_CHAT]
    sales = _latest(session, show_id, EventType.flash_sale, 1)
    selling = [
        event for event in sales if flash.sale_state(flash.get_sale(session, event.payload["sale"]["sale_id"]))["open"]
    ]
    return sorted([*pinned, *selling, *recent], key=lambda event: event.id)
