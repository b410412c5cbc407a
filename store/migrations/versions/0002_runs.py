"""Runs, evaluations and exports.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("variant", sa.String(64), nullable=True),
        sa.Column("profile", sa.String(32), nullable=True),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=True),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("directory", sa.String(1024), nullable=False),
        sa.Column("checkpoint_path", sa.String(1024), nullable=True),
        sa.Column("perceptual_weights", sa.String(1024), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_runs_kind", "runs", ["kind"])
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("split", sa.String(32), nullable=False),
        sa.Column("fraction", sa.Float(), nullable=True),
        sa.Column("mpjpe", sa.Float(), nullable=True),
        sa.Column("n_mpjpe", sa.Float(), nullable=True),
        sa.Column("p_mpjpe", sa.Float(), nullable=True),
        sa.Column("n_frames", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_evaluations_run_id", "evaluations", ["run_id"])
    op.create_table(
        "exports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "clip_id", sa.Integer(), sa.ForeignKey("clips.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column(
            "run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("exports")
    op.drop_table("evaluations")
    op.drop_table("runs")
