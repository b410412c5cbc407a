"""Queries on the catalogue. Every function takes a Session; none commits."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from store.schema import Athlete, Clip, ClipTag, Evaluation, LabelSet, Run


def get_or_create_athlete(session: Session, name: str) -> Athlete:
    """The athlete called ``name``, created if new.

    On PostgreSQL two transactions may both find no row and both insert it: the second
    insert waits for the first to commit and then violates the unique name. The insert
    runs in a savepoint, so that case rolls back only the savepoint and reads the row
    the other transaction committed; the caller's transaction goes on.
    """
    athlete = session.scalar(select(Athlete).where(Athlete.name == name))
    if athlete is not None:
        return athlete
    try:
        with session.begin_nested():
            athlete = Athlete(name=name)
            session.add(athlete)
    except IntegrityError:
        athlete = session.scalar(select(Athlete).where(Athlete.name == name))
        if athlete is None:
            raise
    return athlete


def clip_by_hash(session: Session, content_hash: str) -> Clip | None:
    return session.scalar(select(Clip).where(Clip.content_hash == content_hash))


def get_clip(session: Session, clip_id: int) -> Clip | None:
    return session.scalar(
        select(Clip)
        .where(Clip.id == clip_id)
        .options(selectinload(Clip.tags), selectinload(Clip.labels), selectinload(Clip.athlete))
    )


def list_clips(
    session: Session,
    *,
    sport: str | None = None,
    athlete: str | None = None,
    split: str | None = None,
) -> Sequence[Clip]:
    q = (
        select(Clip)
        .options(selectinload(Clip.tags), selectinload(Clip.labels), selectinload(Clip.athlete))
        .order_by(Clip.id)
    )
    if sport:
        q = q.where(Clip.sport == sport)
    if athlete:
        q = q.join(Clip.athlete).where(Athlete.name == athlete)
    if split:
        q = q.where(Clip.tags.any(ClipTag.tag == split))
    return session.scalars(q).all()


def list_runs(session: Session, kind: str | None = None) -> Sequence[Run]:
    """Runs in id order, optionally of one kind (train | fit)."""
    q = select(Run).order_by(Run.id)
    if kind:
        q = q.where(Run.kind == kind)
    return session.scalars(q).all()


def label_paths(session: Session, sport: str | None = None) -> list[str]:
    """Stored label arrays (workspace-relative), by clip id, optionally of one sport."""
    q = select(LabelSet.array_path).join(Clip, LabelSet.clip_id == Clip.id).order_by(
        LabelSet.clip_id)
    if sport:
        q = q.where(Clip.sport == sport)
    return list(session.scalars(q))


def evaluation_of(session: Session, run_id: int) -> Evaluation | None:
    """A fit's Evaluation (its test metrics), if it has one."""
    return session.scalar(select(Evaluation).where(Evaluation.run_id == run_id))
