"""A folder served over HTTP(S) on 127.0.0.1, for the tests that fetch from a channel
through the network: a handler to subclass, and a context manager that runs it."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class Files(http.server.SimpleHTTPRequestHandler):
    """Answers GET from `root` (set by a subclass), quietly; HEAD is not served."""

    root: Path

    def do_HEAD(self) -> None:  # rattler falls back to GET
        self.send_error(404)

    def translate_path(self, path: str) -> str:
        return str(self.root / path.split("?", 1)[0].lstrip("/"))

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def running(
    handler: type[http.server.BaseHTTPRequestHandler], tls: tuple[Path, Path] | None = None
) -> Iterator[str]:
    """Serve with `handler` until the block ends; yields the base URL (https with `tls`,
    a certificate and its key)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
