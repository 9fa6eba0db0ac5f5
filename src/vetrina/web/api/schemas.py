"""JSON shapes shared by several API routers."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator

from vetrina.i18n import localise
from vetrina.money import MoneyModel

# Text a person reads (an error, a note, a reason Vetrina wrote): a `Message` in the request's language, as pages
# and problems show it (the answer then says which: Content-Language); text as typed stays as it is.
ShownText = Annotated[str, BeforeValidator(localise)]


class Page(BaseModel):
    total: int
    page: int
    per_page: int


__all__ = ["MoneyModel", "Page", "ShownText"]
