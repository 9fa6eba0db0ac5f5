"""The optional voice-over: the spot's copy spoken by a local text-to-speech engine (espeak-ng) when installed."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
import wave
from pathlib import Path

_SPEEDS_WPM = (165, 200, 240)


def tts_engine() -> str | None:
    return shutil.which("espeak-ng") or shutil.which("espeak")


def voice_for(text: str) -> str:
    """The espeak-ng voice for the copy: Mandarin when it has Han characters, Cantonese never guessed, else English."""
    if any("CJK UNIFIED" in unicodedata.name(c, "") for c in text):
        return "cmn"
    if any(unicodedata.east_asian_width(c) == "W" and "HIRAGANA" in unicodedata.name(c, "") for c in text):
        return "ja"
    return "en"


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as audio:
        return audio.getnframes() / audio.getframerate()


def speak(text: str, out: Path, fits_s: float) -> tuple[Path | None, list[str]]:
    """A WAV of `text` no longer than `fits_s` if it can be spoken that fast; and notes for the merchant."""
    engine = tts_engine()
    if engine is None:
        return None, ["The voice-over was skipped: no text-to-speech engine is installed on this server (espeak-ng)."]
    voice = voice_for(text)
    for speed in _SPEEDS_WPM:
        completed = subprocess.run(  # noqa: S603  (a fixed binary; the copy is passed as one argument)
            [engine, "-v", voice, "-s", str(speed), "-w", str(out), "--", text],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        if completed.returncode != 0 or not out.exists():
            return None, [f"The voice-over was skipped: the speech engine failed ({completed.stderr[-200:]!r})."]
        if _wav_seconds(out) <= fits_s:
            return out, []
    spoken = _wav_seconds(out)
    return out, [f"The voice-over runs {spoken:.1f} s, longer than the spot; it is cut at the end. Shorten the copy."]
