"""Fault-injecting and recording proxies (kinesis_pipelines/emulators/fault_proxy.py) in front of
the embedded AWS's emulators, started and stopped by the tests that point a spec at them; and a
plain TCP forwarder that a test can cut off (`PartitionProxy`), for one client's partition."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from kinesis_pipelines.emulators.local_aws import LocalAwsState
from kinesis_pipelines.processes import free_port, start_group, stop_group, wait_for_port

# the emulator process behind each service, and whether its front speaks TLS (as KCL requires
# for DynamoDB and CloudWatch through the SDK v1 endpoint override)
EMULATOR_PROCESS = {"kinesis": "kinesis", "dynamodb": "dynamodb", "cloudwatch": "cloudwatch"}
TLS = {"kinesis": False, "dynamodb": True, "cloudwatch": True}


@contextlib.contextmanager
def emulator_proxies(
    local_aws: LocalAwsState,
    work: Path,
    services: tuple[str, ...],
    throttle: dict[str, tuple[str, int]] | None = None,
    record: Path | None = None,
) -> Iterator[dict[str, str]]:
    """A proxy per service; yields each service's endpoint URL. `throttle` maps a service to
    (X-Amz-Target, every Nth call); `record` is the JSON-lines file every call is appended to."""
    cert = local_aws.ca_bundle
    key = str(Path(cert).with_name("key.pem"))
    started: list[tuple[str, int, int]] = []
    try:
        for service in services:
            port = free_port()
            target = target_port(local_aws, service)
            argv = [sys.executable, "-m", "kinesis_pipelines.emulators.fault_proxy",
                    "--port", str(port), "--target-port", str(target)]  # fmt: skip
            if throttle and service in throttle:
                operation, every = throttle[service]
                argv += ["--throttle", operation, "--every", str(every)]
            if record is not None:
                argv += ["--record", str(record), "--service", service]
            if TLS[service]:
                argv += ["--tls-cert", cert, "--tls-key", key]
            proc = start_group(argv, work / f"{service}-proxy.log")
            started.append((service, port, proc.pid))
            assert wait_for_port(port, 30, proc), f"the {service} proxy did not start"
        yield {
            service: f"{'https' if TLS[service] else 'http'}://127.0.0.1:{port}"
            for service, port, _ in started
        }
    finally:
        for _, _, pid in started:
            stop_group(pid, grace_seconds=2)


def target_port(local_aws: LocalAwsState, service: str) -> int:
    """The emulator's own port: Kinesis's plain-HTTP endpoint (kinesis-mock also listens for
    TLS), the process's one listening port for dynalite and moto (behind the TLS front)."""
    if service == "kinesis":
        return int(local_aws.kinesis_endpoint.rsplit(":", 1)[1])
    return listening_port(local_aws.pids[EMULATOR_PROCESS[service]])


def listening_port(pid: int) -> int:
    """The TCP port a process listens on (from /proc, no extra tools)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().as_posix()
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and fields[9] in inodes:
            return int(fields[1].split(":")[1], 16)
    raise AssertionError(f"process {pid} listens on no TCP port")


class PartitionProxy:
    """A TCP forwarder on 127.0.0.1 (TLS passes through untouched). `partition()` drops every
    connection and from then on accepts new ones but answers nothing: a black hole, until
    `heal()`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut = threading.Event()
        self.lock = threading.Lock()
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.open.append(client)
            if self.cut.is_set():
                continue  # held, never answered; closed by the next partition or heal
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open.append(upstream)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while not self.cut.is_set() and (data := source.recv(65536)):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.close()

    def _drop_all(self) -> None:
        with self.lock:
            sockets, self.open = self.open, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def partition(self) -> None:
        self.cut.set()
        self._drop_all()

    def heal(self) -> None:
        self._drop_all()  # the held connections end; new ones are forwarded again
        self.cut.clear()

    def close(self) -> None:
        self.listener.close()
        self.partition()
