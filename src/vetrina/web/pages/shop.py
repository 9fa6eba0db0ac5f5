"""Shop pages: product pages (schema.org JSON-LD), the buyer's wallet and orders, the merchant's desk."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from vetrina.accounts.models import Role, User
from vetrina.catalog import channels
from vetrina.catalog import service as catalog
from vetrina.commerce import checkout
from vetrina.commerce import service as orders
from vetrina.commerce.models import OrderStatus
from vetrina.context import Context
from vetrina.errors import Forbidden, InvalidInput, VetrinaError
from vetrina.i18n import _
from vetrina.live import service as live
from vetrina.money import Money
from vetrina.payments import wallet
from vetrina.payments.funding import funding_provider
from vetrina.payments.gateways import PayMethod
from vetrina.payouts import balances
from vetrina.web.api.products import product_out
from vetrina.web.deps import (
    MAX_ROW_ID,
    RowId,
    db_session,
    get_context,
    optional_user,
    public_base_url,
    require_csrf_form,
    territory,
    write_session,
)
from vetrina.web.limits import limit_top_up
from vetrina.web.pages.discovery import product_json_ld
from vetrina.web.pages.forms import CsrfField, form_action, image_upload, redirect_back, signed_in
from vetrina.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/p/{product_id}", response_class=HTMLResponse)
def product_page(
    request: Request, product_id: RowId, msg: str = "", user: User | None = optional_user, session: Session = db_session
) -> Response:
    product = catalog.get_product(session, product_id, user)
    return render(
        request,
        "product.html",
        user=user,
        product=product_out(product, get_context(request)),
        json_ld=product_json_ld(request, product),
        price=Money(product.price_amount, product.currency),
        msg=msg,
    )


@router.post("/p/{product_id}/buy")
def buy(
    request: Request,
    product_id: RowId,
    csrf_token: CsrfField = "",
    quantity: Annotated[int, Form(ge=1, le=orders.MAX_QUANTITY)] = 1,
    variant_id: Annotated[int | None, Form(ge=1, le=MAX_ROW_ID)] = None,
    user: User | None = optional_user,
    viewer_territory: str = territory,
) -> Response:
    item = orders.ItemSpec(product_id, quantity, variant_id)
    return form_action(
        request,
        csrf_token,
        user,
        back=f"/p/{product_id}",
        done_at="/orders",
        done=_("Ordered. Pay to put the money in escrow."),
        action=lambda ctx, s, buyer: orders.create_order(ctx, s, buyer, [item], territory=viewer_territory),
        login_first=True,
    )


@router.get("/wallet", response_class=HTMLResponse)
def wallet_page(
    request: Request, msg: str = "", user: User | None = optional_user, session: Session = write_session
) -> Response:
    user = signed_in(user)
    currency = get_context(request).settings.default_currency
    return render(
        request,
        "wallet.html",
        user=user,
        wallet=balances.wallet_view(session, user, currency),
        msg=msg,
        currency=currency,
    )


@router.post("/wallet/topups")
def wallet_top_up(
    request: Request,
    amount: Annotated[str, Form(max_length=30)],
    provider: Annotated[str, Form(max_length=32)] = "",
    currency: Annotated[str, Form(max_length=3)] = "",
    csrf_token: CsrfField = "",
    user: User | None = optional_user,
) -> Response:
    """The sandbox credits at once; a real provider's page is where the buyer goes to pay (a redirect there)."""
    ctx = get_context(request)
    require_csrf_form(request, csrf_token)
    limit_top_up(request, signed_in(user))
    if provider and provider != "sandbox":
        buyer = signed_in(user)
        try:
            money = Money.parse(amount, currency or ctx.settings.default_currency)
            payment = checkout.start_top_up(
                ctx, buyer, money, provider, PayMethod.page, base_url=public_base_url(request), idempotency_key=None
            )
        except VetrinaError as exc:
            return redirect_back("/wallet", exc.detail)
        return RedirectResponse(payment.pay_url or "/wallet", status_code=303)
    return form_action(
        request,
        csrf_token,
        user,
        back="/wallet",
        done=lambda money: _("Added {amount}.", amount=money.display()),
        action=lambda ctx, s, buyer: _top_up(ctx, s, buyer, amount),
    )


def _top_up(ctx: Context, session: Session, user: User, amount: str) -> Money:
    """The amount from the form, charged to the configured funding provider and credited to the wallet."""
    money = Money.parse(amount, ctx.settings.default_currency)
    provider = funding_provider(ctx)
    wallet.top_up(session, provider, user, money, uuid.uuid4().hex)
    return money


@router.get("/orders", response_class=HTMLResponse)
def orders_page(
    request: Request, msg: str = "", user: User | None = optional_user, session: Session = write_session
) -> Response:
    user = signed_in(user)
    page = orders.list_orders(session, user, 1, 50)
    return render(request, "orders.html", user=user, orders=page.items, msg=msg, S=OrderStatus, Money=Money)


_ORDER_ACTIONS = {"pay", "cancel", "confirm", "ship", "refund", "accept", "reject"}


@router.post("/orders/{order_id}/pay-with")
def order_pay_with(
    request: Request,
    order_id: RowId,
    provider: Annotated[str, Form(max_length=32)],
    csrf_token: CsrfField = "",
    user: User | None = optional_user,
) -> Response:
    """Pay the order through a provider's own page (a redirect there); the order is paid when its notification
    arrives. Registered before the generic order actions, which would otherwise take `pay-with`."""
    require_csrf_form(request, csrf_token)
    buyer = signed_in(user)
    try:
        payment = checkout.start_order_payment(
            get_context(request),
            order_id,
            buyer,
            provider,
            PayMethod.page,
            base_url=public_base_url(request),
            idempotency_key=None,
        )
    except VetrinaError as exc:
        return redirect_back("/orders", exc.detail)
    if payment.pay_url:
        return RedirectResponse(payment.pay_url, status_code=303)
    return redirect_back("/orders", _("Paid.") if payment.state == "succeeded" else _("The payment is on its way."))


@router.post("/orders/{order_id}/{action}")
def order_action(
    request: Request,
    order_id: RowId,
    action: str,
    csrf_token: CsrfField = "",
    carrier: Annotated[str, Form(max_length=100)] = "",
    tracking: Annotated[str, Form(max_length=100)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    amount: Annotated[str, Form(max_length=30)] = "",
    refund_id: Annotated[int | None, Form(ge=1, le=MAX_ROW_ID)] = None,
    back: Annotated[str, Form(max_length=20)] = "/orders",
    user: User | None = optional_user,
) -> Response:
    """Every button on the order pages: one domain call each."""
    back = back if back in ("/orders", "/merchant") else "/orders"

    def act(ctx: Context, session: Session, user: User) -> None:
        if action not in _ORDER_ACTIONS:
            raise InvalidInput(_("Unknown action."))
        if action == "pay":
            orders.pay(ctx, session, order_id, user)
        elif action == "cancel":
            orders.cancel(ctx, session, order_id, user)
        elif action == "confirm":
            orders.confirm(ctx, session, order_id, user)
        elif action == "ship":
            orders.ship(ctx, session, order_id, user, carrier, tracking)
        elif action == "refund":
            order = orders.get_order(session, order_id, user)
            money = Money.parse(amount, order.currency) if amount.strip() else None
            orders.request_refund(ctx, session, order_id, user, money, reason)
        elif refund_id is None:
            raise InvalidInput(_("Which refund request?"))
        elif action == "accept":
            orders.accept_refund(ctx, session, order_id, refund_id, user)
        else:
            orders.reject_refund(ctx, session, order_id, refund_id, user, reason)

    return form_action(request, csrf_token, user, back=back, done=_("Done."), action=act)


# The widget's height in each layout, as static/widget.js draws it: the tag reserves it before the script runs.
WIDGET_HEIGHTS = {"carousel": "200px", "stories": "128px"}


def widget_snippet(base_url: str, handle: str, layout: str) -> str:
    """The script tag a merchant pastes into its own site's pages to show its channel's videos (docs/widget.md)."""
    return (
        f'<script src="{base_url}/static/widget.js" data-channel="{handle}" data-layout="{layout}" async '
        f'style="display:block;height:{WIDGET_HEIGHTS[layout]}"></script>'
    )


@router.get("/merchant", response_class=HTMLResponse)
def merchant_desk(
    request: Request, msg: str = "", user: User | None = optional_user, session: Session = write_session
) -> Response:
    user = signed_in(user)
    if user.role not in (Role.merchant, Role.admin):
        raise Forbidden(_("The merchant desk is for merchants."))
    ctx = get_context(request)
    products = catalog.list_products(session, 1, 100, merchant_id=user.id, viewer=user).items
    sold = [o for o in orders.list_orders(session, user, 1, 100).items if o.merchant_id == user.id]
    channel = channels.channel_of(session, user)
    return render(
        request,
        "merchant.html",
        user=user,
        msg=msg,
        S=OrderStatus,
        Money=Money,
        products=[product_out(p, ctx) for p in products],
        orders=sold,
        balance=balances.wallet_view(session, user, ctx.settings.default_currency),
        channel=channel,
        widget_snippets={
            layout: widget_snippet(public_base_url(request), channel.handle, layout) for layout in WIDGET_HEIGHTS
        },
        asking=live.shows_asking(session, user),
    )


def _variant_lines(text: str) -> list[catalog.VariantSpec]:
    """Variants from a textarea, one "name = stock" a line."""
    specs = []
    for line in text.splitlines():
        if not line.strip():
            continue
        name, _equals, stock = line.rpartition("=")
        if not name.strip() or not stock.strip().isdigit():
            raise InvalidInput(
                _("Write each variant as “name = stock”: {line}.", line=repr(line.strip())), field="variants"
            )
        specs.append(catalog.VariantSpec(name=name.strip(), stock=int(stock), options={}))
    return specs


@router.post("/merchant/products")
def merchant_save_product(
    request: Request,
    title: Annotated[str, Form(max_length=catalog.MAX_TITLE)],
    price: Annotated[str, Form(max_length=30)],
    csrf_token: CsrfField = "",
    product_id: Annotated[int | None, Form(ge=1, le=MAX_ROW_ID)] = None,
    description: Annotated[str, Form(max_length=catalog.MAX_DESCRIPTION)] = "",
    currency: Annotated[str, Form(max_length=3)] = "EUR",
    stock: Annotated[int, Form(ge=0, le=catalog.MAX_STOCK)] = 0,
    variants: Annotated[str, Form(max_length=10_000)] = "",
    published: Annotated[bool, Form()] = False,
    stock_was: Annotated[int | None, Form(ge=0, le=catalog.MAX_STOCK)] = None,
    variants_was: Annotated[str | None, Form(max_length=10_000)] = None,
    user: User | None = optional_user,
) -> Response:
    """Create a product, or change one (when product_id is given).

    Stock and variants are only written when the merchant changed them on the form: stock sold while
    the page was open must not be put back by saving a new title."""

    def save(ctx: Context, session: Session, user: User) -> None:
        fields: dict[str, Any] = {
            "title": title,
            "description": description,
            "price": Money.parse(price, currency),
            "published": published,
        }
        if product_id is None:
            catalog.create_product(session, user, stock=stock, variants=_variant_lines(variants), **fields)
            return
        if stock != stock_was:
            fields["stock"] = stock
        if variants.strip() != (variants_was or "").strip():
            existing = {
                v.name.casefold(): v.id
                for v in catalog.product_for_change(session, product_id, user).variants
                if v.active
            }
            fields["variants"] = [
                catalog.VariantSpec(name=v.name, stock=v.stock, options=v.options, id=existing.get(v.name.casefold()))
                for v in _variant_lines(variants)
            ]
        catalog.update_product(session, product_id, user, fields)

    return form_action(request, csrf_token, user, back="/merchant", done=_("Saved."), action=save)


@router.post("/merchant/products/{product_id}/images")
def merchant_add_image(
    request: Request,
    product_id: RowId,
    csrf_token: CsrfField = "",
    file: Annotated[UploadFile | None, File()] = None,
    user: User | None = optional_user,
) -> Response:
    add = image_upload(
        file,
        find=lambda session, merchant: catalog.product_for_change(session, product_id, merchant),
        store=lambda ctx, session, product, merchant, path: catalog.add_image(ctx, session, product.id, merchant, path),
    )
    return form_action(request, csrf_token, user, back="/merchant", done=_("Image added."), action=add)


@router.post("/merchant/channel")
def merchant_save_channel(
    request: Request,
    name: Annotated[str, Form(max_length=100)],
    csrf_token: CsrfField = "",
    description: Annotated[str, Form(max_length=5000)] = "",
    brand_color: Annotated[str, Form(max_length=7)] = "#1e293b",
    text_color: Annotated[str, Form(max_length=7)] = "#ffffff",
    auto_tag: Annotated[bool, Form()] = False,
    embed_origins: Annotated[str, Form(max_length=8000)] = "",
    user: User | None = optional_user,
) -> Response:
    def save(ctx: Context, session: Session, user: User) -> None:
        handle = channels.channel_of(session, user).handle
        changes = {
            "name": name,
            "description": description,
            "brand_color": brand_color,
            "text_color": text_color,
            "auto_tag": auto_tag,
            "embed_origins": embed_origins.split(),
        }
        channels.update_channel(session, handle, user, changes)

    return form_action(request, csrf_token, user, back="/merchant", done=_("Channel saved."), action=save)


@router.post("/merchant/channel/banner")
def merchant_channel_banner(
    request: Request,
    csrf_token: CsrfField = "",
    file: Annotated[UploadFile | None, File()] = None,
    user: User | None = optional_user,
) -> Response:
    add = image_upload(
        file,
        find=channels.channel_of,
        store=lambda ctx, session, channel, merchant, path: channels.set_banner(
            ctx, session, channel.handle, merchant, path
        ),
    )
    return form_action(request, csrf_token, user, back="/merchant", done=_("Banner uploaded."), action=add)
