"""Money: integer minor units and an ISO 4217 currency; never a float. JSON: {"amount": 1999, "currency": "EUR"}."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision, is_currency
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from vetrina.errors import InvalidInput

# Codes ISO 4217 reserves for testing and "no currency"; nobody pays in them.
_NOT_MONEY = {"XXX", "XTS"}
MAX_AMOUNT = 10**12  # minor units; far above any single price or balance we expect


def check_currency(code: str) -> str:
    """The upper-case ISO 4217 code, or InvalidInput."""
    code = code.strip().upper() if isinstance(code, str) else ""
    if len(code) != 3 or code in _NOT_MONEY or not is_currency(code):
        raise InvalidInput(f"{code or 'That'} is not an ISO 4217 currency code.", field="currency")
    return code


@dataclass(frozen=True, order=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money amounts are integers of minor units")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        return Money(self.amount * factor, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidInput(f"Cannot combine {self.currency} with {other.currency}.", field="currency")

    def share_bps(self, basis_points: int) -> Money:
        """This amount times basis_points / 10 000, rounded half up to a whole minor unit."""
        return Money((self.amount * basis_points + 5_000) // 10_000, self.currency)

    def display(self, locale: str = "en") -> str:
        precision = get_currency_precision(self.currency)
        return format_currency(Decimal(self.amount).scaleb(-precision), self.currency, locale=locale)

    def as_json(self) -> dict[str, int | str]:
        return {"amount": self.amount, "currency": self.currency}

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Money from what a person types in a form ("19.99" EUR, "1500" JPY), exactly, never via a float."""
        currency = check_currency(currency)
        precision = get_currency_precision(currency)
        try:
            value = Decimal(text.strip().replace(",", ""))
            if not value.is_finite():
                raise ArithmeticError
            minor = value.scaleb(precision)
            if abs(minor) > MAX_AMOUNT:
                raise InvalidInput("That amount is too large.", field="amount")
            if minor != minor.to_integral_value():
                raise InvalidInput(f"{currency} amounts have at most {precision} decimals.", field="amount")
        except ArithmeticError:
            raise InvalidInput(f"{text!r} is not an amount.", field="amount") from None
        return cls(int(minor), currency)

    def decimal_string(self) -> str:
        """The amount in major units as plain text ("19.99"), for forms and schema.org prices."""
        precision = get_currency_precision(self.currency)
        return f"{Decimal(self.amount).scaleb(-precision):.{precision}f}"


class MoneyModel(BaseModel):
    """Money in JSON. Amounts must be JSON integers (1999), never decimals ("19.99" or 19.99)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: StrictInt = Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, description="Minor units (cents), an integer.")
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217 code, e.g. EUR.")

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, code: str) -> str:
        try:
            return check_currency(code)
        except InvalidInput as exc:
            raise ValueError(exc.detail) from None

    def to_money(self) -> Money:
        return Money(self.amount, self.currency)

    @classmethod
    def of(cls, money: Money) -> MoneyModel:
        return cls(amount=money.amount, currency=money.currency)


class PositiveMoneyModel(MoneyModel):
    amount: StrictInt = Field(gt=0, le=MAX_AMOUNT, description="Minor units (cents), a positive integer.")
