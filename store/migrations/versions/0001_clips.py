"""Athletes, clips, split tags and label sets.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "athletes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "clips",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("sport", sa.String(16), nullable=True),
        sa.Column("athlete_id", sa.Integer(), sa.ForeignKey("athletes.id"), nullable=True),
        sa.Column("dive_code", sa.String(32), nullable=True),
        sa.Column("height_m", sa.Float(), nullable=True),
        sa.Column("fps", sa.Float(), nullable=False),
        sa.Column("video_fps", sa.Float(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("frame_count", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("camera", sa.JSON(), nullable=True),
        sa.Column("sidecar", sa.JSON(), nullable=True),
        sa.Column("work_width", sa.Integer(), nullable=False),
        sa.Column("work_height", sa.Integer(), nullable=False),
        sa.Column("frames_path", sa.String(1024), nullable=False),
        sa.Column("background_method", sa.String(32), nullable=False),
        sa.Column("background_path", sa.String(1024), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_clips_content_hash", "clips", ["content_hash"], unique=True)
    op.create_index("ix_clips_sport", "clips", ["sport"])
    op.create_index("ix_clips_athlete_id", "clips", ["athlete_id"])
    op.create_table(
        "clip_tags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "clip_id", sa.Integer(), sa.ForeignKey("clips.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("tag", sa.String(64), nullable=False),
        sa.UniqueConstraint("clip_id", "tag"),
    )
    op.create_index("ix_clip_tags_clip_id", "clip_tags", ["clip_id"])
    op.create_index("ix_clip_tags_tag", "clip_tags", ["tag"])
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "clip_id", sa.Integer(), sa.ForeignKey("clips.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("skeleton", sa.String(32), nullable=False),
        sa.Column("source_path", sa.String(1024), nullable=False),
        sa.Column("array_path", sa.String(1024), nullable=False),
        sa.Column("frames_3d", sa.Integer(), nullable=False),
        sa.Column("frames_2d", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_labels_clip_id", "labels", ["clip_id"])


def downgrade() -> None:
    op.drop_table("labels")
    op.drop_table("clip_tags")
    op.drop_table("clips")
    op.drop_table("athletes")
