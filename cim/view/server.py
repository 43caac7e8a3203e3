"""The local HTTP server of `cim view`: static files under a few fixed folders, and a read-only JSON API.

Only three kinds of things are served: files under the viewer's own source folder, under the installed CesiumJS
build and under the tileset cache (mounts), and the answers of :class:`cim.view.data.CityData`. A request path is
decoded once and refused when it has ``..``, a backslash or a NUL, and the resolved file must still lie under its
mount (a symlink cannot lead out). The server listens on 127.0.0.1 only and answers only requests addressed to
that host name (a web page elsewhere cannot reach it through DNS rebinding).
"""

from __future__ import annotations

import contextlib
import errno
import json
import mimetypes
import socket
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cim.errors import CimError

HOST = "127.0.0.1"
TYPES = {".glb": "model/gltf-binary", ".gltf": "model/gltf+json", ".json": "application/json",
         ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".css": "text/css",
         ".html": "text/html; charset=utf-8", ".geojson": "application/geo+json", ".ktx2": "image/ktx2"}
ApiHandler = Callable[[dict[str, str]], Any]


class ViewError(CimError):
    stage = "view"


def safe_file(root: Path, relative: str) -> Path | None:
    """The file ``relative`` (already URL-decoded) names under ``root``, or None when it is not one or would leave it.

    A folder means its index.html.
    """
    if "\x00" in relative or "\\" in relative:
        return None
    parts = [p for p in relative.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    base = root.resolve()
    try:
        path = base.joinpath(*parts).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    if path != base and base not in path.parents:
        return None
    if path.is_dir():
        path = path / "index.html"
    return path if path.is_file() else None


class ViewServer(ThreadingHTTPServer):
    """A threading HTTP server bound before any slow work, so that a port in use fails in the first second."""

    daemon_threads = True
    # SO_REUSEADDR: `cim view` started again on its port works while the last run's connections linger in
    # TIME_WAIT (up to a minute after Ctrl-C); on Linux a port another process listens on is still refused.
    allow_reuse_address = True

    def __init__(self, port: int):
        self.mounts: list[tuple[str, Path]] = []
        self.api: dict[str, ApiHandler] = {}
        try:
            super().__init__((HOST, port), _Handler)
        except OSError as exc:
            raise _bind_error(port, exc) from exc

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"

    def mount(self, prefix: str, root: Path) -> None:
        """Serve the files under ``root`` at URL ``prefix`` (longest prefix first)."""
        self.mounts.append((prefix, root))
        self.mounts.sort(key=lambda m: -len(m[0]))


def _bind_error(port: int, exc: OSError) -> ViewError:
    if exc.errno == errno.EADDRINUSE:
        other = port + 1 if port < 65535 else 8700
        return ViewError(None, f"port {port} on {HOST} is already in use",
                         f"stop the program using it or pass another port, e.g. --port {other}")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ViewError(None, f"not allowed to listen on port {port}", "pass a port above 1024, e.g. --port 8700")
    return ViewError(None, f"cannot listen on {HOST}:{port}: {exc.strerror or exc}", "pass another --port")


def port_is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:port (used by tests and the benchmark to pick a port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


class _Handler(BaseHTTPRequestHandler):
    server: ViewServer
    protocol_version = "HTTP/1.1"
    server_version = "cim-view"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Quiet: the terminal shows the URL and errors, not one line per tile."""

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(head=False)

    def _refuse_method(self) -> None:
        self.close_connection = True  # the request body is not read: do not parse it as the next request
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"read-only: GET and HEAD only\n", "text/plain", head=False,
                   extra={"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method  # noqa: N815

    def _answer(self, head: bool) -> None:
        if not self._host_ok():
            self._send(HTTPStatus.FORBIDDEN, b"wrong host\n", "text/plain", head)
            return
        split = urlsplit(self.path)
        path = unquote(split.path)
        if path.startswith("/api/"):
            self._api(path[len("/api/"):], split.query, head)
            return
        for prefix, root in self.server.mounts:
            if path.startswith(prefix) or path + "/" == prefix:
                found = safe_file(root, path[len(prefix):])
                if found is not None:
                    self._file(found, head)
                    return
                break
        self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain", head)

    def _host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        return host in ("127.0.0.1", "localhost")

    def _api(self, name: str, query: str, head: bool) -> None:
        handler = self.server.api.get(name)
        if handler is None:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: /api/{name}"}, head)
            return
        params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        try:
            result = handler(params)
        except KeyError as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": f"missing parameter {exc.args[0]}"}, head)
            return
        except Exception as exc:  # one bad request must not stop the server; the page shows the reason
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": str(exc).splitlines()[0] if str(exc) else
                                                          type(exc).__name__}, head)
            return
        if result is None:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found", "query": params}, head)
        else:
            self._json(HTTPStatus.OK, result, head)

    def _json(self, status: HTTPStatus, value: Any, head: bool) -> None:
        body = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
        self._send(status, body, "application/json", head, extra={"Cache-Control": "no-store"})

    def _file(self, path: Path, head: bool) -> None:
        try:
            body = path.read_bytes()
        except OSError:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain", head)
            return
        kind = TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        self._send(HTTPStatus.OK, body, kind, head, extra={"Cache-Control": "no-cache"})

    def _send(self, status: HTTPStatus, body: bytes, kind: str, head: bool, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the page moved on
                self.wfile.write(body)
