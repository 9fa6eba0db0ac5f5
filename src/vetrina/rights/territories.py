"""Territories: ISO 3166-1 alpha-2 codes, named groups of them, and "rest of world"."""

from __future__ import annotations

from vetrina.errors import InvalidInput
from vetrina.geo import is_territory
from vetrina.i18n import _

REST_OF_WORLD = "rest of world"
GROUPS: dict[str, frozenset[str]] = {
    "greater china": frozenset({"CN", "HK", "MO", "TW"}),
    "european union": frozenset(
        {
            "AT",
            "BE",
            "BG",
            "HR",
            "CY",
            "CZ",
            "DK",
            "EE",
            "FI",
            "FR",
            "DE",
            "GR",
            "HU",
            "IE",
            "IT",
            "LV",
            "LT",
            "LU",
            "MT",
            "NL",
            "PL",
            "PT",
            "RO",
            "SK",
            "SI",
            "ES",
            "SE",
        }
    ),
    "dach": frozenset({"DE", "AT", "CH"}),
    "nordics": frozenset({"DK", "FI", "IS", "NO", "SE"}),
    "north america": frozenset({"US", "CA"}),
    "anz": frozenset({"AU", "NZ"}),
}
MAX_NAMES = 300


def parse(names: list[str]) -> tuple[frozenset[str], bool]:
    """The ISO codes `names` stand for, and whether they include "rest of world" (every territory no other
    licence of the title names). A name is an ISO code or a group; anything else is a 422 naming it."""
    if not names:
        raise InvalidInput(_("Name at least one territory or group."), field="territories")
    if len(names) > MAX_NAMES:
        raise InvalidInput(_("At most {max} territories.", max=MAX_NAMES), field="territories")
    codes: set[str] = set()
    rest_of_world = False
    unknown = []
    for name in names:
        key = name.strip().lower() if isinstance(name, str) else ""
        if key == REST_OF_WORLD:
            rest_of_world = True
        elif key in GROUPS:
            codes |= GROUPS[key]
        elif is_territory(key.upper()):
            codes.add(key.upper())
        else:
            unknown.append(str(name)[:40])
    if unknown:
        groups = ", ".join(sorted([*GROUPS, REST_OF_WORLD]))
        raise InvalidInput(
            _(
                "Not ISO 3166-1 codes or known groups: {unknown} (groups: {groups}).",
                unknown=", ".join(unknown),
                groups=groups,
            ),
            field="territories",
        )
    if rest_of_world and codes:
        raise InvalidInput(_('"rest of world" is a licence of its own: name it alone.'), field="territories")
    return frozenset(codes), rest_of_world
