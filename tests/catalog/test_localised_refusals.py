"""The catalog's refusals are Messages: their catalogue id and their values kept apart, so that whoever shows one
(a problem response, a page) says it in the reader's language."""

from __future__ import annotations

import pytest

from vetrina.accounts.models import Role, User
from vetrina.catalog import service as catalog
from vetrina.errors import InvalidInput, NotFound
from vetrina.i18n import Message, speaking
from vetrina.money import Money


def test_a_refusal_keeps_its_catalogue_id_and_values_for_the_readers_language(ctx, make_account) -> None:
    merchant = make_account(Role.merchant).user
    with speaking("it"), ctx.db.session() as session:
        with pytest.raises(NotFound) as missing:
            catalog.get_product(session, 999, None)
        with pytest.raises(InvalidInput) as untitled:
            catalog.create_product(
                session,
                session.get_one(User, merchant.id),
                title="  ",
                description="",
                price=Money(5900, "EUR"),
                stock=1,
                variants=[],
                published=True,
            )
    detail = missing.value.detail
    assert isinstance(detail, Message)
    assert (detail.msgid, detail.params) == ("There is no product {product_id}.", {"product_id": 999})
    assert detail == "There is no product 999."  # the English, for logs and every plain-str consumer
    # The field's name is a Message too (translated with the sentence), while the problem's field stays the key.
    required = untitled.value.detail
    assert isinstance(required, Message) and required.msgid == "The {label} is required."
    assert isinstance(required.params["label"], Message) and required.params["label"].msgid == "title"
    assert untitled.value.extra == {"field": "title"}
