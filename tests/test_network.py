"""The network as the user's .condarc sets it: `proxy_servers` applied to every fetch
(a channel on a host that only the proxy knows), per-host proxies said out loud,
`ssl_verify` false or a CA bundle for a channel with a certificate of its own."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.authserver import serve
from tests.support.cli import Workspace
from tests.support.proxy import proxy

PROXIED = """\
[workspace]
name = "proxied"
channels = ["http://wsp-channel.invalid/chan"]
envs-dir = ".wsp/envs"

[projects.alpha]
python = "3.12"
dependencies = ["six"]
"""


def test_condarc_proxy_servers_carry_every_fetch(
    make_workspace: Callable[..., Workspace], channel: Path
) -> None:
    ws = make_workspace(PROXIED)
    condarc = Path(ws.env["HOME"]) / ".condarc"
    without = ws.wsp("plan", CONDA_REMOTE_MAX_RETRIES="0")
    assert "could not be reached" in without.output, without  # no such host: the proxy is needed
    with proxy(channel, "/chan/") as (url, asked):
        condarc.write_text(f"proxy_servers:\n  http: {url}\n")
        r = ws.wsp("apply", "--yes")
        assert r.code == 0, r
        assert set(asked) == {"wsp-channel.invalid"}, asked
    assert "six" in ws.versions("alpha")
    # recorded as the channel, never as the proxy
    assert (
        "http://wsp-channel.invalid/chan"
        in (ws.envs_dir / "alpha" / "conda-meta")
        .joinpath(next(p.name for p in (ws.envs_dir / "alpha" / "conda-meta").glob("six-*.json")))
        .read_text()
    )


def test_a_proxy_for_one_host_is_said_not_applied(
    make_workspace: Callable[..., Workspace], channel: Path
) -> None:
    ws = make_workspace(PROXIED.replace("http://wsp-channel.invalid/chan", str(channel)))
    (Path(ws.env["HOME"]) / ".condarc").write_text(
        "proxy_servers:\n  'https://conda.anaconda.org': http://127.0.0.1:9\n"
    )
    r = ws.wsp("apply", "--yes")
    assert r.code == 0, r
    assert "proxy_servers 'https://conda.anaconda.org' is not applied" in r.stderr, r


def certificates(folder: Path) -> tuple[Path, Path, Path]:
    """(a CA of its own, a server certificate it signed for 127.0.0.1, its key)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make certificates")
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    cert, key, csr, ext = (folder / n for n in ("cert.pem", "key.pem", "leaf.csr", "ext.cnf"))
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=wsp test CA",
            "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", str(key), "-out", str(csr))  # fmt: skip
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert))  # fmt: skip
    return ca, cert, key


def test_condarc_ssl_verify_false_and_a_ca_bundle(
    make_workspace: Callable[..., Workspace], channel: Path, tmp_path: Path
) -> None:
    ca, cert, key = certificates(tmp_path)
    with serve(channel, tls=(cert, key)) as url:
        ws = make_workspace(PROXIED.replace("http://wsp-channel.invalid/chan", url))
        condarc = Path(ws.env["HOME"]) / ".condarc"
        refused = ws.wsp("apply", "--yes", CONDA_REMOTE_MAX_RETRIES="0")
        assert refused.code == 1 and "could not be reached" in refused.output, refused
        condarc.write_text("ssl_verify: false\n")
        r = ws.wsp("apply", "--yes")
        assert r.code == 0, r
        ws.edit('dependencies = ["six"]', 'dependencies = ["six", "pytz"]')
        condarc.write_text(f"ssl_verify: {ca}\n")  # conda's CA bundle
        r = ws.wsp("apply", "--yes")
        assert r.code == 0, r
    assert "pytz" in ws.versions("alpha")


def test_condarc_remote_max_retries_bounds_the_tries_of_a_failing_fetch(
    make_workspace: Callable[..., Workspace],
) -> None:
    """A server that answers 503 to everything: rattler tries each URL once and then
    `remote_max_retries` more times, as conda does (CONDA_REMOTE_MAX_RETRIES wins)."""
    asked: list[str] = []

    class Unavailable(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_error(503)

        do_HEAD = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/chan"
        ws = make_workspace(PROXIED.replace("http://wsp-channel.invalid/chan", url))
        for var in [v for v in ws.env if v.lower().endswith("_proxy")]:
            del ws.env[var]
        (Path(ws.env["HOME"]) / ".condarc").write_text("remote_max_retries: 1\n")
        tries = {}
        for env in ({}, {"CONDA_REMOTE_MAX_RETRIES": "0"}):
            asked.clear()
            r = ws.wsp("plan", **env)
            assert r.code == 0 and "could not be reached" in r.output, r
            tries[env.get("CONDA_REMOTE_MAX_RETRIES", "condarc")] = max(
                asked.count(p) for p in asked
            )
        assert tries == {"condarc": 2, "0": 1}, asked
        ws.edit(url, (ws.root / "gone").as_uri())  # a file is read once: no retry to wait out
        r = ws.wsp("plan", CONDA_REMOTE_MAX_RETRIES="many")
        assert "warning: conda's remote_max_retries setting 'many' is not a whole number" in (
            r.stderr
        ), r
    finally:
        server.shutdown()
