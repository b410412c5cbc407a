"""A throwaway PostgreSQL cluster for the tests: initdb + pg_ctl on a private Unix socket.

The cluster lives in a fresh folder under the system temp dir (data, socket and log);
nothing listens on TCP. The server refuses to run as root, so as root every server
command runs as the ``postgres`` user (Debian's ``postgresql`` package creates it) and
the folder belongs to that user. Authentication is ``trust`` on the socket only.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

INSTALL_HINT = ("install the server (Debian: apt-get install -y postgresql; .ci/run does it) "
                "and the extra (pip install -e '.[postgres]')")


class ServerUnavailable(RuntimeError):
    """PostgreSQL cannot be started here; the message says why and what to install."""


def find_bindir() -> Path:
    """The folder with ``initdb`` and ``pg_ctl``: $PG_BINDIR, Debian's newest
    /usr/lib/postgresql/<version>/bin, or the PATH."""
    candidates = [os.environ.get("PG_BINDIR", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                         key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit()
                         else 0, reverse=True)
    on_path = shutil.which("initdb")
    candidates += [str(Path(on_path).parent)] if on_path else []
    for c in filter(None, candidates):
        if (Path(c) / "initdb").is_file() and (Path(c) / "pg_ctl").is_file():
            return Path(c)
    raise ServerUnavailable(f"no initdb/pg_ctl found (PG_BINDIR, /usr/lib/postgresql/*/bin, "
                            f"PATH); {INSTALL_HINT}")


@dataclass
class PostgresCluster:
    bindir: Path
    root: Path  # data/, the socket and server.log
    user: str = "postgres"
    _names: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def socket_dir(self) -> Path:
        return self.root

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@/{database}?host={self.socket_dir}"

    def admin(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE) in ``postgres``."""
        import psycopg

        with psycopg.connect(host=str(self.socket_dir), user=self.user, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql)

    def new_database(self, prefix: str = "tempose_test") -> str:
        """A fresh empty database; returns its SQLAlchemy URL."""
        name = f"{prefix}_{next(self._names)}"
        self.admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def server_version(self) -> str:
        import psycopg

        with psycopg.connect(host=str(self.socket_dir), user=self.user, dbname="postgres") as c:
            return c.execute("SHOW server_version").fetchone()[0]


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def _run(cmd: list[str], what: str, log: Path | None = None) -> None:
    res = subprocess.run(_as_server_user(cmd), capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        tail = (log.read_text()[-2000:] if log and log.exists() else "") or res.stderr[-2000:]
        raise ServerUnavailable(f"{what} failed (exit {res.returncode}): {tail.strip()}")


def start_cluster() -> PostgresCluster:
    """initdb + pg_ctl start; raises ServerUnavailable with the reason."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise ServerUnavailable(f"psycopg 3 is not installed; {INSTALL_HINT}") from None
    bindir = find_bindir()
    if os.geteuid() == 0:
        try:
            import pwd

            server_user = pwd.getpwnam("postgres")
        except KeyError:
            raise ServerUnavailable("running as root and there is no 'postgres' user to run "
                                    f"the server as; {INSTALL_HINT}") from None
        if shutil.which("runuser") is None:
            raise ServerUnavailable("running as root and runuser (util-linux) is missing")
    # Not pytest's tmp_path: its parents are private to root, the server user needs this.
    root = Path(tempfile.mkdtemp(prefix="tempose-pg-"))
    if os.geteuid() == 0:
        os.chown(root, server_user.pw_uid, server_user.pw_gid)
    data, log = root / "data", root / "server.log"
    try:
        _run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
              "-E", "UTF8", "--no-sync"], "initdb")
        # -F: no fsync; listen_addresses='': the Unix socket in `root` only.
        opts = f"-F -k {root} -c listen_addresses=''"
        _run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w",
              "-t", "60", "start"], "pg_ctl start", log)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return PostgresCluster(bindir=bindir, root=root)


def stop_cluster(cluster: PostgresCluster) -> None:
    try:
        subprocess.run(_as_server_user([str(cluster.bindir / "pg_ctl"), "-D",
                                        str(cluster.root / "data"), "-m", "immediate", "-w",
                                        "stop"]), capture_output=True, timeout=60)
    finally:
        shutil.rmtree(cluster.root, ignore_errors=True)
