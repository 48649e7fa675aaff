"""A local channel served over HTTP behind basic auth or a conda token (`/t/<token>/`),
for the tests that credentials are used to fetch and never printed nor written."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.httpfiles import Files, running

USER, PASSWORD, TOKEN = "alice", "pw-s3cr3t", "tk-s3cr3t"
SECRETS = (PASSWORD, TOKEN)


@contextmanager
def serve(
    root: Path, *, basic: bool = False, token: bool = False, tls: tuple[Path, Path] | None = None
) -> Iterator[str]:
    """Serve the channel `root`; yields its base URL without credentials. With `basic`,
    requests must carry `alice:pw-s3cr3t`; with `token`, start with `/t/tk-s3cr3t/`; with
    `tls` (certificate, key), over HTTPS."""
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    class Handler(Files):
        def do_GET(self) -> None:
            if token:
                if not self.path.startswith(f"/t/{TOKEN}/"):
                    self.send_error(403, "no token")
                    return
                self.path = self.path[len(f"/t/{TOKEN}") :]
            if basic and self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="channel"')
                self.end_headers()
                return
            super().do_GET()

    Handler.root = root
    with running(Handler, tls) as url:
        yield url
