"""How fast does `wsp watch` follow a save? One table.

    python benchmarks/bench_watch.py              # debounce 30 ms (the default) and 300 ms
    python benchmarks/bench_watch.py --runs 11 --debounce 300

A real `python -m wsp watch --json` runs in a workspace of one project (python 3.12 +
click) against the fixture channel of tests/support/channel.py, built once in a temp dir,
the way the test suite runs wsp (tests/support/cli.py: private HOME, no conda). Each run
saves workspace.toml with a one-package change (six added, then removed again) and reads
the watch's events:

- save -> apply start: from the moment the save returned to the `apply` event with
  `phase: start` (the debounce, reading the files, loading, planning and solving);
- save -> env ready: to the `env` event that reports the env finished.

Event times are the watch's own `ts` (wall clock, ms), the save time this script's.
The aim: the apply starts within 0.15 s of the last save with the default debounce.
benchmarks/run.py imports `measure` for its two watch rows (default debounce only);
this script is the place to compare debounces.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.support.channel import build_channel  # noqa: E402
from tests.support.cli import base_env  # noqa: E402
from wsp.watch import DEFAULT_DEBOUNCE_MS  # noqa: E402

AIM_SECONDS = 0.15


def wsp_env(home: Path, cache: Path) -> dict[str, str]:
    """tests/support/cli.py's `base_env`, with this checkout first on PYTHONPATH: the
    `python -m wsp` measured is the code next to this script, whatever is installed; and
    Python's bytecode cache on, as for an installed wsp."""
    env = base_env(home, cache)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    # An installed wsp has its .pyc: measure that, not every module compiled from source
    # on every run (some sessions set PYTHONDONTWRITEBYTECODE).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


TOML = """\
[workspace]
name = "bench-watch"
channels = ["conda-forge"]
envs-dir = ".wsp/envs"

[workspace.mirrors]
"conda-forge" = ["{channel}"]

[projects.web]
python = "3.12"
dependencies = ["click"]
"""


class Watch:
    def __init__(self, root: Path, env: dict[str, str], debounce: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wsp", "watch", "--json", "--debounce", str(debounce)],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.put(json.loads(line))

    def wait(self, event: str, timeout: float = 60, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                e = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                self.proc.kill()
                sys.exit(f"no {event!r} event within {timeout} s: {self.proc.stderr.read()}")  # type: ignore[union-attr]
            if e["event"] == "error":
                sys.exit(f"wsp watch reported an error: {e['message']}")
            if e["event"] == event and all(e.get(k) == v for k, v in match.items()):
                return e

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=15)


def measure(
    tmp: Path, channel: Path, debounce: int, runs: int, cache: Path | None = None
) -> tuple[list[float], list[float]]:
    """Seconds from each save to the apply starting, and to the env being ready.

    The workspace, HOME and (unless `cache` names one) package cache go under `tmp`.
    benchmarks/run.py calls this for its watch rows."""
    root = tmp / f"ws-{debounce}"
    root.mkdir()
    manifest = root / "workspace.toml"
    plain = TOML.replace("{channel}", channel.as_uri())
    manifest.write_text(plain)
    watch = Watch(root, wsp_env(tmp / "home", cache or tmp / "cache"), debounce)
    watch.wait("watching")  # after the first reconcile built the env
    starts, ready = [], []
    for i in range(runs):
        with_six = plain.replace('["click"]', '["click", "six"]')
        manifest.write_text(with_six if i % 2 == 0 else plain)
        saved = time.time()
        starts.append(watch.wait("apply", phase="start")["ts"] - saved)
        ready.append(watch.wait("env", status="ok")["ts"] - saved)
        watch.wait("idle")
        time.sleep(0.2)
    watch.stop()
    return starts, ready


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:5.0f} ms  ({min(values) * 1000:.0f}-{max(values) * 1000:.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="saves per debounce (default 7)")
    parser.add_argument(
        "--debounce",
        type=int,
        action="append",
        metavar="MS",
        help="debounce to measure (repeatable; default 30 and 300)",
    )
    args = parser.parse_args()
    debounces = args.debounce or [DEFAULT_DEBOUNCE_MS, 300]
    with tempfile.TemporaryDirectory(prefix="wsp-bench-watch-") as tmp_:
        tmp = Path(tmp_)
        channel = build_channel(tmp / "channel")
        rows = [(d, *measure(tmp, channel, d, args.runs)) for d in debounces]
    print(f"\nwsp watch: one-package change, median (min-max) of {args.runs} saves\n")
    print(f"{'debounce':>9}  {'save -> apply start':<26}{'save -> env ready':<26}aim")
    for debounce, starts, ready in rows:
        verdict = "ok" if statistics.median(starts) <= AIM_SECONDS else "MISSED"
        verdict = verdict if debounce == DEFAULT_DEBOUNCE_MS else ""
        print(f"{debounce:>6} ms  {_ms(starts):<26}{_ms(ready):<26}{verdict}")
    print(
        f"\naim: the apply starts within {AIM_SECONDS:.2f} s of the last save at the default "
        f"debounce ({DEFAULT_DEBOUNCE_MS} ms)"
    )


if __name__ == "__main__":
    main()
