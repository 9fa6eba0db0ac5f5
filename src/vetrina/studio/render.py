"""From a plan to a finished MP4: images prepared with Pillow, then one ffmpeg filter graph.

Each image is fitted once to its panel (with room to zoom) and moved with zoompan; shots are joined
with cross-fades (xfade); every text block is a transparent layer faded in and out by overlay; music
and voice are trimmed, faded and mixed to exactly the spot's length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFilter, ImageOps

from vetrina.media.ffmpeg import run_ffmpeg
from vetrina.studio.layout import Box
from vetrina.studio.templates import Panel, Plan

ZOOM = 0.12  # how far a shot zooms or pans: 12% of the panel
CANVAS = 1.0 + ZOOM  # images are fitted this much larger than their panel, so zooming never upsamples much
TEXT_FADE_S = 0.3


@dataclass(frozen=True)
class Encoding:
    preset: str = "veryfast"
    crf: int = 18
    audio_bitrate: str = "160k"


@dataclass(frozen=True)
class Sound:
    music: Path | None = None
    voice: Path | None = None


def _fit(source: Path, area: Box) -> Image.Image:
    """The image fitted to the panel: cropped to fill it, or, when the shapes differ a lot, whole on a blurred copy."""
    width, height = round(area.w * CANVAS / 2) * 2, round(area.h * CANVAS / 2) * 2
    with Image.open(source) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    ratio = (image.width / image.height) / (width / height)
    if 0.8 <= ratio <= 1.25:
        return ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)
    backdrop = ImageOps.fit(image, (width // 8, height // 8), Image.Resampling.BILINEAR)
    backdrop = backdrop.filter(ImageFilter.GaussianBlur(6)).resize((width, height), Image.Resampling.BILINEAR)
    whole = ImageOps.contain(image, (width, height), Image.Resampling.LANCZOS)
    backdrop.paste(whole, ((width - whole.width) // 2, (height - whole.height) // 2))
    return backdrop


def _zoompan(panel: Panel, frames: int, fps: int) -> str:
    """A zoompan over `frames` frames, eased so the move starts and ends gently."""
    progress = f"(on/{max(1, frames - 1)})"
    eased = f"({progress}*{progress}*(3-2*{progress}))"
    zoom = {
        "zoom_in": f"1+{ZOOM}*{eased}",
        "zoom_out": f"{1 + ZOOM}-{ZOOM}*{eased}",
        "pan_left": f"{1 + ZOOM / 2}",
        "pan_right": f"{1 + ZOOM / 2}",
    }[panel.motion]
    x = {
        "pan_left": f"(iw-iw/zoom)*(1-{eased})",
        "pan_right": f"(iw-iw/zoom)*{eased}",
    }.get(panel.motion, "(iw-iw/zoom)/2")
    return (
        f"zoompan=z='{zoom}':x='{x}':y='(ih-ih/zoom)/2':d={frames}:s={panel.area.w}x{panel.area.h}:fps={fps},"
        "setsar=1,format=yuv420p"
    )


def render_plan(
    plan: Plan,
    images: list[Path],
    sound: Sound,
    scratch: Path,
    output: Path,
    encoding: Encoding,
    on_progress: Callable[[float], object] | None = None,
) -> None:
    """Render `plan` to `output` (H.264/AAC MP4) with one ffmpeg run; `on_progress` gets a fraction done."""
    frame, fps = plan.frame, plan.frame.fps
    total_frames = plan.duration_s * fps
    inputs: list[str] = []
    graph: list[str] = []

    def add_input(*args: str) -> int:
        inputs.extend(args)
        return sum(1 for a in inputs if a == "-i") - 1

    shot_labels = []
    for s, shot in enumerate(plan.shots):
        panel_labels = []
        for p, panel in enumerate(shot.panels):
            fitted = scratch / f"shot{s}-panel{p}.jpg"
            _fit(images[panel.image], panel.area).save(fitted, "JPEG", quality=92)
            index = add_input("-i", str(fitted))
            label = f"s{s}p{p}"
            graph.append(f"[{index}:v]{_zoompan(panel, shot.frames, fps)}[{label}]")
            panel_labels.append((label, panel.area))
        shot_labels.append(_compose(graph, f"s{s}", panel_labels, frame.width, frame.height))
    current = shot_labels[0]
    elapsed = plan.shots[0].frames
    for s, label in enumerate(shot_labels[1:], start=1):
        offset = (elapsed - plan.transition_frames) / fps
        graph.append(
            f"[{current}][{label}]xfade=transition=fade:duration={plan.transition_frames / fps:.4f}:"
            f"offset={offset:.4f}[x{s}]"
        )
        current, elapsed = f"x{s}", elapsed - plan.transition_frames + plan.shots[s].frames
    for t, text in enumerate(plan.layers):
        layer = scratch / f"text{t}.png"
        text.block.image.save(layer)
        index = add_input("-framerate", str(fps), "-i", str(layer))
        start, end = round(text.start_s * fps), round(min(text.end_s, plan.duration_s) * fps)
        fade = min(TEXT_FADE_S, (end - start) / fps / 3)
        graph.append(
            f"[{index}:v]format=rgba,loop=loop={max(0, end - start - 1)}:size=1:start=0,setpts=N+{start},"
            f"fade=t=in:st={start / fps:.4f}:d={fade:.4f}:alpha=1,"
            f"fade=t=out:st={end / fps - fade:.4f}:d={fade:.4f}:alpha=1[t{t}]"
        )
        graph.append(f"[{current}][t{t}]overlay=x={text.block.box.x}:y={text.block.box.y}:eof_action=pass[o{t}]")
        current = f"o{t}"
    graph.append(f"[{current}]trim=end_frame={total_frames},format=yuv420p[vout]")
    audio_args = _audio(graph, add_input, sound, plan.duration_s)
    args = [
        *inputs,
        "-filter_complex",
        ";".join(graph),
        "-map",
        "[vout]",
        *audio_args,
        "-c:v",
        "libx264",
        "-preset",
        encoding.preset,
        "-crf",
        str(encoding.crf),
        "-pix_fmt",
        "yuv420p",
        "-r",
        str(fps),
        "-frames:v",
        str(total_frames),
        "-movflags",
        "+faststart",
        str(output),
    ]
    run_ffmpeg(args, on_progress=(lambda done: on_progress(min(1.0, done / plan.duration_s))) if on_progress else None)


def _compose(graph: list[str], name: str, panels: list[tuple[str, Box]], width: int, height: int) -> str:
    """One panel is the shot; two are stacked side by side (or one above the other) with the gap between them."""
    if len(panels) == 1:
        return panels[0][0]
    (first, a), (second, b) = panels
    if b.x > a.x:
        graph.append(f"[{first}]pad=w={b.x}:h={height}:color=black[{name}a];[{name}a][{second}]hstack[{name}]")
    else:
        graph.append(f"[{first}]pad=w={width}:h={b.y}:color=black[{name}a];[{name}a][{second}]vstack[{name}]")
    return name


def _audio(graph: list[str], add_input: Callable[..., int], sound: Sound, duration_s: int) -> list[str]:
    """Music (looped to length, faded, lowered under a voice) and voice, mixed to exactly `duration_s`."""
    tracks = []
    if sound.music is not None:
        index = add_input("-stream_loop", "-1", "-i", str(sound.music))
        level = 0.3 if sound.voice is not None else 0.9
        graph.append(
            f"[{index}:a]aformat=sample_rates=48000:channel_layouts=stereo,atrim=0:{duration_s},asetpts=PTS-STARTPTS,"
            f"afade=t=in:d=0.3,afade=t=out:st={max(0, duration_s - 1.5)}:d=1.5,volume={level}[music]"
        )
        tracks.append("[music]")
    if sound.voice is not None:
        index = add_input("-i", str(sound.voice))
        graph.append(
            f"[{index}:a]aformat=sample_rates=48000:channel_layouts=stereo,adelay=400:all=1,"
            f"atrim=0:{duration_s},asetpts=PTS-STARTPTS[voice]"
        )
        tracks.append("[voice]")
    if not tracks:
        return []
    mixed = (
        f"{''.join(tracks)}amix=inputs={len(tracks)}:duration=longest:normalize=0," if len(tracks) > 1 else (tracks[0])
    )
    graph.append(f"{mixed}apad=whole_dur={duration_s},atrim=0:{duration_s}[aout]")
    return ["-map", "[aout]", "-c:a", "aac", "-b:a", "160k", "-ar", "48000"]
