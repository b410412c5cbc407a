"""Clips lose ``status``: every clip was written "ready" and nothing ever read it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# clip_tags and labels cascade on a clip's delete, exports set their clip_id to NULL.
_CHILDREN = ("clip_tags", "labels")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35, 0):
        _drop_by_copy()
        return
    # PostgreSQL, and SQLite from 3.35: ALTER TABLE ... DROP COLUMN, in place.
    with op.batch_alter_table("clips", recreate="never") as batch:
        batch.drop_column("status")


def _drop_by_copy() -> None:
    """Older SQLite: batch mode's copy-and-move. Its DROP TABLE clips deletes every clip
    first, and with foreign keys on (store.db turns them on, and the pragma cannot change
    inside the migration's transaction) that empties clip_tags and labels and clears
    exports.clip_id: those rows are kept aside and put back."""
    for t in _CHILDREN:
        op.execute(f"CREATE TEMP TABLE _keep_{t} AS SELECT * FROM {t}")
    op.execute("CREATE TEMP TABLE _keep_exports AS SELECT id, clip_id FROM exports "
               "WHERE clip_id IS NOT NULL")
    with op.batch_alter_table("clips", recreate="always") as batch:
        batch.drop_column("status")
    for t in _CHILDREN:  # OR REPLACE: without foreign keys on, nothing was deleted
        op.execute(f"INSERT OR REPLACE INTO {t} SELECT * FROM _keep_{t}")
        op.execute(f"DROP TABLE _keep_{t}")
    op.execute("UPDATE exports SET clip_id = (SELECT k.clip_id FROM _keep_exports k "
               "WHERE k.id = exports.id) WHERE id IN (SELECT id FROM _keep_exports)")
    op.execute("DROP TABLE _keep_exports")


def downgrade() -> None:
    with op.batch_alter_table("clips") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False,
                                   server_default="ready"))
