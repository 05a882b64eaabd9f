"""A TLS front for plain-HTTP emulators: `python -m kinesis_pipelines.emulators.tls_proxy
--cert C --key K --route LISTEN_PORT:TARGET_PORT [...]`, all on 127.0.0.1."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable

HOST = "127.0.0.1"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def _handler(
    target_port: int,
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            upstream_r, upstream_w = await asyncio.open_connection(HOST, target_port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, upstream_w), _pipe(upstream_r, client_w))

    return handle


async def _serve(cert: str, key: str, routes: list[tuple[int, int]]) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    servers = [
        await asyncio.start_server(_handler(target), HOST, listen, ssl=context) for listen, target in routes
    ]
    print("ready", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--route", action="append", required=True, help="LISTEN:TARGET")
    args = parser.parse_args()
    routes = []
    for route in args.route:
        listen, target = route.split(":", 1)
        routes.append((int(listen), int(target)))
    asyncio.run(_serve(args.cert, args.key, routes))


if __name__ == "__main__":
    main()
