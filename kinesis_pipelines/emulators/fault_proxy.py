"""A fault-injecting and recording HTTP proxy for the emulators, for tests: it forwards every
request to its target, except that every Nth call of the chosen AWS operations gets the throttling
error AWS would send; with --record it appends each call (operation, resource, namespace, user
agent) to a JSON-lines file. Binds 127.0.0.1 only; optional TLS with the embedded AWS's certificate.

    python -m kinesis_pipelines.emulators.fault_proxy --port P --target-port T \\
        [--throttle Kinesis_20131202.GetRecords --every 3] [--record calls.jsonl] \\
        [--tls-cert C --tls-key K]
"""

from __future__ import annotations

import argparse
import http.client
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


def describe_call(path: str, headers: Any, body: bytes, service: str = "") -> dict[str, str]:
    """Which AWS operation a request is, and on what: from the JSON protocol's X-Amz-Target, the
    query protocol's Action, or the RPC v2 path, and the stream, table or namespace it names."""
    target = headers.get("X-Amz-Target", "")
    operation = target.rsplit(".", 1)[-1] if target else ""
    fields: dict[str, Any] = {}
    content_type = headers.get("Content-Type", "")
    if "json" in content_type:
        try:
            fields = json.loads(body or b"{}")
        except ValueError:
            fields = {}
    elif "x-www-form-urlencoded" in content_type:
        fields = {key: values[0] for key, values in parse_qs(body.decode(errors="replace")).items()}
        operation = operation or str(fields.get("Action", ""))
    if not operation and "/operation/" in path:
        operation = path.rsplit("/operation/", 1)[1].split("?", 1)[0]
    resource = fields.get("StreamName") or fields.get("TableName") or fields.get("StreamARN") or ""
    batch = fields.get("RequestItems")
    if not resource and isinstance(batch, dict) and len(batch) == 1:  # BatchGetItem on one table
        resource = next(iter(batch))
    return {
        "service": service,
        "operation": operation,
        "resource": str(resource),
        "namespace": str(fields.get("Namespace", "")),
        "role_arn": str(fields.get("RoleArn", "")),
        "external_id": "set" if fields.get("ExternalId") else "",  # never the id itself
        "item_key": _item_key(fields),
        "user_agent": headers.get("User-Agent", ""),
    }


def _item_key(fields: dict[str, Any]) -> str:
    """The partition key of a DynamoDB item call (KCL's leaseKey, or a fence's application); for
    a BatchGetItem, every key it reads, comma-separated."""
    batch = fields.get("RequestItems")
    if isinstance(batch, dict):
        keys = [key for request in batch.values() for key in (request or {}).get("Keys", [])]
        return ",".join(_partition_key(key) for key in keys)
    return _partition_key(fields.get("Key") or fields.get("Item") or {})


def _partition_key(item: Any) -> str:
    for name in ("application", "leaseKey"):
        value = item.get(name, {}) if isinstance(item, dict) else {}
        if isinstance(value, dict) and "S" in value:
            return str(value["S"])
    return ""


def make_handler(
    target_port: int,
    throttled: set[str],
    every: int,
    error: str,
    record: str | None = None,
    service: str = "",
) -> type[BaseHTTPRequestHandler]:
    counter = {"calls": 0, "throttled": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            target = self.headers.get("X-Amz-Target", "")
            if record:
                line = json.dumps(describe_call(self.path, self.headers, body, service))
                with lock, open(record, "a") as calls:
                    calls.write(line + "\n")
            if target in throttled:
                with lock:
                    counter["calls"] += 1
                    inject = counter["calls"] % every == 0
                    counter["throttled"] += inject
                if inject:
                    payload = json.dumps({"__type": error, "message": "Rate exceeded (injected)"})
                    self._reply(
                        400,
                        payload.encode(),
                        {
                            "Content-Type": self.headers.get("Content-Type", "application/x-amz-json-1.1"),
                            "x-amzn-RequestId": "injected-fault",
                        },
                    )
                    return
            upstream = http.client.HTTPConnection("127.0.0.1", target_port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            upstream.request("POST", self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            self._reply(
                response.status,
                data,
                {k: v for k, v in response.getheaders() if k.lower() not in HOP_HEADERS | {"content-length"}},
            )
            upstream.close()

        def do_GET(self) -> None:
            self._reply(200, json.dumps(counter).encode(), {"Content-Type": "application/json"})

        def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target-port", type=int, required=True)
    parser.add_argument("--throttle", action="append", default=[], help="X-Amz-Target to throttle")
    parser.add_argument("--every", type=int, default=3)
    parser.add_argument("--error", default="ProvisionedThroughputExceededException")
    parser.add_argument("--record", help="append every call to this JSON-lines file")
    parser.add_argument("--service", default="", help="the service name written with each recorded call")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()
    handler = make_handler(
        args.target_port, set(args.throttle), args.every, args.error, args.record, args.service
    )
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
