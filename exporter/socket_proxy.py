"""A read-only door to the Docker engine for the container-stats exporter.

Whoever can open the engine's socket holds the engine (``:ro`` on a socket
mount does not restrict the API behind it). The exporter only lists,
inspects and reads one-shot stats, so compose gives the socket to this proxy
instead and points the exporter at it (``DOCKER_HOST=tcp://docker-proxy:2375``).
It forwards exactly those requests (GET or HEAD of ``/_ping``, ``/version``,
``/containers/json``, ``/containers/<id>/json`` and a non-streaming
``/containers/<id>/stats``, with or without the API version prefix) and
answers everything else with 403 and a JSON ``message``, which docker-py
raises as an APIError naming the refused call. The same allow-list idea as
Tecnativa's docker-socket-proxy, written here because no image of it can be
pulled on these machines and the rule set is five paths.

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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DEFAULT_SOCKET = "/var/run/docker.sock"
# Longer than the exporter's own bound on an engine call (API_TIMEOUT_S).
ENGINE_TIMEOUT_S = 15.0
_READ_PATHS = re.compile(
    r"^(?:/v\d+\.\d+)?/(?:_ping|version|containers/json|containers/\w[\w.-]*/(?:json|stats))$"
)
# The engine's headers a client needs; hop-by-hop ones (Transfer-Encoding:
# the body is re-sent whole with its length) stay behind.
_PASSED_HEADERS = ("Content-Type", "Api-Version", "Docker-Experimental", "Ostype", "Server")


def refusal(method: str, target: str) -> str | None:
    """Why the request is refused (one line), or None when it is forwarded."""
    if method not in ("GET", "HEAD"):
        return f"{method} is refused: this proxy only reads (list, inspect, stats)"
    parts = urlsplit(target)
    if not _READ_PATHS.match(parts.path):
        return (
            f"{parts.path} is refused: only /_ping, /version, /containers/json, inspect and stats"
        )
    if parts.path.endswith("/stats"):
        stream = parse_qs(parts.query).get("stream", ["1"])[-1].lower()
        if stream not in ("0", "false"):
            return "streaming stats are refused: ask with stream=0"
    return None


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


def handler_for(engine_socket: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json_error(self, status: int, message: str) -> None:
            body = json.dumps({"message": message}).encode()
            self._answer(status, body, {"Content-Type": "application/json"})

        def _read(self) -> None:
            refused = refusal(self.command, self.path)
            if refused:
                self._json_error(403, f"kafkaval socket proxy: {refused}")
                return
            conn = _EngineConnection(engine_socket)
            try:
                conn.request(self.command, self.path, headers={"Host": "docker"})
                resp = conn.getresponse()
                body = resp.read()
            except OSError as e:
                self._json_error(502, f"kafkaval socket proxy: the engine does not answer ({e})")
                return
            finally:
                conn.close()
            headers = {h: v for h in _PASSED_HEADERS if (v := resp.getheader(h)) is not None}
            self._answer(resp.status, body, headers)

        do_GET = do_HEAD = _read

        def _refuse(self) -> None:
            self._json_error(403, f"kafkaval socket proxy: {refusal(self.command, self.path)}")

        do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

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
