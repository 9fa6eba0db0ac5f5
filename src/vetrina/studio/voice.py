"""The optional voice-over: the spot's copy spoken by a local text-to-speech engine (espeak-ng) when installed."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
import wave
from pathlib import Path

from vetrina.i18n import _

_SPEEDS_WPM = (165, 200, 240)
NO_SPEECH_NOTE = _("The voice-over is skipped: no text-to-speech engine (espeak-ng) is installed on this server.")


def tts_engine() -> str | None:
    return shutil.which("espeak-ng") or shutil.which("espeak")


def voice_for(text: str) -> str:
    """The espeak-ng voice for the copy: Japanese when it has kana, Korean for Hangul, Mandarin for other Han
    characters, else English."""
    names = [unicodedata.name(c, "") for c in text]
    if any("HIRAGANA" in n or "KATAKANA" in n for n in names):
        return "ja"
    if any("HANGUL" in n for n in names):
        return "ko"
    if any("CJK UNIFIED" in n for n in names):
        return "cmn"
    return "en"


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as audio:
        return audio.getnframes() / audio.getframerate()


def speak(text: str, out: Path, fits_s: float) -> tuple[Path | None, list[str]]:
    """A WAV of `text` no longer than `fits_s` if it can be spoken that fast; and notes for the merchant."""
    engine = tts_engine()
    if engine is None:
        return None, [NO_SPEECH_NOTE]
    voice = voice_for(text)
    for speed in _SPEEDS_WPM:
        try:
            completed = subprocess.run(  # noqa: S603  (a fixed binary; the copy is passed as one argument)
                [engine, "-v", voice, "-s", str(speed), "-w", str(out), "--", text],
                capture_output=True,
                timeout=60,
                check=False,
            )
        except (subprocess.TimeoutExpired, OSError) as exc:
            return None, [
                _("The voice-over is skipped: the speech engine did not finish ({kind}).", kind=exc.__class__.__name__)
            ]
        if completed.returncode != 0 or not out.exists():
            reason = completed.stderr.decode(errors="replace").strip()[-200:] or f"exit {completed.returncode}"
            return None, [_("The voice-over is skipped: the speech engine failed ({reason}).", reason=reason)]
        if _wav_seconds(out) <= fits_s:
            return out, []
    spoken = _wav_seconds(out)
    return out, [
        _(
            "The voice-over runs {spoken:.1f} s, longer than the spot; it is cut at the end. Shorten the copy.",
            spoken=spoken,
        )
    ]
