"""A real PostgreSQL server for the tests, from the distribution's packages (`./dev setup`
installs Debian's `postgresql`): a private cluster in a temporary folder, on 127.0.0.1 and a
free port, one database and one password-protected user, stopped however the test ends.

PostgreSQL refuses to run as root; as root, the cluster belongs to the `postgres` user that the
package creates, and its programs run as that user."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kinesis_pipelines.processes import free_port, wait_for_port


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str
    database: str


def postgres_bin(program: str) -> str:
    found = shutil.which(program) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{program}"))), None
    )
    if found is None:
        raise RuntimeError(
            f"PostgreSQL's {program} is not installed: run ./dev setup (Debian: apt-get install postgresql)"
        )
    return found


@contextlib.contextmanager
def postgres_server(database: str = "dagster", user: str = "dagster") -> Iterator[Postgres]:
    """A running server; its folder (its own, since the server's user must own it) is removed
    after it stops."""
    run_as: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="kp-postgres-"))
    data = work / "pgdata"
    sockets = work / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
        for path in (work, sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    password = "kp-test-" + os.urandom(6).hex()
    port = free_port()
    subprocess.run([*run_as, postgres_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                    "--no-sync", "-E", "UTF8"], check=True, capture_output=True)  # fmt: skip
    log = work / "postgres.log"
    ctl = postgres_bin("pg_ctl")
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sockets} -c fsync=off"
    )
    subprocess.run([*run_as, ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "start"],
                   check=True, capture_output=True)  # fmt: skip
    try:
        assert wait_for_port(port, 30), log.read_text()[-2000:]
        psql = [
            *run_as,
            postgres_bin("psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
        ]
        subprocess.run(
            [*psql, "-c", f"CREATE USER {user} PASSWORD '{password}'"], check=True, capture_output=True
        )
        subprocess.run(
            [*psql, "-c", f"CREATE DATABASE {database} OWNER {user}"], check=True, capture_output=True
        )
        # from here on, the server asks for the password (scram) over TCP
        with open(data / "pg_hba.conf", "w") as hba:
            hba.write("host all all 127.0.0.1/32 scram-sha-256\nlocal all postgres trust\n")
        subprocess.run([*run_as, ctl, "-D", str(data), "reload"], check=True, capture_output=True)
        yield Postgres("127.0.0.1", port, user, password, database)
    finally:
        subprocess.run(
            [*run_as, ctl, "-D", str(data), "-m", "fast", "-w", "stop"], check=False, capture_output=True
        )
        shutil.rmtree(work, ignore_errors=True)
