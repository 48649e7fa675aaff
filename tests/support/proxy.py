"""A forward HTTP proxy for tests: every request for `http://ANY-HOST/PATH` is answered
from a local channel folder, so a channel on a host that does not exist is reachable
through the proxy alone. The hosts it was asked for are recorded."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.httpfiles import Files, running


@contextmanager
def proxy(root: Path, prefix: str = "/") -> Iterator[tuple[str, list[str]]]:
    """Yields (the proxy's URL, the hosts asked for so far); `PATH` under `prefix` is the
    channel's `root`."""
    asked: list[str] = []

    class Handler(Files):
        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            if not parts.netloc or not parts.path.startswith(prefix):
                self.send_error(400, "not a proxy request")
                return
            asked.append(parts.hostname or "")
            self.path = parts.path[len(prefix) - 1 :]
            super().do_GET()

    Handler.root = root
    with running(Handler) as url:
        yield url, asked
