"""JSON shapes shared by several API routers."""

from __future__ import annotations

from pydantic import BaseModel

from vetrina.money import MoneyModel


class Page(BaseModel):
    total: int
    page: int
    per_page: int


__all__ = ["MoneyModel", "Page"]
