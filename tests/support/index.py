"""A package index (PEP 691, JSON) served on localhost from a folder of wheels, recording
every request it gets: what a workspace's `--index-url` could learn."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Index:
    url: str  # .../simple, with the credentials when it asks for some
    requests: list[str] = field(default_factory=list)  # every path asked for, in order
    auth: list[str | None] = field(default_factory=list)  # the Authorization header of each


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@contextmanager
def serve_index(
    files: Path,
    *,
    user: str | None = None,
    password: str | None = None,
    uploaded: dict[str, str] | None = None,
) -> Iterator[Index]:
    """Serve the wheels in `files` as a simple index at `index.url` (relative file links,
    as most indexes give them). With `user`/`password`, every request must carry them.
    `uploaded` gives each file's `upload-time` (PEP 700, API 1.1) by its version."""
    index = Index("")
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() if user else None

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self.do_GET(head=True)

        def do_GET(self, head: bool = False) -> None:
            index.requests.append(self.path)
            index.auth.append(self.headers.get("Authorization"))
            if expected is not None and self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="index"')
                self.end_headers()
                return
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            if len(parts) == 2 and parts[0] == "simple":
                project = _canonical(parts[1])
                entries = [
                    {
                        "filename": whl.name,
                        "url": f"../../files/{whl.name}",
                        "hashes": {"sha256": hashlib.sha256(whl.read_bytes()).hexdigest()},
                        **(
                            {"upload-time": uploaded[whl.name.split("-")[1]]}
                            if uploaded is not None
                            else {}
                        ),
                    }
                    for whl in sorted(files.iterdir())
                    if _canonical(whl.name.split("-", 1)[0]) == project
                ]
                if not entries:
                    self.send_response(404)
                    self.end_headers()
                    return
                meta = {"api-version": "1.0" if uploaded is None else "1.1"}
                body = json.dumps({"meta": meta, "name": project, "files": entries}).encode()
                kind = "application/vnd.pypi.simple.v1+json"
            elif len(parts) == 2 and parts[0] == "files" and (files / parts[1]).is_file():
                body, kind = (files / parts[1]).read_bytes(), "application/octet-stream"
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    creds = f"{user}:{password}@" if user else ""
    index.url = f"http://{creds}127.0.0.1:{server.server_address[1]}/simple"
    try:
        yield index
    finally:
        server.shutdown()
        server.server_close()
