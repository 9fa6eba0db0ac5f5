"""Where a title may stream now, said as search engines take it: everywhere, an allow list, or a deny list."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from vetrina.rights.service import Terms, decide


@dataclass(frozen=True)
class Restriction:
    """`allow`: only these territories; `deny`: everywhere but these (ISO 3166-1 alpha-2, sorted)."""

    relationship: Literal["allow", "deny"]
    territories: tuple[str, ...]

    @property
    def nowhere(self) -> bool:
        return self.relationship == "allow" and not self.territories


def streaming_restriction(terms: Iterable[Terms], when: datetime) -> Restriction | None:
    """None when the title streams everywhere (no licences, or a rest-of-world licence that no other licence
    carves into); otherwise the territories it streams in (`allow`), or those it does not (`deny`, when a
    rest-of-world licence for streaming is in force). Each named territory is asked of `rights.decide`, the one
    rights check, so the sitemap says what playback does."""
    terms = list(terms)
    if not terms:
        return None
    named = sorted({code for licence in terms for code in licence.territories})
    allowed = {code for code in named if decide(terms, code, "stream", when).allowed}
    # A territory no licence names falls to the rest-of-world licences alone (nothing carves it out of them).
    rest_streams = any(
        licence.rest_of_world and "stream" in licence.uses and licence.starts_at <= when < licence.ends_at
        for licence in terms
    )
    if not rest_streams:
        return Restriction("allow", tuple(sorted(allowed)))
    denied = tuple(code for code in named if code not in allowed)
    return Restriction("deny", denied) if denied else None
