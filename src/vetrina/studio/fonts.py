"""The fonts the studio draws copy with, and which of them covers a given text.

Fonts are tried in order (settings.studio_fonts, else the system fonts below); the first one whose
character map holds every character of a text draws it. A text no font covers is refused up front,
naming the characters, rather than rendered as empty boxes.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont
from PIL import ImageFont

from vetrina.errors import InvalidInput
from vetrina.i18n import _

# (path, face index): DejaVu for Latin, Greek, Cyrillic, Arabic and Hebrew; Noto CJK (Simplified Chinese face) for CJK.
SYSTEM_FONTS = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    ("/usr/share/fonts/truetype/noto/NotoSansCJK-Bold.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
)


@dataclass(frozen=True)
class Font:
    path: str
    index: int

    def at(self, size: int) -> ImageFont.FreeTypeFont:
        return _loaded(self.path, self.index, size)

    @property
    def covered(self) -> frozenset[int]:
        return _character_map(self.path, self.index)


@cache
def _loaded(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size=size, index=index, layout_engine=ImageFont.Layout.RAQM)


@cache
def _character_map(path: str, index: int) -> frozenset[int]:
    font = TTCollection(path).fonts[index] if path.lower().endswith(".ttc") else TTFont(path, lazy=True)
    return frozenset(font.getBestCmap() or {})


def available_fonts(configured: list[str] | None = None) -> tuple[Font, ...]:
    """The fonts to try, in order: `path` or `path#index` entries from settings, else the system fonts present."""
    if configured:
        fonts = []
        for entry in configured:
            path, _, index = entry.partition("#")
            fonts.append(Font(path, int(index or 0)))
        return tuple(f for f in fonts if Path(f.path).is_file())
    return tuple(Font(path, index) for path, index in SYSTEM_FONTS if Path(path).is_file())


def _needs_glyph(char: str) -> bool:
    # Spaces, joiners and direction marks are laid out, not drawn.
    return not (char.isspace() or unicodedata.category(char) in ("Cf", "Mn"))


def font_for(text: str, fonts: tuple[Font, ...], field: str) -> Font:
    """The first font that draws every character of `text`; a clear error naming what none of them draws."""
    needed = {ord(c) for c in text if _needs_glyph(c)}
    for font in fonts:
        if needed <= font.covered:
            return font
    if not fonts:
        raise InvalidInput(_("No fonts are installed for the studio (see docs/studio.md)."), field=field)
    best = max(fonts, key=lambda f: len(needed & f.covered))
    missing = sorted(needed - best.covered)
    shown = "".join(chr(c) for c in missing[:8])
    raise InvalidInput(
        _(
            "The installed fonts cannot draw {shown} ({code_points}); "
            "use other characters or install a font that covers this script.",
            shown=repr(shown),
            code_points=", ".join(f"U+{c:04X}" for c in missing[:8]),
        ),
        field=field,
    )
