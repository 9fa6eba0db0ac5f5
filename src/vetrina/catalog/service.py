"""What the rest of Vetrina asks of the catalog: products, their variants, stock and images."""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeGuard, cast

from sqlalchemy import ColumnElement, Table, bindparam, exists, func, select, update
from sqlalchemy.orm import Session, selectinload

from vetrina import clock
from vetrina.accounts.models import Role, User
from vetrina.catalog.images import IMAGE_SIZES, render_sizes
from vetrina.catalog.models import Product, ProductImage, ProductVariant
from vetrina.catalog.translations import MAX_DESCRIPTION, MAX_TITLE, clean_translations
from vetrina.context import Context
from vetrina.db import after_commit, on_rollback
from vetrina.errors import Conflict, Forbidden, InvalidInput, NotFound
from vetrina.i18n import _
from vetrina.money import Money, check_currency
from vetrina.text import clean_text

SELLER_ROLES = (Role.merchant, Role.admin)
MAX_VARIANTS = 100
MAX_IMAGES = 10
MAX_STOCK = 1_000_000


@dataclass(frozen=True)
class VariantSpec:
    name: str
    stock: int
    options: dict[str, str]
    id: int | None = None


def _price(price: Money) -> Money:
    if price.amount <= 0:
        raise InvalidInput(_("A price is more than zero."), field="price")
    return Money(price.amount, check_currency(price.currency))


def _stock(stock: int, field: str = "stock") -> int:
    if not 0 <= stock <= MAX_STOCK:
        raise InvalidInput(_("Stock is a whole number from 0 to {max}.", max=MAX_STOCK), field=field)
    return stock


def ensure_can_sell(user: User) -> None:
    if user.role not in SELLER_ROLES:
        raise Forbidden(_("Only merchants list products."))


def create_product(
    session: Session,
    merchant: User,
    *,
    title: str,
    description: str,
    price: Money,
    stock: int,
    variants: list[VariantSpec],
    published: bool,
    translations: dict[str, Any] | None = None,
) -> Product:
    ensure_can_sell(merchant)
    now = clock.now()
    price = _price(price)
    product = Product(
        merchant_id=merchant.id,
        title=clean_text(title, "title", MAX_TITLE, required=True, label=_("title")),
        description=clean_text(description, "description", MAX_DESCRIPTION, required=False, label=_("description")),
        translations=clean_translations(translations),
        price_amount=price.amount,
        currency=price.currency,
        stock=_stock(stock),
        published=published,
        created_at=now,
        updated_at=now,
    )
    session.add(product)
    _replace_variants(product, variants)
    session.flush()
    return product


def _replace_variants(product: Product, specs: list[VariantSpec]) -> None:
    """Make the product's active variants exactly `specs`: update by id, add new, retire the rest."""
    if len(specs) > MAX_VARIANTS:
        raise InvalidInput(_("A product has at most {max} variants.", max=MAX_VARIANTS), field="variants")
    names = [clean_text(s.name, "variant name", 100, required=True, label=_("variant name")).casefold() for s in specs]
    if len(set(names)) != len(names):
        raise InvalidInput(_("Variant names must differ."), field="variants")
    existing = {v.id: v for v in product.variants}
    kept = set()
    for spec in specs:
        if spec.id is not None:
            variant = existing.get(spec.id)
            if variant is None:
                raise InvalidInput(
                    _("Variant {variant_id} is not one of this product's.", variant_id=spec.id), field="variants"
                )
            kept.add(spec.id)
        else:
            variant = ProductVariant(options={})
            product.variants.append(variant)
        variant.name = spec.name.strip()
        variant.options = {str(k)[:50]: str(v)[:100] for k, v in list(spec.options.items())[:10]}
        variant.stock = _stock(spec.stock, "variants.stock")
        variant.active = True
    # Retired, not deleted: orders may name them.
    for variant_id, variant in existing.items():
        if variant_id not in kept:
            variant.active = False
            variant.stock = 0


def _visible(product: Product | None, viewer: User | None) -> TypeGuard[Product]:
    if product is None or product.deleted:
        return False
    return product.published or (viewer is not None and (viewer.id == product.merchant_id or viewer.is_admin))


def get_product(session: Session, product_id: int, viewer: User | None) -> Product:
    product = session.get(Product, product_id, options=[selectinload(Product.variants), selectinload(Product.images)])
    if not _visible(product, viewer):
        raise NotFound(_("There is no product {product_id}.", product_id=product_id))
    return product


def product_for_change(session: Session, product_id: int, user: User) -> Product:
    product = get_product(session, product_id, user)
    if product.merchant_id != user.id and not user.is_admin:
        raise Forbidden(_("Only the product's merchant can change it."))
    return product


def update_product(session: Session, product_id: int, user: User, changes: dict[str, Any]) -> Product:
    product = product_for_change(session, product_id, user)
    if "title" in changes:
        product.title = clean_text(changes["title"], "title", MAX_TITLE, required=True, label=_("title"))
    if "description" in changes:
        product.description = clean_text(
            changes["description"], "description", MAX_DESCRIPTION, required=False, label=_("description")
        )
    if "translations" in changes:
        product.translations = clean_translations(changes["translations"])
    if "price" in changes:
        price = _price(changes["price"])
        product.price_amount, product.currency = price.amount, price.currency
    if "stock" in changes:
        product.stock = _stock(changes["stock"])
    if "published" in changes:
        product.published = bool(changes["published"])
    if "variants" in changes:
        _replace_variants(product, changes["variants"])
    product.updated_at = clock.now()
    session.flush()
    return product


def delete_product(session: Session, product_id: int, user: User) -> None:
    product = product_for_change(session, product_id, user)
    product.deleted = True
    product.published = False
    product.updated_at = clock.now()


@dataclass
class ProductPage:
    items: list[Product]
    total: int
    page: int
    per_page: int


def list_products(
    session: Session, page: int, per_page: int, merchant_id: int | None = None, viewer: User | None = None
) -> ProductPage:
    """Published products (newest first); a merchant looking at its own list also sees unpublished ones."""
    where: list[ColumnElement[bool]] = [Product.deleted.is_(False)]
    if merchant_id is not None:
        where.append(Product.merchant_id == merchant_id)
    own = viewer is not None and merchant_id is not None and (viewer.id == merchant_id or viewer.is_admin)
    if not own:
        where.append(Product.published.is_(True))
    total = session.scalar(select(func.count()).select_from(Product).where(*where)) or 0
    rows = session.scalars(
        select(Product)
        .where(*where)
        .options(selectinload(Product.variants), selectinload(Product.images))
        .order_by(Product.created_at.desc(), Product.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return ProductPage(items=list(rows), total=total, page=page, per_page=per_page)


def available_stock(product: Product) -> int:
    if product.variants and any(v.active for v in product.variants):
        return sum(v.stock for v in product.variants if v.active)
    return product.stock


@dataclass(frozen=True)
class Reserved:
    """What an order line needs of the product whose stock it took, as of the moment it took it."""

    product_id: int
    variant_id: int | None
    merchant_id: int
    currency: str
    unit_amount: int
    title: str


_PRODUCTS = cast(Table, Product.__table__)
_VARIANTS = cast(Table, ProductVariant.__table__)
# Built once (checkout runs them on every order); bound per execution (names apart from the columns', as Core asks).
_TAKE_PRODUCT = (
    update(_PRODUCTS)
    .where(
        _PRODUCTS.c.id == bindparam("wanted_product"),
        _PRODUCTS.c.stock >= bindparam("wanted_quantity"),
        _PRODUCTS.c.published.is_(True),
        _PRODUCTS.c.deleted.is_(False),
        ~exists().where(_VARIANTS.c.product_id == _PRODUCTS.c.id, _VARIANTS.c.active.is_(True)),
    )
    .values(stock=_PRODUCTS.c.stock - bindparam("wanted_quantity"))
    .returning(_PRODUCTS.c.merchant_id, _PRODUCTS.c.currency, _PRODUCTS.c.price_amount, _PRODUCTS.c.title)
)
_READ_FOR_SALE = select(
    _PRODUCTS.c.merchant_id, _PRODUCTS.c.currency, _PRODUCTS.c.price_amount, _PRODUCTS.c.title
).where(_PRODUCTS.c.id == bindparam("wanted_product"), _PRODUCTS.c.published.is_(True), _PRODUCTS.c.deleted.is_(False))
_TAKE_VARIANT = (
    update(_VARIANTS)
    .where(
        _VARIANTS.c.id == bindparam("wanted_variant"),
        _VARIANTS.c.product_id == bindparam("wanted_product"),
        _VARIANTS.c.active.is_(True),
        _VARIANTS.c.stock >= bindparam("wanted_quantity"),
    )
    .values(stock=_VARIANTS.c.stock - bindparam("wanted_quantity"))
    .returning(_VARIANTS.c.name)
)


def reserve_stock(session: Session, product_id: int, variant_id: int | None, quantity: int) -> Reserved:
    """Take `quantity` units of a product for sale (or of its active variant) out of stock atomically, with no
    read before: one conditional UPDATE ... RETURNING, so two buyers of the last unit cannot both succeed and a
    hot product's row is locked for the rest of the transaction only. NotFound, InvalidInput or Conflict
    (not enough stock) otherwise."""
    asked = {"wanted_product": product_id, "wanted_variant": variant_id, "wanted_quantity": quantity}
    if variant_id is None:
        taken = session.execute(_TAKE_PRODUCT, asked).first()
        if taken is not None:
            return Reserved(product_id, None, taken.merchant_id, taken.currency, taken.price_amount, taken.title)
    else:
        product = session.execute(_READ_FOR_SALE, asked).first()
        name = session.scalar(_TAKE_VARIANT, asked) if product is not None else None
        if product is not None and name is not None:
            title = f"{product.title} ({name})"
            return Reserved(product_id, variant_id, product.merchant_id, product.currency, product.price_amount, title)
    _refuse_reservation(session, product_id, variant_id, quantity)


def _refuse_reservation(session: Session, product_id: int, variant_id: int | None, quantity: int) -> NoReturn:
    """Why nothing was taken (read only once a reservation failed): the same answers as a check made before."""
    product = session.get(Product, product_id, options=[selectinload(Product.variants)])
    if product is None or product.deleted or not product.published:
        raise NotFound(_("There is no product {product_id} for sale.", product_id=product_id))
    active_variants = [v for v in product.variants if v.active]
    if active_variants and variant_id is None:
        raise InvalidInput(_("Choose a variant of “{title}”.", title=product.title), field="variant_id")
    if variant_id is not None and variant_id not in {v.id for v in active_variants}:
        raise InvalidInput(
            _("Variant {variant_id} is not offered for “{title}”.", variant_id=variant_id, title=product.title),
            field="variant_id",
        )
    raise Conflict(
        _("Not enough stock of “{title}” for {quantity}.", title=product.title, quantity=quantity),
        product_id=product.id,
    )


def release_stock(session: Session, product_id: int, variant_id: int | None, quantity: int) -> None:
    table = ProductVariant if variant_id is not None else Product
    session.execute(
        update(table)
        .where(table.id == (variant_id if variant_id is not None else product_id))
        .values(stock=table.stock + quantity)
        .execution_options(synchronize_session=False)
    )


def add_image(ctx: Context, session: Session, product_id: int, user: User, upload: Path) -> ProductImage:
    """Check and resize an uploaded image into the product's standard sizes."""
    product = product_for_change(session, product_id, user)
    if len(product.images) >= MAX_IMAGES:
        raise InvalidInput(_("A product has at most {max} images.", max=MAX_IMAGES), field="file")
    key = f"products/{product.id}/images/{secrets.token_hex(8)}"
    scratch = ctx.store.scratch_dir(key.replace("/", "-"))
    try:
        width, height = render_sizes(upload, scratch)
        ctx.store.publish_dir(scratch, key)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    on_rollback(session, lambda: ctx.store.delete(key))
    image = ProductImage(key=key, width=width, height=height, position=len(product.images), created_at=clock.now())
    product.images.append(image)
    session.flush()
    return image


def delete_image(ctx: Context, session: Session, product_id: int, image_id: int, user: User) -> None:
    product = product_for_change(session, product_id, user)
    image = next((i for i in product.images if i.id == image_id), None)
    if image is None:
        raise NotFound(_("Product {product_id} has no image {image_id}.", product_id=product_id, image_id=image_id))
    product.images.remove(image)
    after_commit(session, lambda: ctx.store.delete(image.key))


def image_urls(ctx: Context, image: ProductImage) -> dict[str, str]:
    now_ts = clock.now().timestamp()
    return {
        name: ctx.store.signed_url(image.key, f"{name}.jpg", now_ts, ctx.settings.media_url_ttl_s)
        for name in IMAGE_SIZES
    }


def images_added_since(session: Session, merchant_id: int, since: datetime) -> tuple[int, datetime | None]:
    """How many images `merchant_id` has added to its products since `since`, and when the oldest of them was
    (for the upload quotas)."""
    query = (
        select(func.count(), func.min(ProductImage.created_at))
        .select_from(ProductImage)
        .join(Product, Product.id == ProductImage.product_id)
        .where(Product.merchant_id == merchant_id, ProductImage.created_at >= since)
    )
    count, oldest = session.execute(query).one()
    return count, oldest
