"""Engine set-up, SQLite concurrency settings and schema migrations on open.

SQLite (the default, a file in the home) and PostgreSQL (``postgresql+psycopg://``, the
``postgres`` extra) are tested. On SQLite one migrator at a time is ensured by BEGIN
IMMEDIATE, on PostgreSQL by a transaction-scoped advisory lock.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The newest migration (tests/test_store.py checks it is Alembic's head). A catalogue at
# it opens without importing Alembic, which is most of `tempose clips list`'s start-up.
HEAD = "0004"
BUSY_TIMEOUT_MS = 60_000
CONNECT_TIMEOUT_S = 10
# Key of the PostgreSQL advisory lock held while the schema is checked and migrated
# (any constant bigint; this is b"tempose\0" read as an integer).
MIGRATION_LOCK_KEY = 0x74656D706F736500


class CatalogueError(Exception):
    """The catalogue cannot be opened as it is (unknown or newer schema, not ours)."""


def _alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def make_engine(url: str) -> Engine:
    """An engine; for SQLite: WAL, a busy timeout and BEGIN IMMEDIATE transactions.

    pysqlite's own transaction handling begins lazily and upgrades read locks to write
    locks mid-transaction, which fails at once with "database is locked" when another
    process writes. Taking the write lock at BEGIN (and waiting up to the busy timeout
    for it) serialises tempose processes instead of failing them.

    A URL that does not parse, or whose driver is not installed, raises CatalogueError.
    """
    try:
        u = make_url(url)
    except ArgumentError:
        raise CatalogueError(f"{url}: not a database URL (e.g. sqlite:///catalogue.sqlite, "
                             "postgresql+psycopg://user@host/dbname)") from None
    if u.get_backend_name() != "sqlite":
        connect_args = {}
        if u.get_backend_name() == "postgresql" and "connect_timeout" not in u.query:
            connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
        try:
            return create_engine(url, connect_args=connect_args)
        except (ImportError, NoSuchModuleError) as e:
            hint = (" (install the extra: pip install 'tempose[postgres]')"
                    if u.get_backend_name() == "postgresql" else "")
            raise CatalogueError(f"{_where(url)}: database driver not available: "
                                 f"{_one_line(e)}{hint}") from None
    if u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        _set_wal(cur)
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _set_wal(cur) -> None:  # noqa: ANN001
    """PRAGMA journal_mode=WAL, retried while another process holds the lock: switching
    the journal mode does not wait on the busy timeout, so two processes opening a new
    catalogue together failed at once with "database is locked" (27 of 40 tries)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.01
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(2 * delay, 0.5)


def open_catalogue(url: str, *, upgrade: bool = True) -> Engine:
    """Open (and create or upgrade) the catalogue at ``url``.

    A catalogue at an older schema revision is upgraded in one transaction (SQLite
    files are first copied to ``<file>.bak-<revision>``); one written by a newer
    tempose, or a database with foreign tables and no revision, is refused. A server
    that cannot be reached, or a database that does not exist, raises CatalogueError;
    no database is ever created on a server.
    """
    engine = make_engine(url)
    try:
        if not _at_head(engine):
            _check_and_migrate(engine, url, upgrade)
    except DBAPIError as e:
        engine.dispose()
        raise CatalogueError(f"{_where(url)}: cannot open the catalogue: "
                             f"{_one_line(e.orig)}") from None
    except BaseException:
        engine.dispose()
        raise
    return engine


def _at_head(engine: Engine) -> bool:
    """The catalogue records exactly the newest revision (read without Alembic)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        return conn.execute(text("select version_num from alembic_version")).scalars().all() \
            == [HEAD]


def _check_and_migrate(engine: Engine, url: str, upgrade: bool) -> None:
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = _alembic_config(url)
    script = ScriptDirectory.from_config(cfg)
    head = script.get_current_head()
    with engine.begin() as conn:  # one migrator at a time
        _lock_for_migration(conn)
        current = MigrationContext.configure(conn).get_current_heads()
        if current == (head,):
            return
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


def _lock_for_migration(conn: Connection) -> None:
    """SQLite: BEGIN IMMEDIATE already holds the write lock. PostgreSQL: an advisory
    lock, released at commit or rollback, so that two processes opening an empty
    database together do not both create the tables."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")


def backend_description(engine: Engine) -> str:
    """E.g. ``PostgreSQL 15.8 (psycopg 3.2.1)`` or ``SQLite 3.40.1``, for ``doctor``."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            version = conn.exec_driver_sql("SHOW server_version").scalar()
            name = "PostgreSQL"
        elif conn.dialect.name == "sqlite":
            version = conn.exec_driver_sql("SELECT sqlite_version()").scalar()
            name = "SQLite"
        else:
            info = conn.dialect.server_version_info or ()
            version, name = ".".join(map(str, info)) or "?", conn.dialect.name
    driver = engine.dialect.driver
    module = getattr(engine.dialect, "dbapi", None)
    driver_version = getattr(module, "__version__", None)
    suffix = f" ({driver} {driver_version})" if driver_version and name != "SQLite" else ""
    return f"{name} {str(version).split()[0]}{suffix}"


def _one_line(e: BaseException | None) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def safe_url(url: str) -> str:
    """The URL with its password masked (``***``), to print."""
    return make_url(url).render_as_string(hide_password=True)


def _where(url: str) -> str:
    u = make_url(url)
    return u.database if u.get_backend_name() == "sqlite" and u.database else safe_url(url)


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
