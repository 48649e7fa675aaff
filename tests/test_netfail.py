"""A channel that can't be read: which URL failed, the cause and what to do next (issue 16,
point 1). Real failures through the CLI (a mistyped local mirror, an HTTP 404 from a local
server, a refused connection); rattler's own texts for DNS, TLS and a proxy, which need a
network this machine doesn't have, are read by wsp.netfail directly."""

from __future__ import annotations

import functools
import http.server
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cli import Workspace
from wsp.channels import redact_text
from wsp.netfail import classify

# Texts py-rattler 0.28 raised here (GatewayError), one per cause.
DNS = (
    "error sending request for url (https://nonexistent.invalid/cf/noarch/repodata_shards.msgpack.zst)\n"
    "Caused by: client error (Connect)\nCaused by: dns error\nCaused by: error resolving DNS\n"
    "Caused by: failed to lookup address information: Name or service not known"
)
TLS = (
    "error sending request for url (https://127.0.0.1:8766/channel/linux-64/repodata_shards.msgpack.zst)\n"
    "Caused by: client error (Connect)\n"
    "Caused by: invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))"
)
PROXY = (
    "error sending request for url (https://conda.anaconda.org/conda-forge/linux-64/repodata_shards.msgpack.zst)\n"
    "Caused by: client error (Connect)\nCaused by: tunnel error: failed to create underlying connection\n"
    "Caused by: tcp connect error\nCaused by: Connection refused (os error 111)"
)


def test_rattlers_texts_are_read_as_their_cause() -> None:
    dns = classify(DNS, "https://nonexistent.invalid/cf", environ={})
    assert (dns.kind, dns.url) == ("dns", "https://nonexistent.invalid/cf")
    assert dns.cause == "host nonexistent.invalid not found (DNS)"
    assert "HTTPS_PROXY" in dns.hint and "[workspace.mirrors]" in dns.hint
    tls = classify(TLS, "https://127.0.0.1:8766/channel", environ={})
    assert tls.kind == "tls" and "TLS certificate of 127.0.0.1:8766" in tls.cause
    assert "CaUsedAsEndEntity" in tls.cause and "CA certificate" in tls.hint
    proxy = classify(PROXY, environ={"HTTPS_PROXY": "http://me:s3cret@proxy.example:3128"})
    assert proxy.kind == "proxy" and "HTTPS_PROXY=http://********@proxy.example:3128" in proxy.cause
    assert "s3cret" not in proxy.cause + proxy.hint
    assert len(proxy.chain) == 5


def test_credentials_in_urls_are_never_shown() -> None:
    text = "HTTP status client error (403 Forbidden) for url (https://u:pw@host.example/t/tk-123/cf/noarch/repodata.json)"
    failure = classify(text)
    assert failure.kind == "auth" and "credentials" in failure.hint
    assert "pw" not in failure.summary and "tk-123" not in failure.summary
    assert "tk-123" not in redact_text(text) and "u:pw" not in redact_text(text)


@pytest.fixture(scope="module")
def http_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local HTTP server with nothing in it: every channel it is asked for is a 404."""
    root = tmp_path_factory.mktemp("http")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))

    class Quiet(handler.func):  # type: ignore[name-defined,misc]
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mirror(ws: Workspace, url: str) -> None:
    text = ws.manifest.read_text()
    start = text.index('"conda-forge" = [')
    end = text.index("]", start)
    ws.manifest.write_text(f'{text[:start]}"conda-forge" = ["{url}"{text[end:]}')


def test_plan_and_apply_say_which_url_failed_why_and_what_to_do(
    make_workspace: Callable[..., Workspace], tmp_path: Path, http_root: str
) -> None:
    ws = make_workspace()
    for var in [v for v in ws.env if v.lower().endswith("_proxy")]:
        del ws.env[var]  # a proxy of this machine would answer in the server's place
    ws.env["CONDA_REMOTE_MAX_RETRIES"] = "0"  # what fails, fails at once
    typo = tmp_path / "chanel"  # a mistyped mirror path
    cases = [
        (
            typo.as_uri(),
            f"({typo}/noarch/repodata.json: no such file)",
            "check the channel's path (its entry in [workspace.mirrors]",
        ),
        (
            f"{http_root}/conda-forge",
            f"({http_root}/conda-forge/noarch/repodata.json: HTTP 404",
            "the server has no such channel or subdir",
        ),
        (
            f"http://127.0.0.1:{(port := _free_port())}/conda-forge",
            f"(http://127.0.0.1:{port}/conda-forge: 127.0.0.1:{port} refused the connection)",
            "behind a proxy, set HTTPS_PROXY (or proxy_servers in .condarc)",
        ),
    ]
    for url, shown, hint in cases:
        _mirror(ws, url)
        plan = ws.wsp("plan", "--target", "finance")
        assert plan.code == 0, plan  # plan works offline with what it knows
        assert (
            f"? package versions unknown because channel conda-forge could not be reached {shown}"
            in plan.stdout
        ), plan
        [shown_hint] = [ln for ln in plan.stdout.splitlines() if ln.startswith("  hint: ")]
        assert hint in shown_hint, plan
        assert (
            "`wsp plan` works offline with what it knows; `wsp apply` needs the channel"
            in plan.stdout
        )
        data = ws.wsp("plan", "--json", "--target", "finance").json
        [action] = data["actions"]
        assert shown in action["packages_unknown"] and hint in action["packages_unknown_hint"]

        apply = ws.wsp("apply", "--yes", "--target", "finance")
        assert apply.code == 1, apply
        [line] = apply.stderr.splitlines()
        assert line.startswith("error: cannot apply: package versions unknown because channel"), (
            line
        )
        assert shown in line and hint in line and "nothing was changed" in line
        assert not (ws.envs_dir / "finance").exists()


def test_wsp_debug_and_verbose_add_rattlers_whole_chain(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    ws = make_workspace()
    _mirror(ws, (tmp_path / "gone").as_uri())
    plain = ws.wsp("apply", "--yes", "--target", "finance")
    assert "[rattler:" not in plain.stderr
    for extra, env in ((("-v",), {}), ((), {"WSP_DEBUG": "1"})):
        r = ws.wsp(*extra, "apply", "--yes", "--target", "finance", **env)
        assert r.code == 1, r
        assert "no such file" in r.stderr
        assert "[rattler: could not find subdir 'noarch' in channel" in r.stderr, r
        assert "<- failed to open file" in r.stderr
        assert "Traceback" not in r.stderr
