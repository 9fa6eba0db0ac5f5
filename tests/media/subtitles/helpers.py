"""Subtitle files as people write them, and sending them."""

from __future__ import annotations

ENGLISH = """WEBVTT

1
00:00:01.000 --> 00:00:02.500
Hello.

2
00:00:03.000 --> 00:00:05.000 align:start
<i>Two</i> lines
of text.
"""

# SubRip, with Windows line ends, a byte order mark, numeric ids, comma timings and its own markup.
ITALIAN_SRT = (
    "\ufeff1\r\n00:00:01,000 --> 00:00:02,500\r\nCiao & <b>benvenuti</b>.\r\n\r\n"
    '2\r\n00:00:03,000 --> 00:00:05,000\r\n<font color="#ffff00">Due</font> righe\r\ndi testo.\r\n'
)


def upload(client, account, video_id: int, language: str, text: str | bytes, name: str = "subs.vtt"):
    body = text.encode() if isinstance(text, str) else text
    return client.post(
        f"/api/v1/videos/{video_id}/subtitles",
        headers=account.auth,
        data={"language": language},
        files={"file": (name, body, "text/vtt")},
    )


def cues(*spans: tuple[float, float], header: str = "WEBVTT") -> str:
    """A WebVTT file with a cue over each (start, end) span, in seconds."""

    def stamp(seconds: float) -> str:
        minutes, rest = divmod(seconds, 60)
        return f"00:{int(minutes):02d}:{rest:06.3f}"

    blocks = [f"{stamp(start)} --> {stamp(end)}\nCue {n}" for n, (start, end) in enumerate(spans, 1)]
    return header + "\n\n" + "\n\n".join(blocks) + "\n"
