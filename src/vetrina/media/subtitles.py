"""Subtitles: one WebVTT file per language of a video, uploaded (WebVTT or SRT, SRT converted) or imported from a
partner's feed, checked against the video, and carried in its HLS master playlist as subtitle renditions.

Layout: each upload is a folder of its own, `videos/{id}/subtitles/{language}-{random}/`, holding `subtitles.vtt`
(the checked WebVTT, what the API's `url` serves) and, once a player asks, `hls-{pts}.vtt`: the same cues with the
`X-TIMESTAMP-MAP` that ties cue time 0 to the first frame of the video's ladder (RFC 8216 3.5), since every cue of an
HLS subtitle rendition is placed by the segments' MPEG-2 timestamps, and ffmpeg's segments do not start at 0. A
replacement is a new folder (the old one goes after the commit), so a link never changes what it serves.

The subtitle rendition's media playlist is Vetrina's answer, like every playlist (its segment's link is signed and
expires): `videos/{id}/subtitles/{folder}/index.m3u8` names a playlist that is made, never stored.
"""

from __future__ import annotations

import heapq
import io
import logging
import re
import secrets
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, ClassVar

import av
from babel import Locale
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vetrina import clock
from vetrina.accounts.models import User
from vetrina.context import Context, Topic
from vetrina.db import after_commit, on_rollback
from vetrina.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, UnsupportedMedia
from vetrina.i18n import _, check_language
from vetrina.media import playlists
from vetrina.media.ladder import MASTER_PLAYLIST
from vetrina.media.models import Video, VideoStatus, VideoSubtitle
from vetrina.media.service import video_for_change, video_of_key
from vetrina.media.transcode import output_prefix
from vetrina.settings import Settings
from vetrina.storage import Covers, MediaStore

log = logging.getLogger(__name__)

SOURCES = ("upload", "feed")
SUBTITLES_FILE = "subtitles.vtt"
RENDITION_PLAYLIST = "index.m3u8"
# A cue may end this long after the video's last frame (the probe's length and the subtitler's differ a little).
END_TOLERANCE_MS = 1000
# More cues than this on screen at once overlap badly: two speakers at once is the most subtitles show.
MAX_ON_SCREEN = 2
MAX_CUES = 10_000  # a 3-hour film has about 2,500
MAX_LANGUAGES = 40  # per video
MAX_CUE_TEXT = 1_000  # characters of one cue's text (a subtitle is two lines of about 42)
MAX_SETTINGS = 200  # characters of one cue's settings (position, alignment...)
# MPEG-2 timestamps tick at 90 kHz; the map's value is one of them (RFC 8216 3.5).
MPEG_TS_HZ = 90_000
_MAX_SEGMENT_PROBED = 64 * 1024**2
NO_VIDEO_TTL_S = 60.0


# Reading and checking -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cue:
    number: int  # 1-based, in file order
    line: int  # the line of its timing, 1-based, as the uploader's editor counts them
    identifier: str
    start_ms: int
    end_ms: int
    settings: str
    text: str


@dataclass(frozen=True)
class Subtitles:
    """Checked subtitles: their cues, and the WebVTT file that carries them."""

    cues: tuple[Cue, ...]

    def webvtt(self, timestamp_map: str | None = None) -> str:
        """The WebVTT file; with `timestamp_map`, that X-TIMESTAMP-MAP header (an HLS subtitle segment's)."""
        parts = ["WEBVTT" + (f"\nX-TIMESTAMP-MAP={timestamp_map}" if timestamp_map else "")]
        for cue in self.cues:
            timing = f"{vtt_time(cue.start_ms)} --> {vtt_time(cue.end_ms)}" + (
                f" {cue.settings}" if cue.settings else ""
            )
            parts.append("\n".join(filter(None, [cue.identifier, timing, cue.text])))
        return "\n\n".join(parts) + "\n"


def vtt_time(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def parse_subtitles(data: bytes, duration_s: float) -> Subtitles:
    """WebVTT or SRT as checked WebVTT cues, for a video `duration_s` long. UnsupportedMedia (415) for what is not
    subtitles; InvalidInput (422), naming the cue and its line, for subtitles that cannot be shown as they are."""
    text = _decoded(data)
    lines = text.split("\n")
    if _WEBVTT_SIGNATURE.fullmatch(lines[0]):
        subtitles = _read_webvtt(lines)
    elif _looks_like_srt(lines):
        subtitles = Subtitles(_read_srt(lines))
    else:
        raise _not_subtitles()
    _check_cues(subtitles.cues, duration_s)
    return subtitles


def _decoded(data: bytes) -> str:
    """The file's text: UTF-8 (after a byte order mark, if any), its line ends made \\n."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InvalidInput(_("The file is UTF-16 text: save it as UTF-8 and upload it again."), field="file")
    try:
        text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as exc:
        if b"-->" not in data:  # no cue timing anywhere: not subtitles in another encoding either
            raise _not_subtitles() from None
        raise InvalidInput(
            _(
                "The subtitles are not UTF-8 text (the byte at offset {offset} is not UTF-8; Latin-1 and Windows "
                "encodings are not read): save the file as UTF-8 and upload it again.",
                offset=exc.start,
            ),
            field="file",
        ) from None
    if _CONTROL.search(text):
        raise _not_subtitles()
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _not_subtitles() -> UnsupportedMedia:
    return UnsupportedMedia(
        _(
            "This file is not WebVTT or SRT subtitles: a WebVTT file starts with the line WEBVTT, an SRT file with "
            "a cue number and its timing."
        ),
        field="file",
    )


# Control characters no text file holds (tab, line ends and form feed are text).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_WEBVTT_SIGNATURE = re.compile(r"WEBVTT(?:[ \t].*)?")
_VTT_TIME = r"(?:(\d{2,4}):)?([0-5]\d):([0-5]\d)\.(\d{3})"  # hours: no film runs 10,000 of them
_VTT_TIMING = re.compile(rf"{_VTT_TIME}[ \t]+-->[ \t]+{_VTT_TIME}(?:[ \t]+(.*))?")
_SRT_TIME = r"(\d{1,3}):([0-5]\d):([0-5]\d)[,.](\d{3})"
_SRT_TIMING = re.compile(rf"[ \t]*{_SRT_TIME}[ \t]*-->[ \t]*{_SRT_TIME}(?:[ \t]+.*)?")
_SETTING = re.compile(r"(vertical|line|position|size|align):\S+")
_BLOCK_KEYWORD = re.compile(r"(NOTE|STYLE|REGION)(?:[ \t].*)?")


def _milliseconds(hours: str | None, minutes: str, seconds: str, millis: str) -> int:
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis)


def _blocks(lines: Sequence[str], first: int) -> list[tuple[int, list[str]]]:
    """The blank-line separated blocks from line index `first` on, each with the index of its first line."""
    found: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = first
    for index in range(first, len(lines)):
        line = lines[index]
        if line.strip():
            if not current:
                start = index
            current.append(line)
        elif current:
            found.append((start, current))
            current = []
    if current:
        found.append((start, current))
    return found


def _read_webvtt(lines: list[str]) -> Subtitles:
    # The header runs to the first blank line (or to a cue timing written without one).
    first = 1
    while first < len(lines) and lines[first].strip() and "-->" not in lines[first]:
        first += 1
    cues: list[Cue] = []
    for start, block in _blocks(lines, first):
        keyword = _BLOCK_KEYWORD.fullmatch(block[0])
        if keyword and "-->" not in block[0]:
            # Notes, styles and regions are dropped: a style could hide cues or fetch another site's URLs.
            continue
        timing_at = 0 if "-->" in block[0] else 1
        if timing_at >= len(block) or "-->" not in block[timing_at]:
            raise InvalidInput(
                _(
                    "Line {line} is neither a cue nor a note: a cue is an optional name, then its timing "
                    "(00:00:01.000 --> 00:00:03.500), then its text, and cues are separated by blank lines.",
                    line=start + 1,
                ),
                field="file",
            )
        number, line = len(cues) + 1, start + timing_at + 1
        if len(cues) >= MAX_CUES:
            raise InvalidInput(_("The subtitles have more than {limit} cues.", limit=MAX_CUES), field="file")
        timing = _VTT_TIMING.fullmatch(block[timing_at].strip())
        if timing is None:
            raise InvalidInput(
                _(
                    "Line {line} is not a cue timing as WebVTT writes it (00:01:02.500 --> 00:01:04.000).",
                    line=line,
                ),
                field="file",
            )
        settings = " ".join(s for s in (timing.group(9) or "").split() if _SETTING.fullmatch(s))[:MAX_SETTINGS]
        text = _cue_text(block[timing_at + 1 :], number, line)
        identifier = block[0].strip() if timing_at else ""
        start_ms, end_ms = _milliseconds(*timing.groups()[0:4]), _milliseconds(*timing.groups()[4:8])
        cues.append(Cue(number, line, identifier, start_ms, end_ms, settings, text))
    return Subtitles(tuple(cues))


def _cue_text(payload: Sequence[str], number: int, line: int) -> str:
    for offset, text_line in enumerate(payload, 1):
        if "-->" in text_line:
            raise InvalidInput(
                _(
                    "Line {line} holds a timing inside the text of cue {number}: a blank line is missing before it.",
                    line=line + offset,
                    number=number,
                ),
                field="file",
            )
    text = "\n".join(payload).strip()
    if len(text) > MAX_CUE_TEXT:
        raise InvalidInput(
            _(
                "Cue {number} (line {line}) has {length} characters of text; a cue may have at most {limit}.",
                number=number,
                line=line,
                length=len(text),
                limit=MAX_CUE_TEXT,
            ),
            field="file",
        )
    return text


def _looks_like_srt(lines: list[str]) -> bool:
    """SubRip: the first block is a cue number and a timing (or a timing alone)."""
    blocks = _blocks(lines, 0)
    if not blocks:
        return False
    block = blocks[0][1]
    timing_at = 1 if block[0].strip().isdigit() else 0
    return timing_at < len(block) and _SRT_TIMING.fullmatch(block[timing_at]) is not None


# SubRip's text markup: <i>, <b> and <u> are WebVTT's too; <font> and {\an8}-style positioning are not.
_SRT_KEPT_TAG = re.compile(r"</?[ibu]>", re.IGNORECASE)
_SRT_DROPPED = re.compile(r"</?font\b[^>]*>|\{\\[^}]*\}", re.IGNORECASE)
_ENTITY = re.compile(r"&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);")


def _srt_text(text: str) -> str:
    """SubRip text as WebVTT cue text: its i/b/u tags kept, other markup dropped, & and < escaped."""
    text = _SRT_DROPPED.sub("", text)
    out, at = [], 0
    for tag in _SRT_KEPT_TAG.finditer(text):
        out.append(_escaped(text[at : tag.start()]))
        out.append(tag.group(0).lower())
        at = tag.end()
    out.append(_escaped(text[at:]))
    return "".join(out)


def _escaped(text: str) -> str:
    pieces, at = [], 0
    for entity in _ENTITY.finditer(text):
        pieces.append(text[at : entity.start()].replace("&", "&amp;"))
        pieces.append(entity.group(0))
        at = entity.end()
    pieces.append(text[at:].replace("&", "&amp;"))
    return "".join(pieces).replace("<", "&lt;").replace(">", "&gt;")


def _read_srt(lines: list[str]) -> tuple[Cue, ...]:
    cues: list[Cue] = []
    for start, block in _blocks(lines, 0):
        timing_at = 1 if block[0].strip().isdigit() and len(block) > 1 else 0
        number, line = len(cues) + 1, start + timing_at + 1
        if len(cues) >= MAX_CUES:
            raise InvalidInput(_("The subtitles have more than {limit} cues.", limit=MAX_CUES), field="file")
        timing = _SRT_TIMING.fullmatch(block[timing_at])
        if timing is None:
            raise InvalidInput(
                _(
                    "Line {line} is not a cue timing as SRT writes it (00:01:02,500 --> 00:01:04,000); "
                    "cues are separated by blank lines.",
                    line=line,
                ),
                field="file",
            )
        text = _srt_text(_cue_text(block[timing_at + 1 :], number, line))
        identifier = block[0].strip() if timing_at else ""
        start_ms, end_ms = _milliseconds(*timing.groups()[0:4]), _milliseconds(*timing.groups()[4:8])
        cues.append(Cue(number, line, identifier, start_ms, end_ms, "", text))
    return tuple(cues)


def _check_cues(cues: Sequence[Cue], duration_s: float) -> None:
    """Cues a player can show as the uploader meant: some, each ending after it starts and by the video's end, in
    the order they are shown, and never more than MAX_ON_SCREEN on screen at once."""
    if not cues:
        raise InvalidInput(_("The subtitles have no cues."), field="file")
    video_end_ms = round(duration_s * 1000)
    on_screen: list[tuple[int, int]] = []  # (end, number) of the cues still showing, earliest end first
    previous: Cue | None = None
    for cue in cues:
        where = {"number": cue.number, "line": cue.line, "start": vtt_time(cue.start_ms), "end": vtt_time(cue.end_ms)}
        if cue.end_ms <= cue.start_ms:
            raise InvalidInput(
                _("Cue {number} (line {line}) ends at {end}, which is not after its start ({start}).", **where),
                field="file",
            )
        if cue.end_ms > video_end_ms + END_TOLERANCE_MS:
            raise InvalidInput(
                _(
                    "Cue {number} (line {line}) ends at {end}, after the end of the video ({duration}).",
                    duration=vtt_time(video_end_ms),
                    **where,
                ),
                field="file",
            )
        if previous is not None and cue.start_ms < previous.start_ms:
            raise InvalidInput(
                _(
                    "Cue {number} (line {line}) starts at {start}, before cue {previous} ({previous_start}): "
                    "cues must be in the order they are shown.",
                    previous=previous.number,
                    previous_start=vtt_time(previous.start_ms),
                    **where,
                ),
                field="file",
            )
        while on_screen and on_screen[0][0] <= cue.start_ms:
            heapq.heappop(on_screen)
        if len(on_screen) >= MAX_ON_SCREEN:
            showing = sorted(number for _end, number in on_screen)
            raise InvalidInput(
                _(
                    "Cue {number} (line {line}, {start} --> {end}) overlaps cues {first} and {second}, which are "
                    "still on screen: at most two cues may show at once.",
                    first=showing[0],
                    second=showing[1],
                    **where,
                ),
                field="file",
            )
        heapq.heappush(on_screen, (cue.end_ms, cue.number))
        previous = cue


def read_bounded(file: BinaryIO, limit: int) -> bytes:
    """The uploaded file's bytes, reading no more than `limit` + 1 of them: 413 past `limit`."""
    data = file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(
            _("The subtitle file is larger than the {limit} byte limit (VETRINA_SUBTITLE_MAX_BYTES).", limit=limit),
            max_bytes=limit,
        )
    if not data:
        raise InvalidInput(_("The uploaded file is empty."), field="file")
    return data


def language_tag(tag: str) -> str:
    """A BCP 47 language tag, normalised ("pt-br" -> "pt-BR"); 422 when it names no language."""
    try:
        return check_language(tag)
    except ValueError:
        raise InvalidInput(
            _(
                "{tag} is not a language tag: give a BCP 47 tag such as en, it, pt-BR or zh-Hans.",
                tag=str(tag)[:40] or '""',
            ),
            field="language",
        ) from None


def own_name(language: str) -> str:
    """The language's name in itself ("Italiano", "中文 (简体)"), as a viewer picking it looks for it."""
    locale = Locale.parse(language, sep="-")
    name = locale.get_display_name(locale) or language
    return name[:1].upper() + name[1:]


# Storing --------------------------------------------------------------------------------------------------------------


def add_subtitles(
    ctx: Context, session: Session, video_id: int, user: User, language: str, file: BinaryIO
) -> tuple[VideoSubtitle, bool]:
    """The video owner's (or an admin's) subtitles in `language`, read from `file` within
    VETRINA_SUBTITLE_MAX_BYTES, checked, and stored in place of any the language had; the row, and whether it is
    new (not a replacement)."""
    video = video_for_change(session, video_id, user)
    language = language_tag(language)
    subtitles = parse_subtitles(read_bounded(file, ctx.settings.subtitle_max_bytes), video.duration_s)
    return store_subtitles(ctx, session, video, language, subtitles, "upload")


def import_subtitles(ctx: Context, session: Session, video_id: int, language: str, data: bytes) -> VideoSubtitle:
    """Subtitles as a partner's feed gives them for its own title (no user's permission is asked), checked as an
    upload is. NotFound when the video is gone."""
    video = session.get(Video, video_id)
    if video is None:
        raise NotFound(_("There is no video {video_id}.", video_id=video_id))
    language = language_tag(language)
    if len(data) > ctx.settings.subtitle_max_bytes:
        limit = ctx.settings.subtitle_max_bytes
        raise PayloadTooLarge(
            _("The subtitle file is larger than the {limit} byte limit (VETRINA_SUBTITLE_MAX_BYTES).", limit=limit),
            max_bytes=limit,
        )
    return store_subtitles(ctx, session, video, language, parse_subtitles(data, video.duration_s), "feed")[0]


def _folder_of(storage_key: str) -> str:
    return storage_key.rsplit("/", 1)[0]


def store_subtitles(
    ctx: Context, session: Session, video: Video, language: str, subtitles: Subtitles, source: str
) -> tuple[VideoSubtitle, bool]:
    """Store the file, then its row, as one unit: a rollback removes the file, and a replaced file goes only once
    its replacement has committed."""
    row = session.scalar(
        select(VideoSubtitle)
        .where(VideoSubtitle.video_id == video.id, VideoSubtitle.language == language)
        .with_for_update()
    )
    if row is None and len(list_subtitles(session, video.id)) >= MAX_LANGUAGES:
        # Every viewer's master playlist lists every language: a bounded list, and bounded storage per video.
        raise InvalidInput(
            _("A video has subtitles in at most {limit} languages.", limit=MAX_LANGUAGES), field="language"
        )
    folder = f"{output_prefix(video.id)}/subtitles/{language}-{secrets.token_hex(4)}"
    body = subtitles.webvtt().encode()
    scratch = ctx.store.scratch_dir(f"subtitles-{secrets.token_hex(8)}")
    try:
        (scratch / SUBTITLES_FILE).write_bytes(body)
        on_rollback(session, lambda: ctx.store.delete(folder))
        ctx.store.put_file(scratch / SUBTITLES_FILE, f"{folder}/{SUBTITLES_FILE}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    created = row is None
    if row is None:
        row = VideoSubtitle(video_id=video.id, language=language)
        session.add(row)
    else:
        replaced = _folder_of(row.storage_key)
        after_commit(session, lambda: ctx.store.delete(replaced))
    row.storage_key, row.size_bytes, row.cue_count = f"{folder}/{SUBTITLES_FILE}", len(body), len(subtitles.cues)
    row.source, row.created_at = source, clock.now()
    try:
        session.flush()
    except IntegrityError:
        ctx.store.delete(folder)
        raise Conflict(
            _("Subtitles in {language} were being added at the same moment; try again.", language=language)
        ) from None
    ctx.caches.forget_after_commit(session, Topic.video, video.id)
    return row, created


def list_subtitles(session: Session, video_id: int) -> list[VideoSubtitle]:
    """The video's subtitles, by language tag."""
    query = select(VideoSubtitle).where(VideoSubtitle.video_id == video_id).order_by(VideoSubtitle.language)
    return list(session.scalars(query))


def subtitles_uploaded_since(session: Session, owner_id: int, since: datetime) -> tuple[int, datetime | None]:
    """How many subtitle files have been uploaded to `owner_id`'s videos since `since`, and when the oldest of them
    was (for the upload quotas). A language's row keeps only its latest upload's time; a feed's are not uploads."""
    query = (
        select(func.count(), func.min(VideoSubtitle.created_at))
        .select_from(VideoSubtitle)
        .join(Video, Video.id == VideoSubtitle.video_id)
        .where(Video.owner_id == owner_id, VideoSubtitle.source == "upload", VideoSubtitle.created_at >= since)
    )
    count, oldest = session.execute(query).one()
    return count, oldest


def delete_subtitles(ctx: Context, session: Session, video_id: int, user: User, language: str) -> None:
    """Remove the video's subtitles in `language` (its owner or an admin); the file goes once that has committed."""
    video = video_for_change(session, video_id, user)
    _remove(ctx, session, video, language_tag(language))


def drop_feed_subtitles(ctx: Context, session: Session, video_id: int, keep: set[str]) -> None:
    """Remove the subtitles a partner's feed gave the video in languages other than `keep` (it lists them no
    more); those uploaded by hand stay."""
    video = session.get(Video, video_id)
    if video is None:
        return
    for row in list_subtitles(session, video_id):
        if row.source == "feed" and row.language not in keep:
            _remove(ctx, session, video, row.language)


def _remove(ctx: Context, session: Session, video: Video, language: str) -> None:
    row = session.scalar(
        select(VideoSubtitle).where(VideoSubtitle.video_id == video.id, VideoSubtitle.language == language)
    )
    if row is None:
        raise NotFound(_("Video {video_id} has no subtitles in {language}.", video_id=video.id, language=language))
    folder = _folder_of(row.storage_key)
    session.delete(row)
    after_commit(session, lambda: ctx.store.delete(folder))
    ctx.caches.forget_after_commit(session, Topic.video, video.id)


def subtitle_url(ctx: Context, row: VideoSubtitle, territory: str = "") -> str:
    """A signed link to the subtitles' WebVTT file (that file alone), bound to `territory` when given."""
    folder, name = row.storage_key.rsplit("/", 1)
    return ctx.store.signed_url(folder, name, clock.now().timestamp(), ctx.settings.media_url_ttl_s, territory)


# In the HLS playlists -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Track:
    language: str
    name: str
    folder: str  # where its files are in the store


@dataclass(frozen=True)
class Ladder:
    """What a video's subtitle renditions need of it, found from its ladder's folder."""

    video_id: int
    output_key: str
    duration_s: float
    tracks: tuple[Track, ...]


class SubtitlesCache:
    """Each ladder's video and subtitle tracks, fresh for the timeline's time-to-live (every player asks for the
    master playlist); a subtitle or video change drops the video's copy. Also each ladder's first timestamp,
    which never changes (a new transcode writes a new ladder)."""

    topics: ClassVar[frozenset[Topic]] = frozenset({Topic.video})

    @classmethod
    def from_settings(cls, settings: Settings) -> SubtitlesCache:
        return cls(ttl_s=settings.timeline_cache_s)

    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._ladders: dict[str, tuple[float, Ladder | None]] = {}
        self._first_pts: OrderedDict[str, int] = OrderedDict()
        self._written: set[str] = set()  # HLS cue files known to be in the store
        self._lock = threading.Lock()

    def ladder(self, ctx: Context, output_key: str) -> Ladder | None:
        entry = self._ladders.get(output_key)
        if entry and entry[0] > time.monotonic():
            return entry[1]
        found = _ladder(ctx, output_key)
        # No video there (a live show's ladder until its replay): asked again less often; a subtitle change forgets it.
        ttl_s = self.ttl_s if found is not None else max(self.ttl_s, NO_VIDEO_TTL_S)
        with self._lock:
            if len(self._ladders) >= self.max_entries:
                self._ladders.clear()  # a burst of distinct videos: start again rather than scan
            self._ladders[output_key] = (time.monotonic() + ttl_s, found)
        return found

    def first_pts(self, store: MediaStore, output_key: str) -> int:
        found = self._first_pts.get(output_key)
        if found is None:
            found = first_pts(store, output_key)
            with self._lock:
                self._first_pts[output_key] = found
                while len(self._first_pts) > 1024:
                    self._first_pts.popitem(last=False)
        return found

    def written(self, key: str) -> bool:
        return key in self._written

    def mark_written(self, key: str) -> None:
        with self._lock:
            if len(self._written) >= self.max_entries:
                self._written.clear()
            self._written.add(key)

    def forget(self, key: int | None) -> None:
        with self._lock:
            if key is None:
                self._ladders.clear()
            else:
                for output_key, (_expires, ladder) in list(self._ladders.items()):
                    if ladder is None or ladder.video_id == key:
                        self._ladders.pop(output_key, None)


def _ladder(ctx: Context, output_key: str) -> Ladder | None:
    """The ready video whose ladder is at `output_key` (a replay's is under its show's folder), with its tracks."""
    with ctx.db.session() as session:
        video_id = video_of_key(f"{output_key}/{MASTER_PLAYLIST}")
        if video_id is not None:
            video = session.get(Video, video_id)
        else:
            video = session.scalar(select(Video).where(Video.output_key == output_key).limit(1))
        if video is None or video.status != VideoStatus.ready or video.output_key != output_key:
            return None
        tracks = tuple(
            Track(row.language, own_name(row.language), _folder_of(row.storage_key))
            for row in list_subtitles(session, video.id)
        )
        return Ladder(video.id, output_key, video.duration_s, tracks)


def master_with_subtitles(ctx: Context, key: str, playlist: playlists.Playlist, territory: str) -> playlists.Playlist:
    """The video's master playlist with a subtitle rendition per language (links signed like the master's, bound to
    the same `territory`); as stored when it has none."""
    if not key.endswith("/" + MASTER_PLAYLIST):
        return playlist
    ladder = ctx.caches.get(SubtitlesCache).ladder(ctx, key.rsplit("/", 1)[0])
    if ladder is None or not ladder.tracks:
        return playlist
    now_ts, ttl_s = clock.now().timestamp(), ctx.settings.media_url_ttl_s
    renditions = [
        playlists.SubtitleRendition(
            track.language,
            track.name,
            ctx.store.signed_url(track.folder, RENDITION_PLAYLIST, now_ts, ttl_s, territory, Covers.file),
        )
        for track in ladder.tracks
    ]
    return playlists.with_subtitles(playlist, renditions)


_RENDITION_KEY = re.compile(r"videos/(\d+)/subtitles/([\w-]+)/index\.m3u8", re.ASCII)


def is_rendition_playlist(key: str) -> bool:
    return _RENDITION_KEY.fullmatch(key) is not None


def rendition_playlist(ctx: Context, key: str, territory: str) -> playlists.Playlist | None:
    """The media playlist of one subtitle rendition (`videos/{id}/subtitles/{folder}/index.m3u8`): one WebVTT
    segment as long as the video, with the cue times mapped onto its ladder; None when `key` names none."""
    found = _RENDITION_KEY.fullmatch(key)
    if found is None:
        return None
    video_id, folder = int(found.group(1)), key.rsplit("/", 1)[0]
    cache = ctx.caches.get(SubtitlesCache)
    with ctx.db.session() as session:
        video = session.get(Video, video_id)
        output_key = video.output_key if video is not None and video.status == VideoStatus.ready else None
    if output_key is None:
        return None
    ladder = cache.ladder(ctx, output_key)
    if ladder is None or not any(track.folder == folder for track in ladder.tracks):
        return None
    cues_key = _hls_cues(ctx, cache, folder, cache.first_pts(ctx.store, output_key))
    if cues_key is None:
        return None
    folder_of_cues, name = cues_key.rsplit("/", 1)
    now_ts, ttl_s = clock.now().timestamp(), ctx.settings.media_url_ttl_s
    url = ctx.store.signed_url(folder_of_cues, name, now_ts, ttl_s, territory)
    return playlists.subtitle_playlist(ladder.duration_s, url)


def _hls_cues(ctx: Context, cache: SubtitlesCache, folder: str, pts: int) -> str | None:
    """The key of the rendition's WebVTT segment for a ladder starting at MPEG-2 timestamp `pts`, written from the
    stored subtitles the first time it is asked for; None when they are gone."""
    key = f"{folder}/hls-{pts}.vtt"
    if cache.written(key) or ctx.store.exists(key):
        cache.mark_written(key)
        return key
    stream = ctx.store.open_stream(f"{folder}/{SUBTITLES_FILE}")
    if stream is None:
        return None
    stored = b"".join(stream.chunks).decode()
    # The stored file is this module's own WebVTT: its header is the one line WEBVTT.
    body = stored.replace("WEBVTT\n", f"WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{pts},LOCAL:00:00:00.000\n", 1)
    scratch = ctx.store.scratch_dir(f"subtitles-{secrets.token_hex(8)}")
    try:
        (scratch / "cues.vtt").write_text(body)
        ctx.store.put_file(scratch / "cues.vtt", key)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    cache.mark_written(key)
    return key


_URI = re.compile(r"^[^#\s][^\n]*$", re.MULTILINE)


def first_pts(store: MediaStore, output_key: str) -> int:
    """The MPEG-2 timestamp (90 kHz) of the ladder's first frame: the earliest presentation time in the first
    segment of its first variant, which players (hls.js: initPTS) take as the film's time 0. 0 if unreadable."""
    try:
        master = _text(store, f"{output_key}/{MASTER_PLAYLIST}")
        variant = f"{output_key}/{_URI.findall(master)[0].strip()}"
        segment = f"{variant.rsplit('/', 1)[0]}/{_URI.findall(_text(store, variant))[0].strip()}"
        stream = store.open_stream(segment)
        if stream is None or stream.total > _MAX_SEGMENT_PROBED:
            raise ValueError(f"no segment {segment}")
        with av.open(io.BytesIO(b"".join(stream.chunks)), mode="r", format="mpegts") as container:
            times = [
                round(packet.pts * packet.time_base * MPEG_TS_HZ)
                for packet in container.demux()
                if packet.pts is not None and packet.time_base is not None
            ]
        return min(times)
    except (ValueError, IndexError, OSError, av.FFmpegError) as exc:
        log.warning(
            "subtitles: the first timestamp of %s could not be read (%s); cues are placed from 0", output_key, exc
        )
        return 0


def _text(store: MediaStore, key: str) -> str:
    stream = store.open_stream(key)
    if stream is None or stream.total > playlists.MAX_PLAYLIST_BYTES:
        raise ValueError(f"no playlist {key}")
    return b"".join(stream.chunks).decode()
