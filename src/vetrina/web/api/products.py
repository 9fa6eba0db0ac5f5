"""/api/v1/products and /api/v1/merchants/{id}/products: the catalogue."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from sqlalchemy.orm import Session

from vetrina.accounts.models import User
from vetrina.catalog import service as catalog
from vetrina.catalog.models import Product, ProductImage
from vetrina.context import Context
from vetrina.money import MoneyModel, PositiveMoneyModel
from vetrina.shoppable import service as shoppable
from vetrina.web.api.schemas import Page
from vetrina.web.deps import RowId, db_session, get_context, optional_user, required_user
from vetrina.web.uploads import saved_upload


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: StrictInt | None = Field(None, description="An existing variant to keep (and update); omit for a new one.")
    name: str = Field(min_length=1, max_length=100)
    options: dict[str, str] = Field(default_factory=dict, max_length=10)
    stock: StrictInt = Field(ge=0, le=catalog.MAX_STOCK)


class ProductTranslation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=catalog.MAX_TITLE)
    description: str | None = Field(None, max_length=catalog.MAX_DESCRIPTION)


TRANSLATIONS = Field(
    None,
    max_length=8,
    description='The title and description in other languages Vetrina speaks, e.g. {"it": {"title": "Tazza"}}: '
    "readers of that language see them, others the original. On a change, the whole map is replaced (null: none).",
)


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=catalog.MAX_TITLE)
    description: str = Field("", max_length=catalog.MAX_DESCRIPTION)
    price: PositiveMoneyModel
    stock: StrictInt = Field(0, ge=0, le=catalog.MAX_STOCK, description="Stock when there are no variants.")
    variants: list[VariantIn] = Field(default_factory=list, max_length=catalog.MAX_VARIANTS)
    published: bool = True
    translations: dict[str, ProductTranslation] | None = TRANSLATIONS


class ProductChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=catalog.MAX_TITLE)
    description: str | None = Field(None, max_length=catalog.MAX_DESCRIPTION)
    price: PositiveMoneyModel | None = None
    stock: StrictInt | None = Field(None, ge=0, le=catalog.MAX_STOCK)
    variants: list[VariantIn] | None = Field(None, max_length=catalog.MAX_VARIANTS)
    published: bool | None = None
    translations: dict[str, ProductTranslation] | None = TRANSLATIONS


class VariantOut(BaseModel):
    id: int
    name: str
    options: dict[str, str]
    stock: int


class ImageOut(BaseModel):
    id: int
    width: int
    height: int
    urls: dict[str, str] = Field(description="thumb (160 px), card (480 px) and large (1200 px) JPEGs.")


class ProductOut(BaseModel):
    id: int
    merchant_id: int
    title: str
    description: str
    price: MoneyModel
    stock: int = Field(description="Units available (summed over variants when there are any).")
    in_stock: bool
    variants: list[VariantOut]
    images: list[ImageOut]
    published: bool
    created_at: datetime
    translations: dict[str, dict[str, str]] = Field(description="The merchant's translations, by language.")


class ProductPage(Page):
    items: list[ProductOut]


def image_out(image: ProductImage, ctx: Context) -> ImageOut:
    urls = catalog.image_urls(ctx, image)
    return ImageOut(id=image.id, width=image.width, height=image.height, urls=urls)


def product_out(product: Product, ctx: Context) -> ProductOut:
    stock = catalog.available_stock(product)
    return ProductOut(
        id=product.id,
        merchant_id=product.merchant_id,
        title=product.title,
        description=product.description,
        price=MoneyModel(amount=product.price_amount, currency=product.currency),
        stock=stock,
        in_stock=stock > 0,
        variants=[
            VariantOut(id=v.id, name=v.name, options=v.options, stock=v.stock) for v in product.variants if v.active
        ],
        images=[image_out(i, ctx) for i in product.images],
        published=product.published,
        created_at=product.created_at,
        translations=product.translations or {},
    )


def _page_out(result: catalog.ProductPage, ctx: Context) -> ProductPage:
    items = [product_out(p, ctx) for p in result.items]
    return ProductPage(items=items, total=result.total, page=result.page, per_page=result.per_page)


def _variant_specs(variants: list[VariantIn]) -> list[catalog.VariantSpec]:
    return [catalog.VariantSpec(id=v.id, name=v.name, options=v.options, stock=v.stock) for v in variants]


def _translations(translations: dict[str, ProductTranslation] | None) -> dict[str, dict[str, str]] | None:
    if translations is None:
        return None
    return {tag: t.model_dump(exclude_none=True) for tag, t in translations.items()}


router = APIRouter(tags=["catalog"])


@router.post("/api/v1/products", status_code=201, response_model=ProductOut, summary="List a product")
def create_product(
    request: Request, body: ProductIn, user: User = required_user, session: Session = db_session
) -> ProductOut:
    product = catalog.create_product(
        session,
        user,
        title=body.title,
        description=body.description,
        price=body.price.to_money(),
        stock=body.stock,
        variants=_variant_specs(body.variants),
        published=body.published,
        translations=_translations(body.translations),
    )
    return product_out(product, get_context(request))


@router.get("/api/v1/products", response_model=ProductPage, summary="Products on sale, newest first")
def list_products(
    request: Request,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 24,
    session: Session = db_session,
) -> ProductPage:
    result = catalog.list_products(session, page, per_page)
    ctx = get_context(request)
    return ProductPage(
        items=[product_out(p, ctx) for p in result.items], total=result.total, page=page, per_page=per_page
    )


@router.get("/api/v1/merchants/{merchant_id}/products", response_model=ProductPage, summary="A merchant's products")
def merchant_products(
    request: Request,
    merchant_id: RowId,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 24,
    user: User | None = optional_user,
    session: Session = db_session,
) -> ProductPage:
    result = catalog.list_products(session, page, per_page, merchant_id=merchant_id, viewer=user)
    ctx = get_context(request)
    return ProductPage(
        items=[product_out(p, ctx) for p in result.items], total=result.total, page=page, per_page=per_page
    )


@router.get("/api/v1/products/{product_id}", response_model=ProductOut, summary="One product")
def read_product(
    request: Request, product_id: RowId, user: User | None = optional_user, session: Session = db_session
) -> ProductOut:
    return product_out(catalog.get_product(session, product_id, user), get_context(request))


@router.patch("/api/v1/products/{product_id}", response_model=ProductOut, summary="Change a product")
def change_product(
    request: Request, product_id: RowId, body: ProductChanges, user: User = required_user, session: Session = db_session
) -> ProductOut:
    changes = body.model_dump(exclude_none=True)
    if body.price is not None:
        changes["price"] = body.price.to_money()
    if body.variants is not None:
        changes["variants"] = _variant_specs(body.variants)
    if "translations" in body.model_fields_set:  # null removes them all
        changes["translations"] = _translations(body.translations)
    product = catalog.update_product(session, product_id, user, changes)
    return product_out(product, get_context(request))


@router.delete("/api/v1/products/{product_id}", status_code=204, summary="Take a product off sale for good")
def delete_product(product_id: RowId, user: User = required_user, session: Session = db_session) -> Response:
    catalog.delete_product(session, product_id, user)
    return Response(status_code=204)


@router.post(
    "/api/v1/products/{product_id}/images", status_code=201, response_model=ImageOut, summary="Add a product image"
)
def add_image(
    request: Request,
    product_id: RowId,
    file: Annotated[UploadFile | None, File()] = None,
    user: User = required_user,
    session: Session = db_session,
) -> ImageOut:
    ctx = get_context(request)
    catalog.product_for_change(session, product_id, user)
    with saved_upload(ctx, file, ctx.settings.max_image_bytes) as path:
        image = catalog.add_image(ctx, session, product_id, user, path)
    return image_out(image, ctx)


@router.delete("/api/v1/products/{product_id}/images/{image_id}", status_code=204, summary="Remove a product image")
def delete_image(
    request: Request, product_id: RowId, image_id: RowId, user: User = required_user, session: Session = db_session
) -> Response:
    catalog.delete_image(get_context(request), session, product_id, image_id, user)
    return Response(status_code=204)


@router.get("/api/v1/products/{product_id}/card", summary="A product as a card over the picture shows it")
def product_card(
    request: Request, product_id: RowId, user: User | None = optional_user, session: Session = db_session
) -> dict[str, Any]:
    ctx = get_context(request)
    product = catalog.get_product(session, product_id, user)
    return shoppable.product_card(ctx, product)
