"""Catalogue tables (SQLAlchemy 2.0 typed ORM).

Every change to these classes needs a migration in ``store/migrations/versions``;
``tests/test_store.py`` checks that the migrated schema equals this one.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Athlete(Base):
    __tablename__ = "athletes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    clips: Mapped[list[Clip]] = relationship(back_populates="athlete")


class Clip(Base):
    """One recording: a dive or a ski run, with its frame cache and background."""

    __tablename__ = "clips"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(1024))
    content_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    sport: Mapped[str | None] = mapped_column(String(16), index=True)
    athlete_id: Mapped[int | None] = mapped_column(ForeignKey("athletes.id"), index=True)
    dive_code: Mapped[str | None] = mapped_column(String(32))
    height_m: Mapped[float | None] = mapped_column(Float)
    # fps: capture rate (sidecar, else the stream's); video_fps: the container's rate.
    fps: Mapped[float] = mapped_column(Float)
    video_fps: Mapped[float] = mapped_column(Float)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    frame_count: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float)
    camera: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    sidecar: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Frame cache (uint8 memmap .npy, (T, H, W, 3) RGB) at the work resolution.
    work_width: Mapped[int] = mapped_column(Integer)
    work_height: Mapped[int] = mapped_column(Integer)
    frames_path: Mapped[str] = mapped_column(String(1024))
    background_method: Mapped[str] = mapped_column(String(32))
    background_path: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    athlete: Mapped[Athlete | None] = relationship(back_populates="clips")
    tags: Mapped[list[ClipTag]] = relationship(
        back_populates="clip", cascade="all, delete-orphan", order_by="ClipTag.tag"
    )
    labels: Mapped[list[LabelSet]] = relationship(
        back_populates="clip", cascade="all, delete-orphan"
    )

    @property
    def split_tags(self) -> list[str]:
        return [t.tag for t in self.tags]


class ClipTag(Base):
    """Split tags of a clip (e.g. ``train``, ``test``, ``val``)."""

    __tablename__ = "clip_tags"
    __table_args__ = (UniqueConstraint("clip_id", "tag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clip_id: Mapped[int] = mapped_column(ForeignKey("clips.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(String(64), index=True)

    clip: Mapped[Clip] = relationship(back_populates="tags")


class LabelSet(Base):
    """Pose labels of one clip; the arrays live in ``labels/<hash>.npz`` in the home."""

    __tablename__ = "labels"

    id: Mapped[int] = mapped_column(primary_key=True)
    clip_id: Mapped[int] = mapped_column(ForeignKey("clips.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # "3d", "2d" or "2d+3d"
    skeleton: Mapped[str] = mapped_column(String(32), default="dive14")
    source_path: Mapped[str] = mapped_column(String(1024))
    array_path: Mapped[str] = mapped_column(String(1024))
    frames_3d: Mapped[int] = mapped_column(Integer, default=0)  # frames with 3D labels
    frames_2d: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    clip: Mapped[Clip] = relationship(back_populates="labels")


class Run(Base):
    """A training, extraction or fitting run and where its files are."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)  # train | fit
    variant: Mapped[str | None] = mapped_column(String(64))
    profile: Mapped[str | None] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    directory: Mapped[str] = mapped_column(String(1024))
    checkpoint_path: Mapped[str | None] = mapped_column(String(1024))
    perceptual_weights: Mapped[str | None] = mapped_column(String(1024))
    status: Mapped[str] = mapped_column(String(16), default="running")
    step: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The process training it (migration 0003): a "running" run whose process is gone
    # is shown as interrupted (tempose_cli.pipeline.runs.effective_status).
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)

    evaluations: Mapped[list[Evaluation]] = relationship(back_populates="run")


class Evaluation(Base):
    """Metrics (mm) of one run on one split and label fraction."""

    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    split: Mapped[str] = mapped_column(String(32))
    fraction: Mapped[float | None] = mapped_column(Float)
    mpjpe: Mapped[float | None] = mapped_column(Float)
    n_mpjpe: Mapped[float | None] = mapped_column(Float)
    p_mpjpe: Mapped[float | None] = mapped_column(Float)
    n_frames: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    run: Mapped[Run] = relationship(back_populates="evaluations")


class Export(Base):
    """A file tempose wrote, and the clip and run it came from."""

    __tablename__ = "exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    clip_id: Mapped[int | None] = mapped_column(ForeignKey("clips.id", ondelete="SET NULL"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))  # csv | trc | json | mp4 | png | features
    path: Mapped[str] = mapped_column(String(1024))
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
