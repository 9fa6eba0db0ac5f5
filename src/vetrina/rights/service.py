"""Licences, and the one question every playback, ad decision and order asks: may this title be shown here,
now, for this use, and under which distributor?

A title with no licences is not rights-managed (a merchant's own clip): it plays everywhere. Once it has
licences, it plays only where one of them is in force for the use: a licence naming the territory, or a
"rest of world" licence, which covers every territory that no other licence of the title names at an
overlapping time (so the China distributor's territory never falls to the rest-of-world one while its
licence runs).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, cast

from sqlalchemy import ColumnElement, Table, delete, exists, or_, select
from sqlalchemy.orm import Session, aliased

from vetrina import clock
from vetrina.accounts.models import Role, User
from vetrina.context import Context, Topic
from vetrina.errors import Conflict, Forbidden, InvalidInput, NotFound, UnavailableHere
from vetrina.i18n import _
from vetrina.media import service as media
from vetrina.media.models import Video
from vetrina.money import BASIS_POINTS
from vetrina.rights.models import USES, Licence, LicenceTerritory
from vetrina.rights.territories import parse
from vetrina.settings import Settings
from vetrina.text import clean_text

MAX_LICENCES_PER_TITLE = 500


@dataclass(frozen=True)
class Terms:
    """What deciding needs of a licence (kept in the per-process cache)."""

    id: int
    distributor: str
    territories: frozenset[str]
    rest_of_world: bool
    starts_at: datetime
    ends_at: datetime
    uses: frozenset[str]
    share_bps: int

    @classmethod
    def of(cls, licence: Licence) -> Terms:
        return cls(
            licence.id,
            licence.distributor,
            frozenset(licence.territories),
            licence.rest_of_world,
            licence.starts_at,
            licence.ends_at,
            frozenset(licence.uses),
            licence.share_bps,
        )

    def overlaps(self, other: Terms) -> bool:
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at


@dataclass(frozen=True)
class Grant:
    """The answer: allowed or not, and under which licence (None for a title that is not rights-managed)."""

    allowed: bool
    licence: Terms | None = None
    managed: bool = False

    @property
    def distributor(self) -> str | None:
        return self.licence.distributor if self.licence else None


def covering(terms: list[Terms], territory: str, when: datetime) -> list[Terms]:
    """The licences in force at `when` that cover `territory` (whatever their uses)."""
    out = []
    for licence in terms:
        if not licence.starts_at <= when < licence.ends_at:
            continue
        if licence.rest_of_world:
            named_elsewhere = any(
                territory in other.territories and other.overlaps(licence) for other in terms if other is not licence
            )
            if not named_elsewhere:
                out.append(licence)
        elif territory in licence.territories:
            out.append(licence)
    return out


def decide(terms: list[Terms], territory: str, use: str, when: datetime) -> Grant:
    if not terms:
        return Grant(allowed=True)
    for licence in covering(terms, territory, when):
        if use in licence.uses:
            return Grant(allowed=True, licence=licence, managed=True)
    return Grant(allowed=False, managed=True)


class RightsCache:
    """Each title's licences, re-read at most every `ttl_s` seconds per process (0: on every question);
    forgotten after a change to them (`Topic.licences`)."""

    topics: ClassVar[frozenset[Topic]] = frozenset({Topic.licences, Topic.video})

    @classmethod
    def from_settings(cls, settings: Settings) -> RightsCache:
        return cls(ttl_s=settings.rights_cache_s)

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._terms: dict[int, tuple[float, list[Terms]]] = {}

    def forget(self, video_id: int | None) -> None:
        with self._lock:
            if video_id is None:
                self._terms.clear()
            else:
                self._terms.pop(video_id, None)

    def remembered(self, video_id: int) -> list[Terms] | None:
        """The title's licences if this process read them within `ttl_s`; None otherwise (nothing is read)."""
        with self._lock:
            hit = self._terms.get(video_id)
        return hit[1] if hit is not None and time.monotonic() - hit[0] < self.ttl_s else None

    def terms(self, session: Session, video_id: int) -> list[Terms]:
        now = time.monotonic()
        with self._lock:
            hit = self._terms.get(video_id)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        terms = [Terms.of(lic) for lic in session.scalars(select(Licence).where(Licence.video_id == video_id))]
        with self._lock:
            if len(self._terms) > 50_000:
                self._terms.clear()
            self._terms[video_id] = (now, terms)
        return terms


def check(
    ctx: Context,
    session: Session,
    video_id: int,
    territory: str,
    use: str,
    viewer: User | None = None,
    when: datetime | None = None,
) -> Grant:
    """May the video be used for `use` in `territory` now? Its owner (and admins) may always use their own."""
    grant = decide(ctx.caches.get(RightsCache).terms(session, video_id), territory, use, when or clock.now())
    if not grant.allowed and viewer is not None:
        owner = session.scalar(select(Video.owner_id).where(Video.id == video_id))
        if viewer.id == owner or viewer.role == Role.admin:
            return Grant(allowed=True, managed=True)
    return grant


def plays_anywhere(ctx: Context, video_id: int) -> bool:
    """Whether the title is licensed nowhere in particular (it has no licences), so may play in every territory."""
    with ctx.db.session() as session:
        return not ctx.caches.get(RightsCache).terms(session, video_id)


def require(
    ctx: Context, session: Session, video_id: int, territory: str, use: str, viewer: User | None = None
) -> Grant:
    """`check`, raising the 451 problem when the answer is no."""
    grant = check(ctx, session, video_id, territory, use, viewer)
    if not grant.allowed:
        # A whole sentence for each use: word order differs between languages.
        refusals = {
            "stream": _("This title may not be shown in your territory ({territory}).", territory=territory),
            "ads": _("This title may not be shown with ads in your territory ({territory}).", territory=territory),
            "commerce": _("This title may not be sold from in your territory ({territory}).", territory=territory),
        }
        raise UnavailableHere(refusals[use], territory=territory)
    return grant


def playable(ctx: Context, session: Session, video_id: int, viewer: User | None, territory: str) -> tuple[Video, Grant]:
    """A video the viewer may see (`media.get_video`) that may be streamed in `territory` now; 451 if not."""
    video = media.get_video(session, video_id, viewer)
    return video, require(ctx, session, video.id, territory, "stream", viewer)


def listable(territory: str, when: datetime) -> ColumnElement[bool]:
    """A condition on `Video` (for list queries): not rights-managed, or licensed to stream in `territory` now."""
    named, row, other, other_named = (aliased(Licence), aliased(Licence), aliased(Licence), aliased(LicenceTerritory))
    in_force = [named.starts_at <= when, named.ends_at > when, named.for_stream.is_(True)]
    by_name = exists().where(
        LicenceTerritory.video_id == Video.id,
        LicenceTerritory.territory == territory,
        LicenceTerritory.licence_id == named.id,
        *in_force,
    )
    by_rest = exists().where(
        row.video_id == Video.id,
        row.rest_of_world.is_(True),
        row.starts_at <= when,
        row.ends_at > when,
        row.for_stream.is_(True),
        ~exists().where(
            # row.video_id, not Video.id: two levels down, Video would not be correlated but joined anew.
            other_named.video_id == row.video_id,
            other_named.territory == territory,
            other_named.licence_id == other.id,
            other.starts_at < row.ends_at,
            row.starts_at < other.ends_at,
        ),
    )
    return or_(~exists().where(Licence.video_id == Video.id), by_name, by_rest)


def _window(starts_at: datetime, ends_at: datetime) -> None:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInput(_("Give times with a time zone (e.g. 2027-01-01T00:00:00Z)."), field="starts_at")
    if ends_at <= starts_at:
        raise InvalidInput(_("A licence ends after it starts."), field="ends_at")


def create_licence(
    ctx: Context,
    session: Session,
    user: User,
    video_id: int,
    *,
    distributor: str,
    territories: list[str],
    starts_at: datetime,
    ends_at: datetime,
    uses: list[str],
    share_bps: int = 0,
    from_feed: bool = False,
) -> Licence:
    """A new licence for a title its owner (or an admin) holds; 409 naming the licence it would overlap."""
    video = media.video_for_change(session, video_id, user)
    distributor = clean_text(distributor, "distributor", 120, required=True, label=_("distributor"))
    codes, rest_of_world = parse(territories)
    _window(starts_at, ends_at)
    if not uses or any(use not in USES for use in uses):
        raise InvalidInput(_("Uses are some of {uses}.", uses=", ".join(USES)), field="uses")
    if not 0 <= share_bps <= BASIS_POINTS:
        raise InvalidInput(_("A share is 0 to 10,000 basis points."), field="share_bps")
    # Serialise licences of one title (PostgreSQL row lock; SQLite's write transaction already is one).
    session.execute(select(Video.id).where(Video.id == video.id).with_for_update())
    existing = list(session.scalars(select(Licence).where(Licence.video_id == video.id)))
    if len(existing) >= MAX_LICENCES_PER_TITLE:
        raise InvalidInput(_("A title has at most {max} licences.", max=MAX_LICENCES_PER_TITLE), field="video_id")
    for other in existing:
        if not (other.starts_at < ends_at and starts_at < other.ends_at):
            continue
        clash = sorted(codes & set(other.territories))
        if clash or (rest_of_world and other.rest_of_world):
            raise Conflict(
                _overlap(other, clash),
                licence_id=other.id,
                distributor=other.distributor,
                territories=clash or ["rest of world"],
            )
    licence = Licence(
        video_id=video.id,
        distributor=distributor,
        territories=sorted(codes),
        rest_of_world=rest_of_world,
        named_as=[t.strip() for t in territories],
        starts_at=starts_at,
        ends_at=ends_at,
        for_stream="stream" in uses,
        for_ads="ads" in uses,
        for_commerce="commerce" in uses,
        share_bps=share_bps,
        from_feed=from_feed,
        created_by=user.id,
        created_at=clock.now(),
    )
    session.add(licence)
    session.flush()
    session.add_all(LicenceTerritory(licence_id=licence.id, territory=code, video_id=video.id) for code in codes)
    ctx.caches.forget_after_commit(session, Topic.licences, video.id)
    return licence


def _overlap(other: Licence, clash: list[str]) -> str:
    """Why a new licence may not be: it overlaps `other` in the territories both name, or in the rest of the world."""
    window = {
        "licence_id": other.id,
        "distributor": other.distributor,
        "starts": f"{other.starts_at:%Y-%m-%d}",
        "ends": f"{other.ends_at:%Y-%m-%d}",
    }
    if clash:
        return _(
            "Overlaps licence {licence_id} to {distributor} ({starts} to {ends}) in {territories}.",
            territories=", ".join(clash),
            **window,
        )
    return _("Overlaps licence {licence_id} to {distributor} ({starts} to {ends}) in the rest of the world.", **window)


def get_licence(session: Session, licence_id: int, user: User) -> Licence:
    """A licence of a title `user` manages; 404 otherwise (others' licences are not disclosed)."""
    licence = session.get(Licence, licence_id)
    if licence is None:
        raise NotFound(_("There is no licence {licence_id}.", licence_id=licence_id))
    try:
        media.video_for_change(session, licence.video_id, user)
    except (NotFound, Forbidden):  # not theirs: the same answer as not there
        raise NotFound(_("There is no licence {licence_id}.", licence_id=licence_id)) from None
    return licence


def list_licences(session: Session, user: User, video_id: int | None = None) -> list[Licence]:
    query = select(Licence).join(Video, Video.id == Licence.video_id).order_by(Licence.video_id, Licence.starts_at)
    if user.role != Role.admin:
        query = query.where(Video.owner_id == user.id)
    if video_id is not None:
        query = query.where(Licence.video_id == video_id)
    return list(session.scalars(query.limit(2000)))


def delete_licence(ctx: Context, session: Session, licence_id: int, user: User) -> int:
    """Remove a licence; returns its title's id."""
    licence = get_licence(session, licence_id, user)
    session.execute(cast(Table, LicenceTerritory.__table__).delete().where(LicenceTerritory.licence_id == licence.id))
    session.delete(licence)
    ctx.caches.forget_after_commit(session, Topic.licences, licence.video_id)
    return licence.video_id


def delete_feed_licences(ctx: Context, session: Session, video_id: int) -> None:
    """Remove the licences a partner feed's media:restriction made for a title (a changed restriction makes
    new ones); licences made by hand stay."""
    from_feed = select(Licence.id).where(Licence.video_id == video_id, Licence.from_feed.is_(True))
    session.execute(delete(LicenceTerritory).where(LicenceTerritory.licence_id.in_(from_feed)))
    session.execute(delete(Licence).where(Licence.video_id == video_id, Licence.from_feed.is_(True)))
    ctx.caches.forget_after_commit(session, Topic.licences, video_id)
