"""The embedded local AWS: Kinesis, DynamoDB and CloudWatch emulators on 127.0.0.1.

- Kinesis: kinesis-mock (npm `kinesis-local`), plain HTTP; it speaks HTTP/1.1 and HTTP/2.
- DynamoDB: dynalite (npm), behind a TLS front, because KCL 1 reaches DynamoDB over HTTPS only.
- CloudWatch: moto's server (PyPI), behind the same TLS front, for KCL's metrics.

`LocalAws.start()` installs the npm parts on first use, starts every server in its own process
group on free ports and writes the endpoints to a state file that `endpoint_url: embedded`
resolves through; `stop()` ends exactly those process groups. Starting needs the [local] extra
(moto's server, cryptography); reading the state of a running one needs only the core.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.emulators.tls import make_certificate, make_java_truststore
from kinesis_pipelines.errors import EmulatorError
from kinesis_pipelines.extras import require_extra
from kinesis_pipelines.home import cache_home, state_home
from kinesis_pipelines.processes import alive, free_port, start_group, stop_group, wait_for_port
from kinesis_pipelines.progress import Say, Summary, run_with_progress
from kinesis_pipelines.tools import require

NPM_PACKAGES = {"kinesis-local": "0.6.2", "dynalite": "4.0.0"}
STATE_FILE = "local-aws.json"


class LocalAwsState(BaseModel):
    """What a running embedded AWS offers, and the process groups that make it up."""

    model_config = ConfigDict(frozen=True)

    region: str = "us-east-1"
    kinesis_endpoint: str
    dynamodb_endpoint: str
    cloudwatch_endpoint: str
    ca_bundle: str
    java_truststore: str
    pids: dict[str, int]
    data_dir: str

    def running(self) -> bool:
        return all(alive(pid) for pid in self.pids.values())

    def endpoint(self, service: str) -> str:
        """The endpoint of `service`: kinesis, dynamodb or cloudwatch."""
        return {
            "kinesis": self.kinesis_endpoint,
            "dynamodb": self.dynamodb_endpoint,
            "cloudwatch": self.cloudwatch_endpoint,
        }[service]


def read_state(home: Path | None = None) -> LocalAwsState | None:
    path = (home or state_home()) / STATE_FILE
    if not path.exists():
        return None
    return LocalAwsState.model_validate_json(path.read_text())


def running_state(home: Path | None = None) -> LocalAwsState:
    """The running embedded AWS, or an EmulatorError that says how to start it."""
    state = read_state(home)
    if state is None or not state.running():
        raise EmulatorError(
            "an endpoint is 'embedded' but the embedded local AWS is not running: start it with "
            "`kinesis-pipelines local-aws start` (or run `kinesis-pipelines demo`)"
        )
    return state


KINESIS_SAVE_INTERVAL_SECONDS = 5
"""How often kinesis-mock saves its streams (PERSIST_INTERVAL). Each save rewrites one JSON file
of every record the emulator holds, so its cost grows with the records put: saving every second,
the emulator's node process took most of a core after 7 minutes of a 30 records/s run
(bench/faults.py), slowing every Kinesis call of the job it serves. A stop waits for the next
save, so nothing acknowledged is lost either way."""
KINESIS_SAVE_WAIT_SECONDS = KINESIS_SAVE_INTERVAL_SECONDS + 10.0
"""How long a stop waits for kinesis-mock's next whole save."""


def kinesis_data_file(home: Path) -> Path:
    """Where kinesis-mock saves its streams (PERSIST_PATH, its default file name)."""
    return home / "local-aws" / "data" / "kinesis" / "kinesis-data.json"


def whole_json(path: Path) -> bool:
    try:
        json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return True


def install_npm_emulators(say: Say | None = None) -> Path:
    """Install the pinned npm emulators once into the shared cache, saying every few seconds how
    many packages npm has fetched; returns node_modules."""
    root = cache_home() / "npm"
    marker = root / ("installed-" + "-".join(f"{k}@{v}" for k, v in NPM_PACKAGES.items()))
    if marker.exists():
        return root / "node_modules"
    npm = require("npm", "install the Kinesis and DynamoDB emulators")
    require("node", "run the Kinesis and DynamoDB emulators")
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process installing: wait for it, then use its install
        if not marker.exists():
            _npm_install(npm, root, marker, say)
    return root / "node_modules"


def _npm_install(npm: str, root: Path, marker: Path, say: Say | None) -> None:
    (root / "package.json").write_text(json.dumps({"name": "kp-emulators", "private": True}))
    specs = [f"{name}@{version}" for name, version in NPM_PACKAGES.items()]
    say = say or (lambda message: print(message, file=sys.stderr, flush=True))
    say(f"installing the emulators with npm ({', '.join(specs)}), once per machine...")
    fetched = Summary("packages fetched", lambda line: "http fetch" in line)
    argv = [npm, "install", "--no-audit", "--no-fund", "--loglevel=http", *specs]
    code, lines = run_with_progress(argv, say, "  npm", fetched, cwd=root)
    if code != 0:
        errors = [line for line in lines if "ERR" in line][-15:] or lines[-15:]
        raise EmulatorError(f"npm install {' '.join(specs)} failed:\n" + "\n".join(errors))
    say(f"  npm: emulators installed ({fetched.count} packages fetched)")
    marker.touch()


class LocalAws:
    """Start and stop the embedded AWS. Use as a context manager, or start()/stop()."""

    def __init__(self, home: Path | None = None, region: str = "us-east-1", say: Say | None = None) -> None:
        self.say = say
        self.home = home or state_home()
        self.region = region
        self.state: LocalAwsState | None = None
        self.owned = False  # True when this object started the servers: only then does it stop them
        self._launches: dict[str, tuple[list[str], int, Path, dict[str, str], Path]] = {}

    def __enter__(self) -> LocalAwsState:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> LocalAwsState:
        """Start the emulators (or find them running). A port picked free can be taken by another
        process before an emulator binds it: then start again on new ports, at most three times."""
        require_extra("local", "starting the embedded local AWS", "moto", "flask", "cryptography")
        for attempt in range(3):
            try:
                return self._start(timeout)
            except EmulatorError as exc:
                if "already in use" not in str(exc) or attempt == 2:
                    raise
        raise EmulatorError("unreachable")

    def _start(self, timeout: float) -> LocalAwsState:
        existing = read_state(self.home)
        if existing is not None and existing.running():
            self.state = existing
            return existing
        if existing is not None:
            LocalAws(self.home).stop(force=True)  # leftovers of a crashed run
        node_modules = install_npm_emulators(self.say)
        node = require("node", "run the Kinesis and DynamoDB emulators")
        base = self.home / "local-aws"
        logs, data = base / "logs", base / "data"
        saved = kinesis_data_file(self.home)
        for path in (logs, data / "dynamodb", saved.parent):
            path.mkdir(parents=True, exist_ok=True)
        if saved.exists() and not whole_json(saved):
            raise EmulatorError(
                f"the embedded Kinesis's saved streams, {saved}, are not readable (a stop cut off "
                "its save): restore the file, or move it aside to start with no streams"
            )
        cert, key = make_certificate(base / "tls")
        truststore = make_java_truststore(cert, base / "tls" / "truststore.p12")

        ports = {name: free_port() for name in ("kinesis", "dynalite", "moto", "ddb_tls", "cw_tls")}
        ports["kinesis_tls"] = free_port()
        kinesis_dir = node_modules / "kinesis-local"
        env = {
            **os.environ,
            "KINESIS_MOCK_PLAIN_PORT": str(ports["kinesis"]),
            "KINESIS_MOCK_TLS_PORT": str(ports["kinesis_tls"]),
            "KINESIS_MOCK_CERT_PATH": str(kinesis_dir / "server.json"),
            "AWS_REGION": self.region,
            "LOG_LEVEL": "WARN",
            "SHOULD_PERSIST_DATA": "true",
            "PERSIST_PATH": str(saved.parent),
            "PERSIST_INTERVAL": f"{KINESIS_SAVE_INTERVAL_SECONDS}s",
            # AWS's default account shard quota in the large regions (kinesis-mock's own is 50)
            "SHARD_LIMIT": "500",
        }
        launches = {
            "kinesis": [
                node,
                "--require",
                str(Path(__file__).with_name("bind_loopback.js")),
                str(kinesis_dir / "main.js"),
            ],
            "dynamodb": [
                node,
                str(node_modules / "dynalite" / "cli.js"),
                "--host",
                "127.0.0.1",
                "--port",
                str(ports["dynalite"]),
                "--path",
                str(data / "dynamodb"),
                "--createTableMs",
                "200",
                "--deleteTableMs",
                "200",
            ],
            "cloudwatch": [
                sys.executable,
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                str(ports["moto"]),
            ],
            "tls_front": [
                sys.executable,
                "-m",
                "kinesis_pipelines.emulators.tls_proxy",
                "--cert",
                str(cert),
                "--key",
                str(key),
                "--route",
                f"{ports['ddb_tls']}:{ports['dynalite']}",
                "--route",
                f"{ports['cw_tls']}:{ports['moto']}",
            ],
        }
        ready_ports = {
            "kinesis": ports["kinesis"],
            "dynamodb": ports["dynalite"],
            "cloudwatch": ports["moto"],
            "tls_front": ports["ddb_tls"],
        }
        self._launches = {
            name: (argv, ready_ports[name], logs / f"{name}.log", env, base)
            for name, argv in launches.items()
        }
        pids: dict[str, int] = {}
        try:
            procs = {}
            for name, argv in launches.items():
                procs[name] = start_group(argv, logs / f"{name}.log", env=env, cwd=base)
                pids[name] = procs[name].pid
            deadline = time.monotonic() + timeout
            for name, port in ready_ports.items():
                remaining = max(1.0, deadline - time.monotonic())
                if not wait_for_port(port, remaining, procs[name]):
                    tail = (logs / f"{name}.log").read_text()[-2000:]
                    raise EmulatorError(
                        f"the embedded {name} emulator did not listen on 127.0.0.1:{port} "
                        f"within {timeout:.0f} s; its log ends:\n{tail}"
                    )
        except BaseException:
            for pid in pids.values():
                stop_group(pid, grace_seconds=2)
            raise
        self.state = LocalAwsState(
            region=self.region,
            kinesis_endpoint=f"http://127.0.0.1:{ports['kinesis']}",
            dynamodb_endpoint=f"https://127.0.0.1:{ports['ddb_tls']}",
            cloudwatch_endpoint=f"https://127.0.0.1:{ports['cw_tls']}",
            ca_bundle=str(cert),
            java_truststore=str(truststore),
            pids=pids,
            data_dir=str(data),
        )
        (self.home / STATE_FILE).write_text(self.state.model_dump_json(indent=2))
        self.owned = True
        return self.state

    def _stop_server(self, name: str, pid: int, grace_seconds: float) -> None:
        """Stop one server. kinesis-mock saves its streams every few seconds (PERSIST_INTERVAL) by
        rewriting its data file in place, and not when it stops: so the stop waits for a whole save
        that began after it was asked for (everything acknowledged before is in it), and if the
        stop ends it mid-save (an empty file, on which it cannot start again), puts that save back."""
        if name != "kinesis":
            stop_group(pid, grace_seconds=grace_seconds)
            return
        saved = kinesis_data_file(self.home)
        asked = time.time()
        deadline = time.monotonic() + KINESIS_SAVE_WAIT_SECONDS
        while time.monotonic() < deadline and alive(pid):
            if saved.exists() and saved.stat().st_mtime > asked and whole_json(saved):
                break
            time.sleep(0.1)
        last_whole = saved.read_bytes() if whole_json(saved) else None
        stop_group(pid, grace_seconds=grace_seconds)
        if last_whole is not None and not whole_json(saved):
            saved.write_bytes(last_whole)

    def restart_service(self, name: str, timeout: float = 60.0) -> None:
        """Stop one emulator and start it again on the same port with the same data: what an
        outage of that AWS service looks like to a running job. Only for servers this object
        started."""
        if not self.owned or self.state is None:
            raise EmulatorError("restart_service needs an embedded AWS that this object started")
        argv, port, log, env, cwd = self._launches[name]
        self._stop_server(name, self.state.pids[name], grace_seconds=5)
        process = start_group(argv, log, env=env, cwd=cwd)
        if not wait_for_port(port, timeout, process):
            raise EmulatorError(f"the embedded {name} emulator did not come back on port {port}")
        self.state = self.state.model_copy(update={"pids": {**self.state.pids, name: process.pid}})
        (self.home / STATE_FILE).write_text(self.state.model_dump_json(indent=2))

    def stop(self, force: bool = False) -> None:
        """Stop the servers this object started (or, with force, whatever the state file names)."""
        if not (self.owned or force):
            return
        state = self.state or read_state(self.home)
        if state is None:
            return
        for name, pid in state.pids.items():
            # kinesis-mock hangs on a plain stop while clients hold connections: short grace.
            self._stop_server(name, pid, grace_seconds=3)
        (self.home / STATE_FILE).unlink(missing_ok=True)
        self.state = None
        self.owned = False
