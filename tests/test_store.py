import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from store.catalogue import get_or_create_athlete, list_clips
from store.db import (
    CatalogueError,
    _alembic_config,
    head_revision,
    make_engine,
    open_catalogue,
    session_factory,
)
from store.schema import Athlete, Base, Clip, ClipTag, Export, Run


def url(tmp_path: Path, name: str = "cat.sqlite") -> str:
    return f"sqlite:///{tmp_path / name}"


def test_fresh_catalogue_is_at_head_and_matches_models(tmp_path: Path) -> None:
    engine = open_catalogue(url(tmp_path))
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        assert ctx.get_current_heads() == (head_revision(),)
        # The migrations build exactly the schema the ORM models describe.
        assert compare_metadata(ctx, Base.metadata) == []


def test_sqlite_is_wal_with_busy_timeout(tmp_path: Path) -> None:
    engine = open_catalogue(url(tmp_path))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def catalogue_at(u: str, revision: str) -> str:
    engine = make_engine(u)
    cfg = _alembic_config(u)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()
    return u


def check_upgrade_from_0001(u: str) -> None:
    """A catalogue at 0001 with an athlete, opened: at head, the athlete kept."""
    catalogue_at(u, "0001")
    engine = make_engine(u)
    with session_factory(engine).begin() as s:
        get_or_create_athlete(s, "A01")
    assert "runs" not in inspect(engine).get_table_names()
    engine.dispose()

    engine = open_catalogue(u)
    assert "runs" in inspect(engine).get_table_names()
    with session_factory(engine).begin() as s:
        assert s.scalar(select(Athlete.name)) == "A01"  # data survives the upgrade
        s.add(Run(kind="train", directory="runs/1"))
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_heads() == (head_revision(),)
    engine.dispose()


def test_older_catalogue_is_upgraded_with_backup(tmp_path: Path) -> None:
    check_upgrade_from_0001(url(tmp_path))
    backup = tmp_path / "cat.sqlite.bak-0001"
    assert backup.exists()
    with sqlite3.connect(backup) as b:
        assert b.execute("select version_num from alembic_version").fetchone() == ("0001",)


def test_newer_catalogue_is_refused(tmp_path: Path) -> None:
    u = url(tmp_path)
    open_catalogue(u).dispose()
    with sqlite3.connect(tmp_path / "cat.sqlite") as c:
        c.execute("update alembic_version set version_num = '9999'")
    with pytest.raises(CatalogueError, match="9999 is newer than this tempose"):
        open_catalogue(u)


def test_foreign_database_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "cat.sqlite"
    with sqlite3.connect(db) as c:
        c.execute("create table stuff (x int)")
    before = db.read_bytes()
    with pytest.raises(CatalogueError, match="not a tempose catalogue"):
        open_catalogue(url(tmp_path))
    with sqlite3.connect(db) as c:
        assert [r[0] for r in c.execute("select name from sqlite_master")] == ["stuff"]
    assert len(before) > 0


def test_list_filters(tmp_path: Path) -> None:
    check_list_filters(url(tmp_path))


def check_list_filters(u: str) -> None:
    engine = open_catalogue(u)
    with session_factory(engine).begin() as s:
        for i, (sport, ath, tag) in enumerate([("dive", "A", "train"), ("ski", "B", "test"),
                                               ("dive", "B", "test")]):
            s.add(Clip(path=f"/c{i}.mp4", content_hash=f"{i:064d}", sport=sport,
                       athlete=get_or_create_athlete(s, ath), fps=25, video_fps=25, width=8,
                       height=8, frame_count=1, duration_s=0.04, work_width=8, work_height=8,
                       frames_path="f", background_method="median", background_path="b",
                       tags=[ClipTag(tag=tag)]))
    with session_factory(engine).begin() as s:
        assert [c.path for c in list_clips(s, sport="dive")] == ["/c0.mp4", "/c2.mp4"]
        assert [c.path for c in list_clips(s, athlete="B")] == ["/c1.mp4", "/c2.mp4"]
        assert [c.path for c in list_clips(s, split="test", sport="dive")] == ["/c2.mp4"]
    engine.dispose()


WRITER = """
import sys
from store.db import open_catalogue, session_factory
from store.catalogue import get_or_create_athlete
engine = open_catalogue(sys.argv[1])
for i in range(40):
    with session_factory(engine).begin() as s:
        get_or_create_athlete(s, f"{sys.argv[2]}-{i}")
        get_or_create_athlete(s, "shared")
"""


def test_concurrent_writers_do_not_fail(tmp_path: Path) -> None:
    """Two processes creating and writing one catalogue at once: no 'database is locked'."""
    u = url(tmp_path)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, u, name],
                              stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    engine = open_catalogue(u)
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from athletes")).scalar() == 81


def test_0003_adds_the_run_heartbeat_and_keeps_runs(tmp_path: Path) -> None:
    u = catalogue_at(url(tmp_path), "0002")
    engine = make_engine(u)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "insert into runs (kind, config, directory, status, step, created_at) "
            "values ('train', '{}', 'runs/1', 'running', 3, '2026-12-01 00:00:00')")
    assert "pid" not in {c["name"] for c in inspect(engine).get_columns("runs")}
    engine.dispose()

    engine = open_catalogue(u)
    columns = {c["name"] for c in inspect(engine).get_columns("runs")}
    assert {"pid", "host", "heartbeat_at"} <= columns
    with session_factory(engine).begin() as s:
        run = s.scalar(select(Run))
        assert (run.status, run.step, run.pid, run.heartbeat_at) == ("running", 3, None, None)
    assert (tmp_path / "cat.sqlite.bak-0002").exists()


def check_0004_drops_clip_status(u: str) -> None:
    """A catalogue at 0003 with a clip, its tag, labels and an export, opened: the clip
    has no status and keeps all of them; the schema is the models'."""
    catalogue_at(u, "0003")
    engine = make_engine(u)
    now = datetime(2026, 12, 1)
    with engine.begin() as conn:
        conn.execute(text("insert into athletes (id, name, created_at) values (1, 'A01', :t)"),
                     {"t": now})
        conn.execute(text(
            "insert into clips (id, path, content_hash, sport, athlete_id, fps, video_fps, "
            "width, height, frame_count, duration_s, work_width, work_height, frames_path, "
            "background_method, background_path, status, created_at) values (7, 'a.mp4', "
            "'h7', 'dive', 1, 25, 25, 64, 48, 10, 0.4, 64, 48, 'f.npy', 'median', 'b.npy', "
            "'ready', :t)"), {"t": now})
        conn.execute(text("insert into clip_tags (clip_id, tag) values (7, 'test')"))
        conn.execute(text(
            "insert into labels (clip_id, kind, skeleton, source_path, array_path, "
            "frames_3d, frames_2d, created_at) values (7, '3d', 'dive14', 'a.csv', "
            "'l.npz', 10, 0, :t)"), {"t": now})
        conn.execute(text("insert into exports (clip_id, kind, path, created_at) "
                          "values (7, 'csv', 'exports/a.csv', :t)"), {"t": now})
    assert "status" in {c["name"] for c in inspect(engine).get_columns("clips")}
    engine.dispose()

    engine = open_catalogue(u)
    assert "status" not in {c["name"] for c in inspect(engine).get_columns("clips")}
    with session_factory(engine).begin() as s:
        clip = s.get(Clip, 7)
        assert (clip.path, clip.athlete.name, clip.split_tags) == ("a.mp4", "A01", ["test"])
        assert [lb.frames_3d for lb in clip.labels] == [10]
        assert s.scalar(select(Export.clip_id)) == 7
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        assert ctx.get_current_heads() == (head_revision(),)
        assert compare_metadata(ctx, Base.metadata) == []
        assert {i["name"] for i in inspect(conn).get_indexes("clips")} >= {
            "ix_clips_content_hash", "ix_clips_sport", "ix_clips_athlete_id"}
    engine.dispose()


@pytest.mark.parametrize("sqlite_version", [None, (3, 34, 1)], ids=["in-place", "copy"])
def test_0004_drops_the_clip_status_and_keeps_clips(tmp_path: Path, monkeypatch,
                                                     sqlite_version) -> None:
    """SQLite from 3.35 drops the column in place; an older one copies the table (the
    migration keeps the rows its DROP TABLE would cascade into)."""
    if sqlite_version is not None:
        monkeypatch.setattr(sqlite3, "sqlite_version_info", sqlite_version)
    elif sqlite3.sqlite_version_info < (3, 35, 0):
        pytest.skip(f"SQLite {sqlite3.sqlite_version} has no DROP COLUMN")
    check_0004_drops_clip_status(url(tmp_path))
    assert (tmp_path / "cat.sqlite.bak-0003").exists()
    engine = make_engine(url(tmp_path))
    cfg = _alembic_config(url(tmp_path))
    with engine.begin() as conn:  # and back: the column returns, "ready"
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    engine.dispose()
    with sqlite3.connect(tmp_path / "cat.sqlite") as c:
        assert c.execute("select status from clips").fetchall() == [("ready",)]


def test_head_constant_is_alembics_head() -> None:
    """store.db.HEAD lets an up-to-date catalogue open without importing Alembic."""
    from store.db import HEAD

    assert HEAD == head_revision()


def _open_after(barrier, url: str) -> None:  # noqa: ANN001
    barrier.wait()
    open_catalogue(url).dispose()  # an error exits the process with code 1


def test_two_processes_creating_one_catalogue_both_open_it(tmp_path) -> None:
    """Switching a new file to WAL does not wait on the busy timeout: before the retry,
    one of two processes opening a new catalogue together failed 27 times in 40."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")  # both start at once, from the barrier
    for i in range(10):
        barrier = ctx.Barrier(2)
        url = f"sqlite:///{tmp_path / f'c{i}.sqlite'}"
        procs = [ctx.Process(target=_open_after, args=(barrier, url))
                 for _ in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
        assert [p.exitcode for p in procs] == [0, 0], f"try {i}"
