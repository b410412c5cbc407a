"""Catalogue look-ups that every layer shares: a clip by id, with the error that says
where to look."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tempose_cli.core.errors import NotFoundError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from store.schema import Clip


def require_clip(session: Session, clip_id: int) -> Clip:
    """The catalogued clip ``clip_id``, or a NotFoundError that says where to look."""
    from store.schema import Clip

    clip = session.get(Clip, clip_id)
    if clip is None:
        raise NotFoundError(f"no clip with id {clip_id} (see: tempose clips list)")
    return clip
