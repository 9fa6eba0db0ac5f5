"""What the pages' charts are given: static/charts.js draws each with uPlot from one JSON document (its x axis,
a video's seconds or labelled days and months; its series, each with a unit, an axis and lines or bars), and the
page prints the same figures as a table beside it. Labels arrive already in the reader's language; money stays in
minor units in the JSON (the script formats it for the page's language) and is shown as money in the table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any, Literal

from babel.dates import format_date, format_skeleton
from babel.numbers import format_decimal

from vetrina.i18n import _, babel_locale, localise
from vetrina.money import Money

Unit = Literal["count", "money", "minutes"]
Axis = Literal["left", "right"]
Style = Literal["line", "bars"]
Number = int | float


@dataclass
class Series:
    label: object  # a Message, shown in the reader's language
    values: Sequence[Number]
    unit: Unit = "count"
    axis: Axis = "left"
    style: Style = "line"
    tone: int = 0  # which of the chart colours (--chart-tone-N in app.css)

    def as_json(self) -> dict[str, Any]:
        return {
            "label": localise(self.label),
            "values": self.values,
            "unit": self.unit,
            "axis": self.axis,
            "style": self.style,
            "tone": self.tone,
        }


@dataclass
class Chart:
    """One chart: `data` for the script (JSON), `rows` for the table with the same figures, formatted."""

    x_title: object
    series: list[Series]
    axes: dict[str, object]  # "left"/"right" -> the axis's title
    currency: str | None = None
    labels: list[str] = field(default_factory=list)  # each x value for people (days, months); none for seconds
    ticks: list[str] = field(default_factory=list)  # shorter, under the axis
    extra: dict[str, Any] = field(default_factory=dict)  # what one kind of chart adds (the timeline's tags)
    summary: object = None  # the chart in a sentence (a Message): its canvas's label, printed under it

    @cached_property
    def data(self) -> dict[str, Any]:
        return {
            "x": {
                "kind": "labels" if self.labels else "seconds",
                "title": localise(self.x_title),
                "labels": self.labels,
                "ticks": self.ticks,
            },
            "series": [s.as_json() for s in self.series],
            "axes": {side: localise(title) for side, title in self.axes.items()},
            "currency": self.currency,
            **self.extra,
        }

    @property
    def headings(self) -> list[str]:
        return [localise(s.label) for s in self.series]

    @property
    def rows(self) -> list[tuple[str, list[str]]]:
        """(the x value, each series' value as text) for each point: the table beside the chart."""
        return [
            (label, [shown(s.values[i], s.unit, self.currency) for s in self.series])
            for i, label in enumerate(self.labels)
        ]


def shown(value: Number, unit: Unit, currency: str | None = None) -> str:
    """A value for people: money as money (never its minor units), minutes and counts as numbers of the locale."""
    if unit == "money" and currency:
        return Money(int(value), currency).display()
    number = format_decimal(value, locale=babel_locale())
    return localise(_("{minutes} min", minutes=number)) if unit == "minutes" else number


def day_labels(days: list[str]) -> tuple[list[str], list[str]]:
    """ISO days ("2025-03-05") as the table and legend write them, and as the axis does ("Mar 5")."""
    locale, parsed = babel_locale(), [date.fromisoformat(day) for day in days]
    return [format_date(d, "medium", locale=locale) for d in parsed], [
        format_skeleton("MMMd", d, locale=locale) for d in parsed
    ]


def month_labels(months: list[str]) -> tuple[list[str], list[str]]:
    """Months ("2025-03") as the table writes them ("March 2025") and as the axis does ("Mar 2025")."""
    locale, parsed = babel_locale(), [date.fromisoformat(f"{month}-01") for month in months]
    return [format_skeleton("yMMMM", d, locale=locale) for d in parsed], [
        format_skeleton("yMMM", d, locale=locale) for d in parsed
    ]


def months_between(first: str, last: str) -> list[str]:
    """Every month from `first` to `last` ("2025-11", "2026-02" -> four), so a month with nothing still shows."""
    year, month = map(int, first.split("-"))
    months = []
    while f"{year:04d}-{month:02d}" <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months
