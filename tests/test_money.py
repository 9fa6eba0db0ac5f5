"""money.py on its own: the one rounding rule, sub-unit (millis) amounts, parsing what people type, display in
several locales (exact Babel output), and currencies that never mix."""

from __future__ import annotations

import operator
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import column

from vetrina.errors import CurrencyMismatch, InvalidInput
from vetrina.money import (
    MAX_AMOUNT,
    MilliMoney,
    Money,
    MoneyModel,
    PositiveMoneyModel,
    check_currency,
    divide_rounded,
    in_millis,
)

NBSP = "\xa0"
amounts = st.integers(min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT)
basis_points = st.integers(min_value=0, max_value=10_000)
currencies = st.sampled_from(["EUR", "USD", "JPY", "KWD", "BHD", "CLF"])


# The one rounding rule: to the nearest unit, ties to the even one.


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (5, 10, 0),  # 0.5: the even neighbour is 0
        (15, 10, 2),  # 1.5
        (25, 10, 2),  # 2.5
        (35, 10, 4),
        (14, 10, 1),
        (16, 10, 2),
        (26, 10, 3),
        (-5, 10, 0),
        (-15, 10, -2),
        (-25, 10, -2),
        (-14, 10, -1),
        (-16, 10, -2),
        (0, 10, 0),
        (30, 10, 3),
    ],
)
def test_division_rounds_to_the_nearest_integer_and_ties_to_even(numerator, denominator, expected):
    assert divide_rounded(numerator, denominator) == expected


@given(st.integers(min_value=-(10**18), max_value=10**18), st.integers(min_value=1, max_value=10**6))
def test_division_agrees_with_decimal_half_even(numerator, denominator):
    exact = Decimal(numerator) / Decimal(denominator)
    expected = int((Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    assert divide_rounded(numerator, denominator) == expected
    assert abs(Decimal(divide_rounded(numerator, denominator)) - exact) <= Decimal("0.5")


@pytest.mark.parametrize(
    ("amount", "currency", "bps", "expected"),
    [
        (1999, "EUR", 500, 100),  # 5 % of 19.99 = 0.9995
        (5000, "EUR", 500, 250),  # exact
        (12, "EUR", 3000, 4),  # 30 % of 12 cents = 3.6
        (10, "EUR", 500, 0),  # 0.5 cent: the even neighbour is 0
        (30, "EUR", 500, 2),  # 1.5
        (50, "EUR", 500, 2),  # 2.5
        (1, "EUR", 5000, 0),  # half a cent
        (3, "EUR", 5000, 2),
        (-50, "EUR", 500, -2),  # the share of a negative amount is minus the share of the positive one
        (-1999, "EUR", 500, -100),
        (1500, "JPY", 333, 50),  # 49.95 yen
        (101, "JPY", 5000, 50),  # 50.5 yen
        (1234, "KWD", 1000, 123),  # 1.234 KWD at 10 %: 0.1234 -> 0.123 (three decimals)
        (1235, "BHD", 1000, 124),  # 0.1235 -> 0.124 (a tie, to the even fils)
        (0, "EUR", 10_000, 0),
        (777, "EUR", 10_000, 777),
        (777, "EUR", 0, 0),
    ],
)
def test_basis_point_shares_round_half_to_even(amount, currency, bps, expected):
    assert Money(amount, currency).share_bps(bps) == Money(expected, currency)


@given(amounts, basis_points, currencies)
def test_a_share_is_within_half_a_unit_of_exact_and_symmetric(amount, bps, currency):
    share = Money(amount, currency).share_bps(bps)
    assert share.currency == currency
    assert abs(share.amount * 10_000 - amount * bps) <= 5_000
    assert Money(-amount, currency).share_bps(bps) == Money(-share.amount, currency)
    # The rest (what the other party keeps) is computed by subtraction, so nothing is created or lost.
    assert share + (Money(amount, currency) - share) == Money(amount, currency)


# Millis: thousandths of a minor unit, for ad prices and spend.


def test_millis_convert_to_and_from_money_by_named_rules():
    assert MilliMoney.of(Money(1999, "EUR")) == MilliMoney(1_999_000, "EUR")
    assert MilliMoney(7_999, "EUR").whole_units() == Money(7, "EUR")  # what has been spent to the last whole cent
    assert MilliMoney(7_999, "EUR").rounded() == Money(8, "EUR")
    assert MilliMoney(1_500, "EUR").rounded() == Money(2, "EUR")
    assert MilliMoney(2_500, "EUR").rounded() == Money(2, "EUR")  # ties to even
    assert MilliMoney(2_501, "EUR").rounded() == Money(3, "EUR")
    assert MilliMoney(499, "EUR").rounded() == Money(0, "EUR")
    assert MilliMoney(-1, "EUR").whole_units() == Money(-1, "EUR")  # rounded down, not towards zero
    assert MilliMoney(-1_500, "EUR").rounded() == Money(-2, "EUR")
    assert MilliMoney(800, "JPY").rounded() == Money(1, "JPY")  # a minor unit of a 0-decimal currency is 1 yen
    assert MilliMoney(5_000, "EUR").as_cpm() == Money(5_000, "EUR")  # 5 cents an impression = 50.00 per 1000
    assert MilliMoney.zero("KWD") == MilliMoney(0, "KWD")
    assert MilliMoney(700, "EUR") + MilliMoney(300, "EUR") == MilliMoney(1_000, "EUR")
    assert MilliMoney(700, "EUR") - MilliMoney(300, "EUR") == MilliMoney(400, "EUR")
    assert MilliMoney(999, "EUR") < MilliMoney.of(Money(1, "EUR")) <= MilliMoney(1_000, "EUR")
    assert in_millis(12) == 12_000
    assert in_millis(0.5) == 500.0
    assert str(in_millis(column("budget_total"))) == "budget_total * :budget_total_1"  # for conditional UPDATEs
    with pytest.raises(TypeError):
        MilliMoney(1.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        MilliMoney(True, "EUR")  # type: ignore[arg-type]


@given(amounts, currencies)
def test_money_in_millis_comes_back_exactly(amount, currency):
    money = Money(amount, currency)
    millis = MilliMoney.of(money)
    assert millis.whole_units() == millis.rounded() == money


@given(st.integers(min_value=-(10**15), max_value=10**15), currencies)
def test_rounded_millis_lie_between_whole_units_and_the_next(millis, currency):
    amount = MilliMoney(millis, currency)
    whole, rounded = amount.whole_units(), amount.rounded()
    assert whole.amount <= rounded.amount <= whole.amount + 1
    assert abs(rounded.amount * 1000 - millis) <= 500
    assert whole.amount * 1000 <= millis < (whole.amount + 1) * 1000


# Currencies never mix.

COMBINE = [operator.add, operator.sub, operator.lt, operator.le, operator.gt, operator.ge]


@pytest.mark.parametrize("combine", COMBINE)
def test_money_of_two_currencies_cannot_be_combined_or_compared(combine):
    with pytest.raises(CurrencyMismatch) as raised:
        combine(Money(100, "EUR"), Money(100, "USD"))
    assert isinstance(raised.value, InvalidInput) and raised.value.status == 422
    assert raised.value.extra == {"field": "currency"} and "EUR" in raised.value.detail
    with pytest.raises(CurrencyMismatch):
        combine(MilliMoney(100, "EUR"), MilliMoney(100, "JPY"))


def test_money_of_one_currency_compares_by_amount_and_other_currencies_are_simply_unequal():
    assert Money(100, "EUR") < Money(101, "EUR") and Money(101, "EUR") > Money(100, "EUR")
    assert Money(100, "EUR") <= Money(100, "EUR") >= Money(100, "EUR")
    assert not Money(100, "EUR") < Money(100, "EUR")
    assert Money(100, "EUR") != Money(100, "USD") and Money(100, "EUR") == Money(100, "EUR")
    assert MilliMoney(1, "EUR") != MilliMoney(1, "USD")
    assert len({Money(100, "EUR"), Money(100, "EUR"), Money(100, "USD")}) == 2
    assert sorted([Money(3, "EUR"), Money(1, "EUR"), Money(2, "EUR")]) == [Money(n, "EUR") for n in (1, 2, 3)]
    with pytest.raises(CurrencyMismatch):
        sorted([Money(3, "EUR"), Money(1, "USD")])
    with pytest.raises(CurrencyMismatch):
        max(Money(3, "EUR"), Money(1, "GBP"))
    assert Money(5, "EUR") * 3 == Money(15, "EUR")


def test_money_is_whole_minor_units():
    for amount in (1.5, Decimal("1.5"), "150", True):
        with pytest.raises(TypeError):
            Money(amount, "EUR")  # type: ignore[arg-type]


# Parsing what a person types.


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("19.99", "EUR", 1999),
        (" 19.99 ", "EUR", 1999),
        ("19.9", "EUR", 1990),
        ("19.990", "EUR", 1999),  # trailing zeros are not more decimals
        ("19", "EUR", 1900),
        ("19.", "EUR", 1900),
        (".5", "EUR", 50),
        ("0", "EUR", 0),
        ("-4.50", "EUR", -450),
        ("+4.50", "EUR", 450),
        ("1,299.50", "EUR", 129950),  # commas between groups of three
        ("1,234,567.89", "EUR", 123456789),
        ("1500", "JPY", 1500),
        ("1,500", "JPY", 1500),
        ("1500.0", "JPY", 1500),
        ("1.234", "KWD", 1234),
        ("0.005", "BHD", 5),
        ("10,000,000,000", "EUR", MAX_AMOUNT),  # the largest amount there is
        ("000012.30", "eur", 1230),  # a lower-case code is read as upper case
    ],
)
def test_typed_amounts_parse_exactly(text, currency, expected):
    assert Money.parse(text, currency) == Money(expected, currency.upper())


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("19.999", "EUR", "EUR amounts have at most 2 decimals."),
        ("0.001", "EUR", "EUR amounts have at most 2 decimals."),
        ("1500.5", "JPY", "JPY amounts have at most 0 decimals."),
        ("1.2345", "KWD", "KWD amounts have at most 3 decimals."),
        ("1.0000000000000000000000000000001", "EUR", "EUR amounts have at most 2 decimals."),  # beyond 28 digits
        ("10000000000.01", "EUR", "That amount is too large."),
        ("-10000000000.01", "EUR", "That amount is too large."),
        ("1000000000001", "JPY", "That amount is too large."),
        ("9" * 60, "EUR", "That amount is too large."),
        ("9" * 5000, "EUR", "“" + "9" * 40 + "” is not an amount (write it like 1,299.50)."),  # not read at all
        ("NaN", "EUR", "“NaN” is not an amount (write it like 1,299.50)."),
        ("nan", "EUR", "“nan” is not an amount (write it like 1,299.50)."),
        ("sNaN", "EUR", "“sNaN” is not an amount (write it like 1,299.50)."),
        ("Infinity", "EUR", "“Infinity” is not an amount (write it like 1,299.50)."),
        ("-Infinity", "EUR", "“-Infinity” is not an amount (write it like 1,299.50)."),
        ("inf", "EUR", "“inf” is not an amount (write it like 1,299.50)."),
        (
            "19,99",
            "EUR",
            "“19,99” is not an amount (write it like 1,299.50).",
        ),  # a decimal comma is refused, not read as 1999
        ("1,2345", "EUR", "“1,2345” is not an amount (write it like 1,299.50)."),
        ("12,34.5", "EUR", "“12,34.5” is not an amount (write it like 1,299.50)."),
        (",100", "EUR", "“,100” is not an amount (write it like 1,299.50)."),
        ("1e3", "EUR", "“1e3” is not an amount (write it like 1,299.50)."),
        ("0x10", "EUR", "“0x10” is not an amount (write it like 1,299.50)."),
        ("1_000", "EUR", "“1_000” is not an amount (write it like 1,299.50)."),
        ("1 000", "EUR", "“1 000” is not an amount (write it like 1,299.50)."),
        ("€5", "EUR", "“€5” is not an amount (write it like 1,299.50)."),
        ("5 EUR", "EUR", "“5 EUR” is not an amount (write it like 1,299.50)."),
        ("1.2.3", "EUR", "“1.2.3” is not an amount (write it like 1,299.50)."),
        ("--5", "EUR", "“--5” is not an amount (write it like 1,299.50)."),
        ("٣", "EUR", "“٣” is not an amount (write it like 1,299.50)."),  # digits of another script
        ("", "EUR", "“” is not an amount (write it like 1,299.50)."),
        ("   ", "EUR", "“” is not an amount (write it like 1,299.50)."),
        (".", "EUR", "“.” is not an amount (write it like 1,299.50)."),
        ("-", "EUR", "“-” is not an amount (write it like 1,299.50)."),
        ("abc", "EUR", "“abc” is not an amount (write it like 1,299.50)."),
    ],
)
def test_what_is_not_an_exact_amount_is_refused_with_the_reason(text, currency, message):
    with pytest.raises(InvalidInput) as refused:
        Money.parse(text, currency)
    assert refused.value.detail == message and refused.value.extra == {"field": "amount"}


@pytest.mark.parametrize("code", ["EURO", "ZZZ", "XXX", "XTS", "", "€"])
def test_only_iso_4217_currencies_are_money(code):
    with pytest.raises(InvalidInput) as refused:
        Money.parse("1", code)
    assert refused.value.extra == {"field": "currency"}
    with pytest.raises(InvalidInput):
        check_currency(code)


@given(amounts, currencies)
def test_an_amount_written_out_parses_back_to_itself(amount, currency):
    money = Money(amount, currency)
    assert Money.parse(money.decimal_string(), currency) == money
    whole, _, decimals = money.decimal_string().lstrip("-").partition(".")
    grouped = f"{'-' if amount < 0 else ''}{int(whole):,}{'.' + decimals if decimals else ''}"
    assert Money.parse(grouped, currency) == money


# Display: exact Babel (CLDR) output.


@pytest.mark.parametrize(
    ("money", "locale", "expected"),
    [
        (Money(123456, "EUR"), "en", "€1,234.56"),
        (Money(123456, "EUR"), "it", f"1.234,56{NBSP}€"),
        (Money(123456, "EUR"), "zh_Hans_CN", "€1,234.56"),
        (Money(123456, "EUR"), "de", f"1.234,56{NBSP}€"),
        (Money(-1999, "EUR"), "en", "-€19.99"),
        (Money(-1999, "EUR"), "it", f"-19,99{NBSP}€"),
        (Money(-1999, "EUR"), "zh_Hans_CN", "-€19.99"),
        (Money(-1999, "EUR"), "de", f"-19,99{NBSP}€"),
        (Money(0, "EUR"), "en", "€0.00"),
        (Money(150000, "JPY"), "en", "¥150,000"),
        (Money(150000, "JPY"), "it", f"150.000{NBSP}JPY"),
        (Money(150000, "JPY"), "zh_Hans_CN", "JP¥150,000"),
        (Money(150000, "JPY"), "de", f"150.000{NBSP}¥"),
        (Money(1234567, "KWD"), "en", "KWD1,234.567"),
        (Money(1234567, "KWD"), "it", f"1.234,567{NBSP}KWD"),
        (Money(1234567, "KWD"), "zh_Hans_CN", "KWD1,234.567"),
        (Money(1234567, "KWD"), "de", f"1.234,567{NBSP}KWD"),
        (Money(5, "BHD"), "en", "BHD0.005"),
        (Money(5, "BHD"), "de", f"0,005{NBSP}BHD"),
        (Money(123456, "USD"), "en", "$1,234.56"),
        (Money(123456, "USD"), "it", f"1.234,56{NBSP}USD"),
        (Money(123456, "USD"), "zh_Hans_CN", "US$1,234.56"),
        (Money(123456, "USD"), "de", f"1.234,56{NBSP}$"),
        (Money(123456, "CNY"), "en", "CN¥1,234.56"),
        (Money(123456, "CNY"), "zh_Hans_CN", "¥1,234.56"),
    ],
)
def test_display_in_several_locales(money, locale, expected):
    assert money.display(locale) == expected


@pytest.mark.parametrize(
    ("money", "expected"),
    [
        (Money(1999, "EUR"), "19.99"),
        (Money(-5, "EUR"), "-0.05"),
        (Money(0, "EUR"), "0.00"),
        (Money(1500, "JPY"), "1500"),
        (Money(1234, "KWD"), "1.234"),
        (Money(5, "BHD"), "0.005"),
    ],
)
def test_decimal_strings_for_forms(money, expected):
    assert money.decimal_string() == expected


@given(amounts, currencies, st.sampled_from(["en", "it", "zh"]))
def test_an_amount_typed_in_a_language_reads_back_in_it(amount, currency, language):
    money = Money(amount, currency)
    assert Money.parse(money.typed(language), currency, language) == money


def test_typed_amounts_are_written_the_way_the_language_writes_them():
    typed = [Money(129950, "EUR").typed(language) for language in ("en", "it", "zh")]
    assert typed == ["1299.50", "1299,50", "1299.50"]
    assert Money(-5, "EUR").typed("it") == "-0,05"
    assert Money(1500, "JPY").typed("it") == "1500"


# JSON.


def test_money_in_json_is_integers_of_a_real_currency():
    assert MoneyModel(amount=1999, currency="eur").to_money() == Money(1999, "EUR")
    assert MoneyModel.of(Money(5, "KWD")).model_dump() == {"amount": 5, "currency": "KWD"}
    assert Money(1999, "EUR").as_json() == {"amount": 1999, "currency": "EUR"}
    for bad in ({"amount": "19.99", "currency": "EUR"}, {"amount": 19.99, "currency": "EUR"}):
        with pytest.raises(ValidationError):
            MoneyModel.model_validate(bad)
    with pytest.raises(ValidationError):
        MoneyModel(amount=1, currency="XXX")
    with pytest.raises(ValidationError):
        MoneyModel(amount=MAX_AMOUNT + 1, currency="EUR")
    with pytest.raises(ValidationError):
        PositiveMoneyModel(amount=0, currency="EUR")
