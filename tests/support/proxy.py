"""A forward HTTP proxy for tests: every request for `http://ANY-HOST/PATH` is answered
from a local channel folder, so a channel on a host that does not exist is reachable
through the proxy alone. The hosts it was asked for are recorded."""

from __future__ import annotations

import http.server
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def proxy(root: Path, prefix: str = "/") -> Iterator[tuple[str, list[str]]]:
    """Yields (the proxy's URL, the hosts asked for so far); `PATH` under `prefix` is the
    channel's `root`."""
    asked: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            if not parts.netloc or not parts.path.startswith(prefix):
                self.send_error(400, "not a proxy request")
                return
            asked.append(parts.hostname or "")
            self.path = parts.path[len(prefix) - 1 :]
            super().do_GET()

        def do_HEAD(self) -> None:
            self.send_error(404)

        def translate_path(self, path: str) -> str:
            return str(root / path.split("?", 1)[0].lstrip("/"))

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()
