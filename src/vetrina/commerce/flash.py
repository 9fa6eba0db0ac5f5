"""Flash sales: a price for a few units of one product, for 10 to 300 seconds, at most so many per buyer.

Opening a sale takes its units out of the product's stock (a sale larger than the stock is refused), so ordinary
orders and the sale never sell the same unit. An order in the sale takes its units with one conditional UPDATE of
the sale (never past its quantity, never after its end) and one conditional upsert of the buyer's count (never past
the limit): the database enforces both, whatever the page or a script sends. The order's reservation lasts until
the sale ends plus VETRINA_FLASH_SALE_GRACE_MINUTES, not the ordinary order lifetime; at the end, the units nobody
took go back to the product's stock (the order sweep closes ended and sold-out sales once a minute)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.catalog import service as catalog
from vetrina.catalog.models import Product
from vetrina.commerce.models import FlashSale, FlashSaleBuyer
from vetrina.errors import Conflict, InvalidInput, NotFound
from vetrina.i18n import _
from vetrina.money import Money

MIN_SECONDS, MAX_SECONDS = 10, 300
MAX_UNITS = 100_000
_BUYERS = cast(Table, FlashSaleBuyer.__table__)


class SaleRefused(Conflict):
    slug, title = "flash-sale-refused", _("Not in this flash sale")


@dataclass(frozen=True)
class Taken:
    """What an order took from a sale: its price per unit and when its reservation ends."""

    unit_amount: int
    currency: str
    product_id: int
    merchant_id: int
    reserved_until: datetime
    title: str


def start_sale(
    session: Session,
    merchant: User,
    product_id: int,
    price: Money,
    quantity: int,
    seconds: int,
    per_buyer: int,
    show_id: int | None = None,
) -> FlashSale:
    """Open a sale of `merchant`'s product now, its units taken out of stock."""
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise InvalidInput(
            _("A flash sale lasts {min} to {max} seconds.", min=MIN_SECONDS, max=MAX_SECONDS), field="seconds"
        )
    if not 1 <= quantity <= MAX_UNITS:
        raise InvalidInput(_("A flash sale offers 1 to {max} units.", max=MAX_UNITS), field="quantity")
    if not 1 <= per_buyer <= quantity:
        raise InvalidInput(_("The limit per buyer is 1 to the sale's quantity."), field="per_buyer")
    product = session.get(Product, product_id)
    if product is None or product.deleted or product.merchant_id != merchant.id:
        raise InvalidInput(_("You sell no product {product_id}.", product_id=product_id), field="product_id")
    if any(variant.active for variant in product.variants):
        raise InvalidInput(_("Flash sales are for products without variants."), field="product_id")
    if price.currency != product.currency:
        raise InvalidInput(_("The product is priced in {currency}.", currency=product.currency), field="price.currency")
    if not 0 < price.amount < product.price_amount:
        raise InvalidInput(_("A flash sale's price is below the product's own."), field="price.amount")
    try:
        catalog.reserve_stock(session, product_id, None, quantity)
    except Conflict:
        stock = catalog.available_stock(product)
        raise Conflict(
            _("Only {stock} in stock: a flash sale cannot offer {quantity}.", stock=stock, quantity=quantity),
            field="quantity",
        ) from None
    now = clock.now()
    sale = FlashSale(
        merchant_id=merchant.id,
        product_id=product_id,
        show_id=show_id,
        price_amount=price.amount,
        currency=price.currency,
        quantity=quantity,
        sold=0,
        per_buyer=per_buyer,
        starts_at=now,
        ends_at=now + timedelta(seconds=seconds),
    )
    session.add(sale)
    session.flush()
    return sale


def get_sale(session: Session, sale_id: int) -> FlashSale:
    sale = session.get(FlashSale, sale_id)
    if sale is None:
        raise NotFound(_("There is no flash sale {sale_id}.", sale_id=sale_id))
    return sale


def sale_state(sale: FlashSale) -> dict[str, Any]:
    """What a page shows of a sale: its price, what is left, and until when."""
    open_now = sale.closed_at is None and sale.ends_at > clock.now() and sale.sold < sale.quantity
    return {
        "sale_id": sale.id,
        "product_id": sale.product_id,
        "price": Money(sale.price_amount, sale.currency).as_json(),
        "price_display": Money(sale.price_amount, sale.currency).display(),
        "quantity": sale.quantity,
        "remaining": sale.quantity - sale.sold,
        "per_buyer": sale.per_buyer,
        "ends_at": sale.ends_at.isoformat().replace("+00:00", "Z"),
        "open": open_now,
    }


def take(session: Session, sale_id: int, buyer: User, product_id: int, quantity: int, grace_minutes: int) -> Taken:
    """Take `quantity` units of the sale for `buyer`'s order: SaleRefused when it ended, is sold out, or the buyer
    would pass the limit (and then nothing was written: the refusal is the whole transaction)."""
    now = clock.now()
    claimed = session.execute(
        update(FlashSale)
        .where(
            FlashSale.id == sale_id,
            FlashSale.product_id == product_id,
            FlashSale.closed_at.is_(None),
            FlashSale.starts_at <= now,
            FlashSale.ends_at > now,
            FlashSale.sold + quantity <= FlashSale.quantity,
            quantity <= FlashSale.per_buyer,
            # A product withdrawn since is no longer sold, in its sale either.
            FlashSale.product_id.in_(select(Product.id).where(Product.published, Product.deleted.is_(False))),
        )
        .values(sold=FlashSale.sold + quantity)
        .returning(FlashSale.price_amount, FlashSale.currency, FlashSale.merchant_id, FlashSale.ends_at)
    ).first()
    if claimed is None:
        refusal = _refusal(session, sale_id, product_id, quantity, now)
        refusal.wrote_nothing = True
        raise refusal
    if not _count_buyer(session, sale_id, buyer.id, quantity):
        sale = session.get(FlashSale, sale_id)
        limit = sale.per_buyer if sale is not None else quantity
        raise SaleRefused(_("This flash sale sells at most {limit} to each buyer.", limit=limit), field="quantity")
    title = session.scalar(select(Product.title).where(Product.id == product_id)) or ""
    reserved_until = claimed.ends_at + timedelta(minutes=grace_minutes)
    return Taken(claimed.price_amount, claimed.currency, product_id, claimed.merchant_id, reserved_until, title)


def _count_buyer(session: Session, sale_id: int, buyer_id: int, quantity: int) -> bool:
    """Add the units to the buyer's count unless that would pass the sale's limit (one statement: an upsert whose
    update applies only under the limit); whether they were added."""
    limit = select(FlashSale.per_buyer).where(FlashSale.id == sale_id).scalar_subquery()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    # The table, not the entity: an ORM-enabled INSERT does not report how many rows it wrote.
    statement = dialect.insert(_BUYERS).values(sale_id=sale_id, buyer_id=buyer_id, units=quantity)
    statement = statement.on_conflict_do_update(
        index_elements=[_BUYERS.c.sale_id, _BUYERS.c.buyer_id],
        set_={"units": _BUYERS.c.units + quantity},
        where=_BUYERS.c.units + quantity <= limit,
    ).returning(_BUYERS.c.units)
    return session.execute(statement).first() is not None


def _refusal(session: Session, sale_id: int, product_id: int, quantity: int, now: datetime) -> SaleRefused:
    sale = session.get(FlashSale, sale_id)
    if sale is None or sale.product_id != product_id:
        return SaleRefused(
            _("Flash sale {sale_id} does not sell product {product_id}.", sale_id=sale_id, product_id=product_id),
            field="flash_sale_id",
        )
    if sale.closed_at is not None or sale.ends_at <= now:
        return SaleRefused(_("This flash sale has ended."), field="flash_sale_id")
    product = session.get(Product, product_id)
    if product is None or product.deleted or not product.published:
        return SaleRefused(_("This product is no longer for sale."), field="flash_sale_id")
    if quantity > sale.per_buyer:
        return SaleRefused(
            _("This flash sale sells at most {limit} to each buyer.", limit=sale.per_buyer), field="quantity"
        )
    return SaleRefused(_("This flash sale is sold out."), field="flash_sale_id")


def due_for_closing(session: Session) -> Sequence[int]:
    """Sales that ended or sold out and still hold their unsold units."""
    return session.scalars(
        select(FlashSale.id).where(
            FlashSale.closed_at.is_(None),
            (FlashSale.ends_at <= clock.now()) | (FlashSale.sold >= FlashSale.quantity),
        )
    ).all()


def close_sale(session: Session, sale_id: int, *, early: bool = False) -> bool:
    """Close an ended (or sold-out) sale, or with `early` one still running (its host ends it): its unsold units go
    back to the product's stock, once. Orders taking units wait on the sale's row, then find it closed."""
    # populate_existing: a sale this session read before the lock is read again under it (its `sold` may have moved).
    sale = session.get(FlashSale, sale_id, with_for_update=True, populate_existing=True)
    now = clock.now()
    running = sale is not None and sale.ends_at > now and sale.sold < sale.quantity
    if sale is None or sale.closed_at is not None or (running and not early):
        return False
    sale.closed_at = now
    sale.ends_at = min(sale.ends_at, now)
    if sale.quantity > sale.sold:
        catalog.release_stock(session, sale.product_id, None, sale.quantity - sale.sold)
    return True
