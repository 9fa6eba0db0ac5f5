"""Money: integer minor units and an ISO 4217 currency; never a float. JSON: {"amount": 1999, "currency": "EUR"}.

Ad spend is finer than a minor unit: `MilliMoney` counts thousandths of one ("millis"), so that one impression
at a CPM bid (a price per thousand impressions) costs exactly the bid's amount in millis.

Rounding: wherever an amount must become whole minor units (a share, fee or commission in basis points, or
millis shown as money) it goes to the nearest unit, ties to the even one (`divide_rounded`). Nearest, so a
share is as close to exact as the currency allows; ties to even, so shares summed over many rows drift neither
up (as half-up does, on every tie) nor down (as flooring does, on every row), and the share of -x is minus the
share of x. Python's round() and Decimal round the same way.

Amounts of two currencies never mix: comparing, adding or subtracting them raises `CurrencyMismatch`
(equality between them is simply False).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, overload

from babel.numbers import (
    NumberFormatError,
    format_currency,
    format_decimal,
    get_currency_precision,
    is_currency,
    parse_decimal,
)
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator
from sqlalchemy import ColumnElement
from sqlalchemy.sql.elements import SQLCoreOperations

from vetrina.errors import CurrencyMismatch, InvalidInput
from vetrina.i18n import _, babel_locale

# Codes ISO 4217 reserves for testing and "no currency"; nobody pays in them.
_NOT_MONEY = {"XXX", "XTS"}
# What an amount may hold before a locale reads it: a sign, digits, and the separators languages use.
_TYPED_AMOUNT = re.compile(r"[+-]?[0-9 .,'\u00a0\u202f]*[0-9][0-9 .,'\u00a0\u202f]*")
MAX_TYPED = 64  # characters: far more than any amount, and the pattern above is only read that far
MAX_AMOUNT = 10**12  # minor units; far above any single price or balance we expect
BASIS_POINTS = 10_000  # in a whole
MILLIS_PER_MINOR = 1000


def check_currency(code: str) -> str:
    """The upper-case ISO 4217 code, or InvalidInput."""
    code = code.strip().upper() if isinstance(code, str) else ""
    if len(code) != 3 or code in _NOT_MONEY or not is_currency(code):
        raise InvalidInput(f"{code or 'That'} is not an ISO 4217 currency code.", field="currency")
    return code


def divide_rounded(numerator: int, denominator: int) -> int:
    """numerator / denominator (denominator > 0) to the nearest integer, ties to the even one: the one rounding rule."""
    quotient, remainder = divmod(numerator, denominator)  # floored, so 0 <= remainder < denominator
    if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2):
        quotient += 1
    return quotient


def _same_currency(this: Money | MilliMoney, other: Money | MilliMoney) -> None:
    if other.currency != this.currency:
        raise CurrencyMismatch(f"Cannot combine {this.currency} with {other.currency}.", field="currency")


@dataclass(frozen=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money amounts are integers of minor units")

    def __add__(self, other: Money) -> Money:
        _same_currency(self, other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        _same_currency(self, other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        return Money(self.amount * factor, self.currency)

    def __lt__(self, other: Money) -> bool:
        _same_currency(self, other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        _same_currency(self, other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        _same_currency(self, other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        _same_currency(self, other)
        return self.amount >= other.amount

    def share_bps(self, basis_points: int) -> Money:
        """This amount times basis_points / 10 000, rounded to a whole minor unit by the one rule (half to even)."""
        return Money(divide_rounded(self.amount * basis_points, BASIS_POINTS), self.currency)

    def display(self, locale: str | None = None) -> str:
        """For a person, in their language's way ("€59.00", "59,00 €", "¥59.00"): the request's language by
        default, else `locale` (one of ours, "it", or any of Babel's, "de_CH")."""
        precision = get_currency_precision(self.currency)
        return format_currency(Decimal(self.amount).scaleb(-precision), self.currency, locale=babel_locale(locale))

    def as_json(self) -> dict[str, int | str]:
        return {"amount": self.amount, "currency": self.currency}

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str, currency: str, language: str | None = None) -> Money:
        """Money from what a person types in a form, read the way their language writes numbers ("19.99" or
        "1,299.50" in English, "59,00" or "1.299,50" in Italian), exactly, never via a float. Text that reads two
        ways ("19,99" in English) is refused, never guessed."""
        currency = check_currency(currency)
        precision = get_currency_precision(currency)
        locale = babel_locale(language)
        typed = text.strip()
        example = format_decimal(Decimal("1299.50"), format="#,##0.00", locale=locale)
        refusal = InvalidInput(
            _("“{text}” is not an amount (write it like {example}).", text=typed[:40], example=example), field="amount"
        )
        if len(typed) > MAX_TYPED or not _TYPED_AMOUNT.fullmatch(typed):
            raise refusal
        try:
            value = parse_decimal(typed, locale=locale, strict=True)
        except NumberFormatError:
            raise refusal from None
        if not value.is_finite():
            raise refusal
        # Digits and exponent, not Decimal arithmetic: exact however many are typed (Decimal rounds to 28 digits).
        negative, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)  # finite, checked above
        kept = list(digits)
        while exponent < 0 and len(kept) > 1 and kept[-1] == 0:
            kept.pop()
            exponent += 1
        if exponent < -precision:
            raise InvalidInput(
                _("{currency} amounts have at most {precision} decimals.", currency=currency, precision=precision),
                field="amount",
            )
        if len(kept) + exponent + precision > len(str(MAX_AMOUNT)):
            raise InvalidInput(_("That amount is too large."), field="amount")
        minor = int("".join(map(str, kept))) * 10 ** (exponent + precision)
        if minor > MAX_AMOUNT:
            raise InvalidInput(_("That amount is too large."), field="amount")
        return cls(-minor if negative else minor, currency)

    def decimal_string(self) -> str:
        """The amount in major units as plain text ("19.99"), for forms and schema.org prices."""
        precision = get_currency_precision(self.currency)
        return f"{Decimal(self.amount).scaleb(-precision):.{precision}f}"

    def typed(self, language: str | None = None) -> str:
        """The amount as a person types it in a form, in their language ("1299.50", "1299,50"): what `parse`
        reads back to the same amount. Ungrouped, so the field holds digits and one separator only."""
        precision = get_currency_precision(self.currency)
        pattern = "0." + "0" * precision if precision else "0"
        return format_decimal(Decimal(self.amount).scaleb(-precision), format=pattern, locale=babel_locale(language))


@overload
def in_millis(minor_units: int) -> int: ...
@overload
def in_millis(minor_units: float) -> float: ...
@overload
def in_millis(minor_units: SQLCoreOperations[Any]) -> ColumnElement[Any]: ...
def in_millis(minor_units: Any) -> Any:
    """Minor units counted in millis: an int, the auction's float prices, or a SQL expression of a minor-units
    column (so a conditional UPDATE can compare spend with a budget)."""
    return minor_units * MILLIS_PER_MINOR


@dataclass(frozen=True)
class MilliMoney:
    """Thousandths of a minor unit ("millis") of a currency: ad prices and spend. Stored as integer millis; it
    becomes Money only through a named conversion, which says how it rounds."""

    millis: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.millis, int) or isinstance(self.millis, bool):
            raise TypeError("MilliMoney amounts are integers of millis")

    @classmethod
    def of(cls, money: Money) -> MilliMoney:
        """The same amount in millis (exact)."""
        return cls(in_millis(money.amount), money.currency)

    @classmethod
    def zero(cls, currency: str) -> MilliMoney:
        return cls(0, currency)

    def whole_units(self) -> Money:
        """The whole minor units in it, rounded down: spend to its last complete unit (what settlement bills; the
        fraction waits for more spend)."""
        return Money(self.millis // MILLIS_PER_MINOR, self.currency)

    def rounded(self) -> Money:
        """To the nearest minor unit by the one rule (half to even), for showing a price or a revenue."""
        return Money(divide_rounded(self.millis, MILLIS_PER_MINOR), self.currency)

    def as_cpm(self) -> Money:
        """A price per impression as the price of a thousand impressions (exact: the same number, in minor units)."""
        return Money(self.millis, self.currency)

    def __add__(self, other: MilliMoney) -> MilliMoney:
        _same_currency(self, other)
        return MilliMoney(self.millis + other.millis, self.currency)

    def __sub__(self, other: MilliMoney) -> MilliMoney:
        _same_currency(self, other)
        return MilliMoney(self.millis - other.millis, self.currency)

    def __lt__(self, other: MilliMoney) -> bool:
        _same_currency(self, other)
        return self.millis < other.millis

    def __le__(self, other: MilliMoney) -> bool:
        _same_currency(self, other)
        return self.millis <= other.millis

    def __gt__(self, other: MilliMoney) -> bool:
        _same_currency(self, other)
        return self.millis > other.millis

    def __ge__(self, other: MilliMoney) -> bool:
        _same_currency(self, other)
        return self.millis >= other.millis


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
