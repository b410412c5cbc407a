"""The catalogue on a real PostgreSQL server (a throwaway cluster, tests/postgres.py).

Each test gets a fresh empty database on one server started for the session. Without
a server the tests fail under CI and are skipped, saying why, elsewhere (conftest).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text
from typer.testing import CliRunner

from store.db import (
    CatalogueError,
    backend_description,
    head_revision,
    open_catalogue,
    session_factory,
)
from store.schema import Base, Evaluation, Export, Run
from tempose_cli.cli.app import app

from .conftest import add_train_run, moving_square_frames, write_clip
from .test_fit import write_synthetic_features
from .test_store import check_0004_drops_clip_status, check_list_filters, check_upgrade_from_0001

pytestmark = pytest.mark.postgres


def scalar(url: str, sql: str):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def tables(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        return sorted(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_fresh_catalogue_is_at_head_and_matches_models(pg_url: str) -> None:
    engine = open_catalogue(pg_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        assert ctx.get_current_heads() == (head_revision(),)
        assert compare_metadata(ctx, Base.metadata) == []
    assert backend_description(engine).startswith("PostgreSQL ")
    assert "psycopg 3." in backend_description(engine)
    engine.dispose()


def test_older_catalogue_is_upgraded_in_place(pg_url: str) -> None:
    check_upgrade_from_0001(pg_url)
    assert scalar(pg_url, "select count(*) from runs") == 1


def test_0004_drops_the_clip_status_and_keeps_clips(pg_url: str) -> None:
    check_0004_drops_clip_status(pg_url)


def test_newer_catalogue_is_refused(pg_url: str) -> None:
    open_catalogue(pg_url).dispose()
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("update alembic_version set version_num = '9999'"))
    engine.dispose()
    with pytest.raises(CatalogueError, match="9999 is newer than this tempose"):
        open_catalogue(pg_url)


def foreign_database(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("create table stuff (x int)"))
        conn.execute(text("insert into stuff values (7)"))
    engine.dispose()


def test_foreign_database_is_refused_untouched(pg_url: str) -> None:
    foreign_database(pg_url)
    with pytest.raises(CatalogueError, match="not a tempose catalogue"):
        open_catalogue(pg_url)
    assert tables(pg_url) == ["stuff"]
    assert scalar(pg_url, "select x from stuff") == 7


def test_list_filters(pg_url: str) -> None:
    check_list_filters(pg_url)


# Waits for a common start time, so that the processes open the empty database at once.
WRITER = """
import sys, time
from store.db import open_catalogue, session_factory
from store.catalogue import get_or_create_athlete
time.sleep(max(0.0, float(sys.argv[3]) - time.time()))
engine = open_catalogue(sys.argv[1])
for i in range(40):
    with session_factory(engine).begin() as s:
        get_or_create_athlete(s, f"{sys.argv[2]}-{i}")
        get_or_create_athlete(s, f"shared-{i}")  # the processes race to create it
"""


def test_concurrent_writers_on_an_empty_database(pg_url: str) -> None:
    """Four processes create and write one empty database at once: one migrates (the
    advisory lock), the others wait and find it done; each shared name is created once."""
    start = time.time() + 3
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, pg_url, name, str(start)],
                              stderr=subprocess.PIPE, text=True) for name in "abcd"]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errs
    assert scalar(pg_url, "select count(*) from athletes") == 4 * 40 + 40
    assert scalar(pg_url, "select count(*) from alembic_version") == 1


# --- the command line -------------------------------------------------------------------


def tempose(home: Path, db: str, *args: str, json_out: bool = True):
    pre = ["--home", str(home), "--db", db] + (["--json"] if json_out else [])
    return CliRunner(env={"COLUMNS": "200"}).invoke(app, pre + [str(a) for a in args])


def ok(home: Path, db: str, *args) -> dict | list:
    res = tempose(home, db, *args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _ingest(home: Path, db: str, folder: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tempose_cli", "--home", str(home), "--db", db, "--json",
         "ingest", str(folder), "--work-size", "64"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_cli_round_trip(pg_url: str, tmp_path: Path, one_thread) -> None:
    """Two concurrent ingests into one empty PostgreSQL catalogue, list, a (synthetic
    features) training run, fit, evaluate with an export, runs list, doctor."""
    from tempose_cli.synth.generate import SynthConfig, generate

    generate(SynthConfig(out_dir=tmp_path / "clips", athletes=3, clips=2, fps=20.0,
                         size=(64, 64), seed=3, heights=(5.0, 7.5)))
    # A copy of one video under another name: the same content hash, one clip.
    first = sorted((tmp_path / "clips").rglob("*.mp4"))[0]
    (tmp_path / "clips" / "zz-copy-of-first.mp4").write_bytes(first.read_bytes())
    home = tmp_path / "home"
    procs = [_ingest(home, pg_url, tmp_path / "clips") for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    statuses = [f["status"] for o in outs for f in json.loads(o[0])["files"]]
    assert statuses.count("ingested") == 6 and statuses.count("catalogued") == 8
    assert scalar(pg_url, "select count(*) from clips") == 6  # each content once
    assert scalar(pg_url, "select count(distinct content_hash) from clips") == 6
    assert not (home / "catalogue.sqlite").exists()

    clips = ok(home, pg_url, "clips", "list")
    assert len(clips) == 6 and all(c["labels"] for c in clips)
    assert len(ok(home, pg_url, "clips", "list", "--athlete", clips[0]["athlete"])) == 2

    train_id, train_dir = add_train_run(home, "0001-synthetic", pg_url)
    write_synthetic_features(home, train_dir, pg_url)
    fit = ok(home, pg_url, "fit", "--run", train_id, "--split", "dive", "--steps", "20",
             "--hidden", "64", "--device", "cpu")
    out = tmp_path / "pred.csv"
    ok(home, pg_url, "evaluate", fit["fit"], "--export-predictions", out, "--device", "cpu")
    assert out.exists()
    runs = ok(home, pg_url, "runs", "list")
    assert sorted(r["kind"] for r in runs) == ["fit", "train"]

    engine = open_catalogue(pg_url)
    with session_factory(engine).begin() as s:
        assert s.get(Run, fit["fit"]).parent_id == train_id
        assert s.scalar(select(Evaluation.split).where(Evaluation.run_id == fit["fit"])) == "dive"
        export = s.scalars(select(Export)).one()
        assert export.kind == "csv" and export.run_id == fit["fit"]
    engine.dispose()

    doctor = tempose(home, pg_url, "doctor")
    catalogue = json.loads(doctor.stdout)["catalogue"]
    assert "PostgreSQL" in catalogue and "psycopg" in catalogue, catalogue


def _free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _assert_one_line_error(res, *words: str) -> None:
    assert res.exit_code != 0
    err = res.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert "Traceback" not in res.output
    for w in words:
        assert w in err, err


def test_bad_database_urls_are_one_line_errors(pg_cluster, tmp_path: Path) -> None:
    home = tmp_path / "home"
    missing = pg_cluster.url("no_such_db")
    res = tempose(home, missing, "clips", "list", json_out=False)
    _assert_one_line_error(res, "cannot open the catalogue", 'database "no_such_db" does not exist')
    assert scalar(pg_cluster.url("postgres"),
                  "select count(*) from pg_database where datname = 'no_such_db'") == 0

    refused = f"postgresql+psycopg://postgres@127.0.0.1:{_free_tcp_port()}/tempose"
    res = tempose(home, refused, "ingest", tmp_path, json_out=False)
    _assert_one_line_error(res, "cannot open the catalogue", "refused")

    foreign = pg_cluster.new_database("foreign")
    foreign_database(foreign)
    write_clip(tmp_path / "clips" / "a.mp4", frames=moving_square_frames(n=8))
    res = tempose(home, foreign, "ingest", tmp_path / "clips", json_out=False)
    _assert_one_line_error(res, "not a tempose catalogue", "refusing to touch it")
    assert tables(foreign) == ["stuff"] and scalar(foreign, "select x from stuff") == 7

    assert not home.exists()  # nothing created in the workspace either


def test_password_is_not_printed(pg_cluster, tmp_path: Path) -> None:
    url = pg_cluster.url("no_such_db").replace("postgres@", "postgres:s3cret@")
    res = tempose(tmp_path / "home", url, "clips", "list", json_out=False)
    assert res.exit_code != 0 and "s3cret" not in res.output

