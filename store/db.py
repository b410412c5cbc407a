"""Engine set-up, SQLite concurrency settings and schema migrations on open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 60_000


class CatalogueError(Exception):
    """The catalogue cannot be opened as it is (unknown or newer schema, not ours)."""


def _alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def make_engine(url: str) -> Engine:
    """An engine; for SQLite: WAL, a busy timeout and BEGIN IMMEDIATE transactions.

    pysqlite's own transaction handling begins lazily and upgrades read locks to write
    locks mid-transaction, which fails at once with "database is locked" when another
    process writes. Taking the write lock at BEGIN (and waiting up to the busy timeout
    for it) serialises tempose processes instead of failing them.
    """
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return create_engine(url)
    if u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def open_catalogue(url: str, *, upgrade: bool = True) -> Engine:
    """Open (and create or upgrade) the catalogue at ``url``.

    A catalogue at an older schema revision is upgraded in one transaction (SQLite
    files are first copied to ``<file>.bak-<revision>``); one written by a newer
    tempose, or a database with foreign tables and no revision, is refused.
    """
    engine = make_engine(url)
    cfg = _alembic_config(url)
    script = ScriptDirectory.from_config(cfg)
    head = script.get_current_head()
    with engine.begin() as conn:  # one migrator at a time (BEGIN IMMEDIATE on SQLite)
        current = MigrationContext.configure(conn).get_current_heads()
        if current == (head,):
            return engine
        known = {rev.revision for rev in script.walk_revisions()}
        unknown = [rev for rev in current if rev not in known]
        if unknown:
            raise CatalogueError(
                f"{_where(url)}: catalogue schema revision {unknown[0]} is newer than this "
                f"tempose understands (latest known: {head}); upgrade tempose to open it"
            )
        if not current and [t for t in inspect(conn).get_table_names() if t != "alembic_version"]:
            raise CatalogueError(
                f"{_where(url)}: holds tables but no tempose schema revision; "
                "not a tempose catalogue, refusing to touch it"
            )
        if not upgrade:
            raise CatalogueError(
                f"{_where(url)}: catalogue schema revision {current[0] if current else 'none'} "
                f"needs an upgrade to {head}"
            )
        if current:
            _backup_sqlite(url, current[0])
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return engine


def _where(url: str) -> str:
    u = make_url(url)
    return u.database if u.get_backend_name() == "sqlite" and u.database else u.render_as_string()


def _backup_sqlite(url: str, revision: str) -> None:
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        src = Path(u.database)
        if src.exists():
            # The backup API reads a consistent snapshot, WAL content included.
            source = sqlite3.connect(src)
            dest = sqlite3.connect(src.with_name(f"{src.name}.bak-{revision}"))
            try:
                source.backup(dest)
            finally:
                dest.close()
                source.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
