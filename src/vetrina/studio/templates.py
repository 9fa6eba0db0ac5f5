"""The spot templates: each turns images and copy into shots (images in motion) and timed text blocks.

A template only plans: where each image sits and moves, and which copy shows where and when.
`render.py` turns the plan into one ffmpeg filter graph. Planning lays the copy out with the real
fonts, so copy that cannot fit is refused before a render is queued.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from vetrina.errors import InvalidInput
from vetrina.i18n import _
from vetrina.studio.fonts import Font
from vetrina.studio.layout import Box, TextBlock, TextStyle, lay_out

Motion = Literal["zoom_in", "zoom_out", "pan_left", "pan_right"]
ASPECTS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1)}
DURATIONS = (6, 15, 30)
MIN_SECONDS_PER_SHOT = 1.5
TRANSITION_S = 0.5


@dataclass(frozen=True)
class Panel:
    """One image within a shot: which image, the part of the frame it fills, how it moves."""

    image: int
    area: Box
    motion: Motion


@dataclass(frozen=True)
class Shot:
    panels: tuple[Panel, ...]
    frames: int


@dataclass(frozen=True)
class Layer:
    block: TextBlock
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Copy:
    headline: str
    lines: tuple[str, ...]
    price: str | None
    cta: str


@dataclass(frozen=True)
class Brand:
    primary: tuple[int, int, int]
    text: tuple[int, int, int]
    logo: bool = False


@dataclass(frozen=True)
class Frame:
    width: int
    height: int
    fps: int

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)

    @property
    def safe(self) -> Box:
        """The title-safe area: 5% in from every edge."""
        mx, my = round(self.width * 0.05), round(self.height * 0.05)
        return Box(mx, my, self.width - 2 * mx, self.height - 2 * my)


@dataclass
class Plan:
    frame: Frame
    duration_s: int
    shots: list[Shot]
    layers: list[Layer] = field(default_factory=list)
    transition_frames: int = 0
    # Where the brand's logo goes (top right of the safe area); copy is laid out around it.
    logo_box: Box | None = None


LOGO_SHARE = 0.14  # of the frame's short side


def logo_box(frame: Frame) -> Box:
    safe, side = frame.safe, round(frame.short_side * LOGO_SHARE)
    return Box(safe.x + safe.w - side, safe.y, side, side)


def frame_for(aspect: str, short_side: int, fps: int) -> Frame:
    if aspect not in ASPECTS:
        raise InvalidInput(_("The aspect ratio is one of {aspects}.", aspects=", ".join(ASPECTS)), field="aspect")
    across, down = ASPECTS[aspect]
    short_side -= short_side % 2
    long_side = round(short_side * max(across, down) / min(across, down) / 2) * 2
    return Frame(long_side, short_side, fps) if across >= down else Frame(short_side, long_side, fps)


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    description: str
    min_images: int
    max_images: int
    plan: Callable[[Frame, int, int, Copy, Brand, tuple[Font, ...]], Plan]
    durations: tuple[int, ...] = DURATIONS
    aspects: tuple[str, ...] = tuple(ASPECTS)
    max_lines: int = 3
    images_per_shot: int = 1

    def images_for(self, duration_s: int) -> int:
        """The most images a spot of `duration_s` shows, each shot staying on screen long enough."""
        return min(self.max_images, int(duration_s // MIN_SECONDS_PER_SHOT) * self.images_per_shot)

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "images": {"min": self.min_images, "max": self.max_images},
            "durations": list(self.durations),
            "aspects": list(self.aspects),
            "max_lines": self.max_lines,
        }


_MOTIONS: tuple[Motion, ...] = ("zoom_in", "pan_right", "zoom_out", "pan_left")


def _shot_frames(total: int, count: int, transition: int) -> list[int]:
    """Shot lengths whose cross-faded sum is exactly `total` frames."""
    span = total + (count - 1) * transition
    base, extra = divmod(span, count)
    return [base + (1 if i >= count - extra else 0) for i in range(count)]


def _sequence(frame: Frame, duration_s: int, panels_per_shot: list[list[tuple[int, Box]]]) -> Plan:
    total = duration_s * frame.fps
    count = len(panels_per_shot)
    if duration_s / count < MIN_SECONDS_PER_SHOT:
        raise InvalidInput(
            _(
                "A {duration_s} s spot of this template shows at most {shots} "
                "shots; use fewer images or a longer duration.",
                duration_s=duration_s,
                shots=int(duration_s // MIN_SECONDS_PER_SHOT),
            ),
            field="image_ids",
        )
    transition = round(TRANSITION_S * frame.fps) if count > 1 else 0
    shots = [
        Shot(tuple(Panel(image, area, _MOTIONS[(i + j) % len(_MOTIONS)]) for j, (image, area) in enumerate(panels)), n)
        for i, (panels, n) in enumerate(zip(panels_per_shot, _shot_frames(total, count, transition), strict=True))
    ]
    return Plan(frame=frame, duration_s=duration_s, shots=shots, transition_frames=transition)


def _whole(frame: Frame) -> Box:
    return Box(0, 0, frame.width, frame.height)


def _band(frame: Frame, where: Literal["top", "bottom", "middle"], share: float) -> Box:
    """A horizontal strip of the safe area, `share` of its height."""
    safe = frame.safe
    height = round(safe.h * share)
    y = {"top": safe.y, "bottom": safe.y + safe.h - height, "middle": safe.y + (safe.h - height) // 2}[where]
    return Box(safe.x, y, safe.w, height)


def _styles(brand: Brand) -> dict[str, TextStyle]:
    panel = (*brand.primary, 225)
    return {
        "headline": TextStyle(0.085, 0.035, 2, brand.text, panel=panel, align="bottom"),
        "line": TextStyle(0.06, 0.03, 2, brand.text, panel=panel, align="bottom"),
        "price": TextStyle(0.13, 0.05, 1, brand.text, panel=panel, align="bottom"),
        "cta": TextStyle(0.065, 0.03, 1, brand.primary, panel=(*brand.text, 240), align="top"),
        "count": TextStyle(0.45, 0.2, 1, (255, 255, 255), outline=True, align="middle"),
    }


def _timed(
    layers: list[Layer],
    text: str,
    area: Box,
    style: TextStyle,
    frame: Frame,
    fonts: tuple[Font, ...],
    field_name: str,
    start: float,
    end: float,
) -> None:
    if text:
        layers.append(Layer(lay_out(text, area, style, frame.short_side, fonts, field_name), start, end))


def _end_card(plan: Plan, copy: Copy, styles: dict[str, TextStyle], fonts: tuple[Font, ...], start: float) -> None:
    """The price and the call to action, stacked in the middle of the frame until the end."""
    frame, end = plan.frame, float(plan.duration_s)
    _timed(plan.layers, copy.price or "", _upper_middle(frame), styles["price"], frame, fonts, "price", start, end)
    _timed(plan.layers, copy.cta, _lower_middle(frame), styles["cta"], frame, fonts, "cta", start + 0.2, end)


def _upper_middle(frame: Frame) -> Box:
    safe = frame.safe
    return Box(safe.x, safe.y + round(safe.h * 0.22), safe.w, round(safe.h * 0.28))


def _lower_middle(frame: Frame) -> Box:
    safe = frame.safe
    return Box(safe.x + round(safe.w * 0.1), safe.y + round(safe.h * 0.53), round(safe.w * 0.8), round(safe.h * 0.17))


def _spread(texts: list[str], start: float, end: float) -> list[tuple[str, float, float]]:
    step = (end - start) / max(1, len(texts))
    return [(text, start + i * step, start + (i + 1) * step) for i, text in enumerate(texts)]


def plan_showcase(
    frame: Frame, duration_s: int, images: int, copy: Copy, brand: Brand, fonts: tuple[Font, ...]
) -> Plan:
    """One image after another, each slowly zooming or panning; copy in a lower band, then the end card."""
    plan = _sequence(frame, duration_s, [[(i, _whole(frame))] for i in range(images)])
    styles, d = _styles(brand), float(duration_s)
    _timed(
        plan.layers,
        copy.headline,
        _band(frame, "bottom", 0.3),
        styles["headline"],
        frame,
        fonts,
        "headline",
        0.3,
        d * 0.34,
    )
    for i, (line, start, end) in enumerate(_spread(list(copy.lines), d * 0.34, d * 0.68)):
        _timed(plan.layers, line, _band(frame, "bottom", 0.25), styles["line"], frame, fonts, f"lines[{i}]", start, end)
    _end_card(plan, copy, styles, fonts, d * 0.68)
    return plan


def plan_split(frame: Frame, duration_s: int, images: int, copy: Copy, brand: Brand, fonts: tuple[Font, ...]) -> Plan:
    """Two images side by side (stacked on a tall frame), pair after pair; headline on top, lines as captions."""
    across = frame.width >= frame.height
    # Halves of even size (yuv420p needs it), with whatever is left over as the gap between them.
    side = frame.width if across else frame.height
    half = (side - max(2, frame.short_side // 120)) // 4 * 2
    half_w, half_h = (half, frame.height) if across else (frame.width, half)
    first, second = (
        Box(0, 0, half_w, half_h),
        Box(frame.width - half_w if across else 0, 0 if across else frame.height - half_h, half_w, half_h),
    )
    pairs = [[(i % images, first), ((i + 1) % images, second)] for i in range(0, images + images % 2, 2)]
    plan = _sequence(frame, duration_s, pairs)
    styles, d = _styles(brand), float(duration_s)
    top = _band(frame, "top", 0.24)
    if brand.logo:  # keep the headline centred and clear of the logo in the top corner
        inset = logo_box(frame).w + frame.short_side // 50
        top = Box(top.x + inset, top.y, top.w - 2 * inset, top.h)
    _timed(plan.layers, copy.headline, top, styles["headline"], frame, fonts, "headline", 0.3, d * 0.62)
    for i, (line, start, end) in enumerate(_spread(list(copy.lines), d * 0.2, d * 0.62)):
        _timed(plan.layers, line, _band(frame, "bottom", 0.22), styles["line"], frame, fonts, f"lines[{i}]", start, end)
    _end_card(plan, copy, styles, fonts, d * 0.62)
    return plan


def plan_countdown(
    frame: Frame, duration_s: int, images: int, copy: Copy, brand: Brand, fonts: tuple[Font, ...]
) -> Plan:
    """Headline, then a 3-2-1 countdown over the images, then the price drops in with the call to action."""
    plan = _sequence(frame, duration_s, [[(i, _whole(frame))] for i in range(images)])
    styles, d = _styles(brand), float(duration_s)
    reveal = d * 0.6
    tick = min(1.0, reveal * 0.45 / 3)
    count_start = reveal - 3 * tick
    _timed(
        plan.layers,
        copy.headline,
        _band(frame, "bottom", 0.3),
        styles["headline"],
        frame,
        fonts,
        "headline",
        0.3,
        count_start,
    )
    for n in range(3):
        start = count_start + n * tick
        _timed(
            plan.layers,
            str(3 - n),
            _band(frame, "middle", 0.5),
            styles["count"],
            frame,
            fonts,
            "countdown",
            start,
            start + tick,
        )
    lines = list(copy.lines)
    for i, (line, start, end) in enumerate(_spread(lines, reveal + 0.4, d)):
        _timed(plan.layers, line, _band(frame, "bottom", 0.24), styles["line"], frame, fonts, f"lines[{i}]", start, end)
    _end_card(plan, copy, styles, fonts, reveal)
    return plan


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            "showcase",
            _("Product showcase"),
            _(
                "Your photos one after another with a slow zoom and pan, your copy in a band, then price and call "
                "to action."
            ),
            1,
            10,
            plan_showcase,
        ),
        Template(
            "split",
            _("Side by side"),
            _(
                "Two photos at a time, side by side (stacked on vertical video): compare colours, models or before "
                "and after."
            ),
            2,
            10,
            plan_split,
            images_per_shot=2,
        ),
        Template(
            "countdown",
            _("Price-drop countdown"),
            _("A 3-2-1 countdown over your photos, then the price drops in with your call to action."),
            1,
            5,
            plan_countdown,
        ),
    )
}


def get_template(name: str) -> Template:
    template = TEMPLATES.get(name)
    if template is None:
        raise InvalidInput(
            _(
                "There is no template {name}; choose one of {templates}.",
                name=repr(name),
                templates=", ".join(TEMPLATES),
            ),
            field="template",
        )
    return template
