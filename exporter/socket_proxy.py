"""A read-only, need-to-know door to the Docker engine for the container-stats exporter.

Whoever can open the engine's socket holds the engine (``:ro`` on a socket
mount does not restrict the API behind it). The exporter only lists,
inspects and reads one-shot stats, so compose gives the socket to this proxy
instead, on a network only the exporter joins, and points the exporter at it
(``DOCKER_HOST=tcp://docker-proxy:2375``).

What passes (GET or HEAD, with or without the API version prefix):

- ``/_ping`` and ``/version``;
- ``/containers/json`` (the list) and ``/containers/<id>/json`` (inspect),
  each answer cut down to the fields the exporter reads: an inspect holds the
  container's environment, where users keep passwords;
- ``/containers/<id>/stats``, always forwarded as ``stream=0`` (a stream
  never ends and would hold a thread for ever).

The request forwarded is rebuilt from what was checked, never the raw target,
so the engine cannot read a query differently from this proxy (repeated
keys, fragments). Everything else gets 403 with a JSON ``message``, which
docker-py raises as an APIError naming the refused call. The same allow-list
idea as Tecnativa's docker-socket-proxy, written here because no image of it
can be pulled on these machines and the rule set is five paths.

Usage: ``python -m exporter.socket_proxy --listen 0.0.0.0:2375
[--socket /var/run/docker.sock]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import socket
import sys
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

DEFAULT_SOCKET = "/var/run/docker.sock"
# Longer than the exporter's own bound on an engine call (API_TIMEOUT_S).
ENGINE_TIMEOUT_S = 15.0
# A list of a few thousand containers fits; anything bigger is not an answer we forward.
MAX_BODY_BYTES = 16 * 2**20
_VERSION = r"(?P<version>/v\d+\.\d+)?"
_ID = r"(?P<id>\w[\w.-]*)"
_PATHS = {
    "ping": re.compile(_VERSION + r"/(?P<what>_ping|version)", re.ASCII),
    "list": re.compile(_VERSION + r"/containers/json", re.ASCII),
    "inspect": re.compile(_VERSION + r"/containers/" + _ID + r"/json", re.ASCII),
    "stats": re.compile(_VERSION + r"/containers/" + _ID + r"/stats", re.ASCII),
}
# The query keys each read may carry (single-valued); others are refused.
_QUERY_KEYS = {
    "ping": set(),
    "list": {"all", "filters", "limit", "size", "trunc_cmd"},
    "inspect": {"size"},
    "stats": {"stream", "one-shot"},
}
# What the exporter reads of a container (exporter/docker_source.py).
_LIST_FIELDS = ("Id", "Names", "Image", "Labels", "State", "Status", "Created")
_INSPECT_FIELDS = ("Id", "Name", "State", "RestartCount", "Created")
# The engine's headers a client needs; hop-by-hop ones (Transfer-Encoding:
# the body is re-sent whole with its length) stay behind.
_PASSED_HEADERS = ("Content-Type", "Api-Version", "Docker-Experimental", "Ostype", "Server")
_FALSE = ("0", "false")


class Refused(Exception):
    """The request is not one the exporter makes; the message says why (one line)."""


def _inspect_view(info: dict[str, Any]) -> dict[str, Any]:
    view = {k: info[k] for k in _INSPECT_FIELDS if k in info}
    view["HostConfig"] = {"Memory": (info.get("HostConfig") or {}).get("Memory", 0)}
    view["Config"] = {"Image": (info.get("Config") or {}).get("Image", "")}
    return view


def _list_view(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: e[k] for k in _LIST_FIELDS if k in e} for e in entries]


Filter = Callable[[Any], Any] | None


def checked_request(method: str, target: str) -> tuple[str, Filter]:
    """The request to forward for ``method target`` and how to cut its JSON answer.

    Raises:
        Refused: anything but the exporter's reads.
    """
    if method not in ("GET", "HEAD"):
        raise Refused(f"{method} is refused: this proxy only reads (list, inspect, stats)")
    if not target.startswith("/") or "#" in target:
        raise Refused("a target must be an absolute path without a fragment")
    if not (target.isascii() and target.isprintable()) or " " in target:
        raise Refused("a target must be printable ASCII (urlsplit drops some characters)")
    parts = urlsplit(target)
    kind, match = next(
        ((k, m) for k, p in _PATHS.items() if (m := p.fullmatch(parts.path))), (None, None)
    )
    if kind is None or match is None:
        raise Refused(
            f"{parts.path} is refused: only ping, version, container list, inspect, stats"
        )
    query = parse_qs(parts.query, keep_blank_values=True)
    extra = sorted(set(query) - _QUERY_KEYS[kind])
    repeated = sorted(k for k, v in query.items() if len(v) > 1)
    if extra or repeated:
        raise Refused(f"query {'key' if extra else 'repeated'} {(extra or repeated)[0]} is refused")
    single = {k: v[0] for k, v in query.items()}
    if kind == "stats":
        if single.get("stream", "1").lower() not in _FALSE:
            raise Refused("streaming stats are refused: ask with stream=0")
        one_shot = single.get("one-shot", "0").lower() not in _FALSE
        single = {"stream": "0", **({"one-shot": "1"} if one_shot else {})}
    forward = parts.path + (f"?{urlencode(single)}" if single else "")
    cuts: dict[str, Callable[[Any], Any]] = {"list": _list_view, "inspect": _inspect_view}
    return forward, cuts.get(kind)


class _EngineConnection(http.client.HTTPConnection):
    """HTTP to the engine over its Unix socket."""

    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=ENGINE_TIMEOUT_S)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _ask_engine(engine_socket: str, method: str, target: str) -> tuple[int, bytes, dict[str, str]]:
    """The engine's status, body (at most MAX_BODY_BYTES) and passed headers.

    Raises:
        OSError, http.client.HTTPException: the engine did not answer properly.
        ValueError: its answer is larger than MAX_BODY_BYTES.
    """
    conn = _EngineConnection(engine_socket)
    try:
        conn.request(method, target, headers={"Host": "docker"})
        resp = conn.getresponse()
        body = resp.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise ValueError(f"the engine's answer is larger than {MAX_BODY_BYTES} bytes")
        headers = {h: v for h in _PASSED_HEADERS if (v := resp.getheader(h)) is not None}
        return resp.status, body, headers
    finally:
        conn.close()


def handler_for(engine_socket: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json_error(self, status: int, message: str) -> None:
            # After an error the connection is closed: a request body this
            # proxy never read must not be taken for the next request.
            self.close_connection = True
            body = json.dumps({"message": f"kafkaval socket proxy: {message}"}).encode()
            self._answer(status, body, {"Content-Type": "application/json"})

        def _handle(self) -> None:
            if self.headers.get("Transfer-Encoding") or int(
                self.headers.get("Content-Length") or 0
            ):
                self._json_error(403, f"{self.command} with a body is refused")
                return
            try:
                forward, cut = checked_request(self.command, self.path)
            except Refused as e:
                self._json_error(403, str(e))
                return
            try:
                status, body, headers = _ask_engine(engine_socket, self.command, forward)
            except (OSError, http.client.HTTPException, ValueError) as e:
                self._json_error(502, f"the engine did not answer properly ({e})")
                return
            if cut is not None and status == 200 and body:
                try:
                    body = json.dumps(cut(json.loads(body))).encode()
                except (ValueError, TypeError, AttributeError) as e:
                    self._json_error(502, f"the engine's answer is not the JSON expected ({e})")
                    return
            self._answer(status, body, headers)

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _handle

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # one line per scrape would drown the exporter's own log

    return Handler


def serve(listen: tuple[str, int], engine_socket: str) -> ThreadingHTTPServer:
    """The proxy's server, bound (not yet serving: call ``serve_forever``)."""
    server = ThreadingHTTPServer(listen, handler_for(engine_socket))
    server.daemon_threads = True
    return server


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (e.g. 0.0.0.0:2375)")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m exporter.socket_proxy",
        description="Forward only the Docker API reads the exporter makes; refuse the rest.",
    )
    parser.add_argument("--listen", type=_address, required=True, metavar="HOST:PORT")
    parser.add_argument("--socket", default=DEFAULT_SOCKET, help=f"default: {DEFAULT_SOCKET}")
    args = parser.parse_args(argv)
    try:
        server = serve(args.listen, args.socket)
    except OSError as e:
        print(f"error: cannot listen on {args.listen[0]}:{args.listen[1]}: {e}", file=sys.stderr)
        return 1
    print(f"socket proxy: {args.socket} (reads only) on {args.listen[0]}:{args.listen[1]}")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
