"""Laying copy out in a box: wrapped, shrunk to fit, drawn by Pillow into a transparent layer.

The layer is measured with the same font that draws it, so a block that fits here fits on screen;
copy that does not fit at the smallest legible size is refused before anything renders.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

from vetrina.errors import InvalidInput
from vetrina.i18n import _
from vetrina.studio.fonts import Font, font_for

# Punctuation that may not start a line in CJK text: it stays with the character before it.
_NO_LINE_START = set("，。、！？；：）」』】》〉,.!?;:)]}%")


@dataclass(frozen=True)
class Box:
    """A rectangle of the frame, in pixels."""

    x: int
    y: int
    w: int
    h: int

    def contains(self, other: Box) -> bool:
        return (
            self.x <= other.x
            and self.y <= other.y
            and other.x + other.w <= self.x + self.w
            and other.y + other.h <= self.y + self.h
        )


@dataclass(frozen=True)
class TextStyle:
    """How a block of copy looks; sizes are fractions of the frame's short side."""

    max_size: float
    min_size: float
    max_lines: int
    color: tuple[int, int, int]
    panel: tuple[int, int, int, int] | None = None
    align: Literal["top", "middle", "bottom"] = "middle"
    outline: bool = False


@dataclass(frozen=True)
class TextBlock:
    """A laid-out block: its transparent layer and where it sits in the frame."""

    image: Image.Image
    box: Box
    font_px: int
    lines: tuple[str, ...]


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _break_units(text: str) -> list[str]:
    """Pieces a line may break between: words, runs of spaces, and single CJK characters."""
    units: list[str] = []
    for char in text:
        if char in _NO_LINE_START and units:
            units[-1] += char
        elif _is_wide(char) or char.isspace() != (units[-1][-1].isspace() if units else char.isspace()):
            units.append(char)
        elif units and not _is_wide(units[-1][-1]):
            units[-1] += char
        else:
            units.append(char)
    return units


def _width(font: ImageFont.FreeTypeFont, text: str, stroke: int) -> int:
    left, _, right, _ = font.getbbox(text, stroke_width=stroke)
    return int(right - min(left, 0))


def _wrap(text: str, font: ImageFont.FreeTypeFont, max_width: int, stroke: int) -> list[str] | None:
    """Greedy line breaking; None when a single unit is wider than the box."""
    lines: list[str] = []
    line = ""
    for unit in _break_units(text):
        candidate = line + unit
        if _width(font, candidate.rstrip(), stroke) <= max_width:
            line = candidate
            continue
        if unit.isspace():
            continue
        if _width(font, unit, stroke) > max_width:
            return None
        if line.strip():
            lines.append(line.rstrip())
        line = unit
    if line.strip():
        lines.append(line.rstrip())
    return lines


def lay_out(text: str, area: Box, style: TextStyle, short_side: int, fonts: tuple[Font, ...], field: str) -> TextBlock:
    """Fit `text` inside `area` at the largest size that fits; InvalidInput when even the smallest does not."""
    text = " ".join(text.split())
    font = font_for(text, fonts, field)
    pad = round(short_side * 0.02) if style.panel else 0
    largest, smallest = round(style.max_size * short_side), max(4, round(style.min_size * short_side))
    for size in range(largest, smallest - 1, -max(1, largest // 40)):
        face = font.at(size)
        stroke = max(1, size // 16) if style.outline else 0
        ascent, descent = face.getmetrics()
        line_height = round((ascent + descent) * 1.12) + 2 * stroke
        lines = _wrap(text, face, area.w - 2 * pad, stroke)
        if not lines or len(lines) > style.max_lines or len(lines) * line_height + 2 * pad > area.h:
            continue
        return _draw(lines, face, area, style, pad, line_height, stroke, size)
    raise InvalidInput(
        _(
            "{field} is too long for this template and frame: it does not fit in "
            "{max_lines} line(s) at the smallest legible size. Shorten it.",
            field=field.capitalize(),
            max_lines=style.max_lines,
        ),
        field=field,
    )


def _draw(
    lines: list[str],
    face: ImageFont.FreeTypeFont,
    area: Box,
    style: TextStyle,
    pad: int,
    line_height: int,
    stroke: int,
    size: int,
) -> TextBlock:
    widths = [_width(face, line, stroke) for line in lines]
    width = min(area.w, max(widths) + 2 * pad)
    height = min(area.h, len(lines) * line_height + 2 * pad)
    layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    if style.panel:
        draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=pad, fill=style.panel)
    ascent, _ = face.getmetrics()
    for index, (line, line_width) in enumerate(zip(lines, widths, strict=True)):
        left = face.getbbox(line, stroke_width=stroke)[0]
        x = (width - line_width) // 2 - min(left, 0)
        y = pad + index * line_height + (line_height - 2 * stroke - (ascent + face.getmetrics()[1])) // 2 + stroke
        draw.text(
            (x, y + ascent),
            line,
            font=face,
            fill=style.color,
            anchor="ls",
            stroke_width=stroke,
            stroke_fill=(0, 0, 0) if stroke else None,
        )
    x = area.x + (area.w - width) // 2
    offset = {"top": 0, "middle": (area.h - height) // 2, "bottom": area.h - height}[style.align]
    return TextBlock(image=layer, box=Box(x, area.y + offset, width, height), font_px=size, lines=tuple(lines))
