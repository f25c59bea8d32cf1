"""A fast local stand-in for Twilio's Messages API, run as its own process by the benchmark.

asyncio, HTTP/1.1 keep-alive (twilio's REST client keeps its connection open), no framework: it records the
monotonic time (system-wide on Linux, so comparable with the benchmark's own clock), the `To` and whether the
body is a tracking-number SMS (its text starts with argv[2]) of every message, and answers 201 with the JSON
twilio's client expects. GET /_count and GET /_log?since=N let the benchmark read what arrived without sharing
a GIL with it. It also answers the mobile-ownership API (GET /mobile-ownership/<mobile>/owner/<national id>)
with a match for every demo national ID, so the bench's thousands of synthetic phones count as their owners.
GET /_latency?ms=N makes each message wait N ms before its answer (asyncio: other messages go on meanwhile).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from urllib.parse import parse_qs, urlsplit

LOG: list[tuple[float, str, bool]] = []
TRACKING_PREFIX = ""
COUNTS = {"tracking": 0}
DELAY = {"seconds": 0.0}  # the gateway's answer time, set by GET /_latency?ms=N: a distant gateway, not loopback
OWNED_IDS = {"0012345679", "2277889903", "4455667717", "3004005001"}
IDS = itertools.count(1)


def respond(status: str, body: bytes, keep: bool) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"Connection: {'keep-alive' if keep else 'close'}\r\n\r\n"
    )
    return head.encode() + body


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
            length = int(headers.get("content-length", "0") or 0)
            body = await reader.readexactly(length) if length else b""
            keep = headers.get("connection", "").lower() != "close"
            url = urlsplit(target)
            if method == "GET" and url.path == "/_count":
                out = respond("200 OK", json.dumps({"count": len(LOG), "tracking": COUNTS["tracking"]}).encode(), keep)
            elif method == "GET" and url.path == "/_latency":
                DELAY["seconds"] = int(parse_qs(url.query).get("ms", ["0"])[0]) / 1000
                out = respond("200 OK", b"{}", keep)
            elif method == "GET" and url.path == "/_log":
                since = int(parse_qs(url.query).get("since", ["0"])[0])
                out = respond("200 OK", json.dumps(LOG[since:]).encode(), keep)
            elif method == "POST" and url.path.endswith("/Messages.json"):
                if DELAY["seconds"]:
                    await asyncio.sleep(DELAY["seconds"])  # other connections are served meanwhile
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                text = form.get("Body", "")
                tracking = bool(TRACKING_PREFIX) and text.startswith(TRACKING_PREFIX)
                COUNTS["tracking"] += tracking
                LOG.append((time.monotonic(), form.get("To", ""), tracking))
                sid = f"SM{next(IDS):032d}"
                payload = {
                    "sid": sid,
                    "to": form.get("To"),
                    "from": form.get("From"),
                    "body": form.get("Body"),
                    "status": "queued",
                    "account_sid": url.path.split("/")[3],
                }
                out = respond("201 Created", json.dumps(payload).encode(), keep)
            elif method == "GET" and url.path.startswith("/mobile-ownership/"):
                national_id = url.path.rsplit("/", 1)[-1]
                out = respond("200 OK", json.dumps({"match": national_id in OWNED_IDS}).encode(), keep)
            else:
                out = respond("404 Not Found", b'{"code": 20404, "message": "not found", "status": 404}', keep)
            writer.write(out)
            await writer.drain()
            if not keep:
                return
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    TRACKING_PREFIX = sys.argv[2] if len(sys.argv) > 2 else ""
    asyncio.run(main(int(sys.argv[1])))
