"""conda-meta/history, frozen and state as conda writes them (issue 13, items 3-5).

The formats were measured with conda 26.7.1 (see docs/conda.md); test_real_conda.py has
conda itself read what is written here, when a conda is on PATH."""

from __future__ import annotations

import ast
import json
import os
import stat
from pathlib import Path

import pytest

from wsp import condameta
from wsp.engines.rattler import _Route, canonicalize_records
from wsp.userconfig import UserConfig


def record(prefix: Path, name: str, version: str, build: str, channel: str, subdir: str) -> None:
    """A conda-meta record, as rattler writes one (the fields history needs)."""
    meta = prefix / "conda-meta"
    meta.mkdir(parents=True, exist_ok=True)
    data = {
        "name": name,
        "version": version,
        "build": build,
        "subdir": subdir,
        "channel": channel,
        "url": f"{channel}{subdir}/{name}-{version}-{build}.tar.bz2",
    }
    (meta / f"{name}-{version}-{build}.json").write_text(json.dumps(data))


def test_dist_str_names_the_channel_as_conda_does() -> None:
    cfg = UserConfig()
    rec = {"name": "numpy", "version": "2.0.0", "build": "py_0", "subdir": "linux-64"}
    forge = {**rec, "channel": "https://conda.anaconda.org/conda-forge/"}
    assert condameta.dist_str(forge, cfg) == "conda-forge/linux-64::numpy-2.0.0-py_0"
    # conda's own records name the channel with its subdir
    by_conda = {**rec, "channel": "https://conda.anaconda.org/conda-forge/linux-64"}
    assert condameta.dist_str(by_conda, cfg) == "conda-forge/linux-64::numpy-2.0.0-py_0"
    local_by_conda = {**rec, "channel": "file:///srv/chan/linux-64"}
    assert condameta.dist_str(local_by_conda, cfg) == (
        "file:///srv/chan/linux-64::numpy-2.0.0-py_0"
    )
    local = {**rec, "channel": "file:///srv/chan/"}
    assert condameta.dist_str(local, cfg) == "file:///srv/chan/linux-64::numpy-2.0.0-py_0"
    main = {**rec, "channel": "https://repo.anaconda.com/pkgs/main"}
    assert condameta.dist_str(main, cfg) == "defaults/linux-64::numpy-2.0.0-py_0"
    secret = {**rec, "channel": "https://u:pw@host.example/t/tk-123/chan"}
    assert "pw" not in condameta.dist_str(secret, cfg)
    assert "tk-123" not in condameta.dist_str(secret, cfg)
    # the user's channel_alias decides what conda calls a name on this machine
    aliased = UserConfig(channel_alias="https://mirror.example/conda")
    mirrored = {**rec, "channel": "https://mirror.example/conda/conda-forge"}
    assert condameta.dist_str(mirrored, aliased) == "conda-forge/linux-64::numpy-2.0.0-py_0"


def test_history_on_create_update_and_a_dropped_spec(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    chan = "https://conda.anaconda.org/conda-forge/"
    record(prefix, "python", "3.11.2", "h0", chan, "linux-64")
    record(prefix, "numpy", "1.26.4", "py_0", chan, "linux-64")
    record(prefix, "six", "1.16.0", "pyh_0", chan, "noarch")
    (prefix / "conda-meta" / "history").touch()  # rattler leaves it empty

    specs = ["python=3.11", "numpy>=1.26", "six"]
    assert condameta.record_change(
        prefix, specs, cmd="wsp apply --target demo", conda_version="26.7.1.post3", when=0
    )
    text = (prefix / "conda-meta" / "history").read_text()
    lines = text.splitlines()
    assert lines[0].startswith("==> ") and lines[0].endswith(" <==")
    assert lines[1:3] == ["# cmd: wsp apply --target demo", "# conda version: 26.7.1"]
    assert lines[3:6] == [
        "+conda-forge/linux-64::numpy-1.26.4-py_0",
        "+conda-forge/linux-64::python-3.11.2-h0",
        "+conda-forge/noarch::six-1.16.0-pyh_0",
    ]
    assert lines[6] == "# update specs: ['python=3.11', 'numpy>=1.26', 'six']"
    assert ast.literal_eval(lines[6].split(": ", 1)[1]) == specs
    assert condameta.requested_specs(prefix) == {
        "python": "python=3.11",
        "numpy": "numpy>=1.26",
        "six": "six",
    }
    # nothing changed: nothing written
    assert not condameta.record_change(prefix, specs, cmd="wsp apply")

    # six is no longer declared and numpy moves on
    (prefix / "conda-meta" / "six-1.16.0-pyh_0.json").unlink()
    (prefix / "conda-meta" / "numpy-1.26.4-py_0.json").unlink()
    record(prefix, "numpy", "2.0.0", "py_0", chan, "linux-64")
    assert condameta.record_change(prefix, ["python=3.11", "numpy>=2"], cmd="wsp apply")
    section = (prefix / "conda-meta" / "history").read_text().split("==> ")[-1].splitlines()
    assert section[1:] == [
        "# cmd: wsp apply",
        "-conda-forge/linux-64::numpy-1.26.4-py_0",
        "-conda-forge/noarch::six-1.16.0-pyh_0",
        "+conda-forge/linux-64::numpy-2.0.0-py_0",
        "# remove specs: ['six']",
        "# update specs: ['python=3.11', 'numpy>=2']",
    ]
    assert condameta.requested_specs(prefix) == {"python": "python=3.11", "numpy": "numpy>=2"}
    assert condameta.history_state(prefix) == condameta.prefix_dists(prefix)

    # a spec changes, no package does: the section lists the whole set, as conda's old
    # format does (a section without +/- lines is the full state to conda)
    assert condameta.record_change(prefix, ["python=3.11", "numpy>=2.0"], cmd="wsp apply")
    section = (prefix / "conda-meta" / "history").read_text().split("==> ")[-1].splitlines()
    assert section[2:4] == [
        "conda-forge/linux-64::numpy-2.0.0-py_0",
        "conda-forge/linux-64::python-3.11.2-h0",
    ]
    assert condameta.history_state(prefix) == condameta.prefix_dists(prefix)


def test_history_never_carries_a_credential(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    record(prefix, "zlib", "1.3.1", "h0", "https://me:s3cret@host.example/t/tok-42/c/", "noarch")
    condameta.record_change(prefix, ["zlib"], cmd="wsp apply https://me:s3cret@host.example/x")
    text = (prefix / "conda-meta" / "history").read_text()
    assert "s3cret" not in text and "tok-42" not in text


def test_frozen_marker_and_its_message(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    (prefix / "conda-meta").mkdir(parents=True)
    message = condameta.frozen_message(
        workspace="acme", manifest=Path("/src/acme/workspace.toml"), project="vision", env="vision"
    )
    for needed in ("/src/acme/workspace.toml", "wsp apply", "wsp add vision", "--override-frozen"):
        assert needed in message
    assert "would not last: wsp's next apply puts back what workspace.toml says" in message
    condameta.write_frozen(prefix, message)
    assert json.loads((prefix / "conda-meta" / "frozen").read_text()) == {"message": message}
    assert condameta.frozen_by_wsp(prefix)
    assert condameta.unfreeze(prefix)
    assert not (prefix / "conda-meta" / "frozen").exists()
    # a frozen marker someone else wrote stays
    (prefix / "conda-meta" / "frozen").write_text('{"message": "frozen by the admin"}')
    assert not condameta.unfreeze(prefix)
    assert (prefix / "conda-meta" / "frozen").exists()


def test_state_env_vars_in_conda_s_format(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    (prefix / "conda-meta").mkdir(parents=True)
    condameta.write_env_vars(prefix, {"OMP_NUM_THREADS": "8", "GREETING": "héllo wörld"})
    raw = (prefix / "conda-meta" / "state").read_text(encoding="utf-8")
    # byte for byte what `conda env config vars set OMP_NUM_THREADS=8 GREETING=...` writes
    assert raw == (
        '{\n  "env_vars": {\n    "OMP_NUM_THREADS": "8",\n    "GREETING": "héllo wörld"\n  }\n}'
    )
    mode = stat.S_IMODE((prefix / "conda-meta" / "state").stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
    # other keys kept; an empty set of variables leaves no env_vars key
    (prefix / "conda-meta" / "state").write_text('{"env_vars": {"A": "1"}, "other": 1}')
    condameta.write_env_vars(prefix, {})
    assert json.loads((prefix / "conda-meta" / "state").read_text()) == {"other": 1}
    with pytest.raises(ValueError, match="not a variable name"):
        condameta.write_env_vars(prefix, {"BAD;rm -rf ~": "x"})
    with pytest.raises(ValueError, match="PATH"):
        condameta.write_env_vars(prefix, {"PATH": "/evil"})
    assert condameta.env_var_problem("OMP_NUM_THREADS") is None
    assert condameta.env_var_problem("1X") is not None


def test_records_renamed_to_the_canonical_channel(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    record(prefix, "six", "1.16.0", "pyh_0", "https://u:pw@mirror.example/t/tk-9/forge/", "noarch")
    record(prefix, "zlib", "1.3.1", "h0", "file:///srv/other/", "linux-64")
    path = prefix / "conda-meta" / "six-1.16.0-pyh_0.json"
    path.chmod(0o644)
    routes = [
        _Route(
            "https://conda.anaconda.org/conda-forge/", "https://u:pw@mirror.example/t/tk-9/forge/"
        )
    ]
    assert canonicalize_records(prefix, routes) == 1
    data = json.loads(path.read_text())
    assert data["channel"] == "https://conda.anaconda.org/conda-forge/"
    assert data["url"] == "https://conda.anaconda.org/conda-forge/noarch/six-1.16.0-pyh_0.tar.bz2"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    other = json.loads((prefix / "conda-meta" / "zlib-1.3.1-h0.json").read_text())
    assert other["channel"] == "file:///srv/other/"
    assert canonicalize_records(prefix, routes) == 0
    assert condameta.dist_str(data) == "conda-forge/noarch::six-1.16.0-pyh_0"


def test_a_record_as_rattler_writes_it_keeps_every_other_byte(tmp_path: Path) -> None:
    """A record in rattler's layout (two-space indent, its own key order, no final newline)
    gets its channel and URL replaced where they are written; one in any other layout, or
    whose url is not a plain top-level string, is read and written whole."""
    mirror = "https://mirror.example/forge/"
    canonical = "https://conda.anaconda.org/conda-forge/"
    routes = [_Route(canonical, mirror)]
    meta = tmp_path / "env" / "conda-meta"
    meta.mkdir(parents=True)
    url = f"{mirror}noarch/six-1.16.0-pyh_0.tar.bz2"
    data = {
        "name": "six",
        "url": url,
        "channel": mirror,
        "depends": ["python"],
        "note": 'a "url": inside a string, \n  "url": "x" too, and ünïcode',
        "paths_data": {"paths": [{"_path": "a.py", "url": url, "channel": mirror}]},
        "files": ["a.py"],
    }
    rattlers = meta / "six-1.16.0-pyh_0.json"
    rattlers.write_text(json.dumps(data, indent=2, ensure_ascii=False))  # rattler's layout
    before = rattlers.read_text()
    assert canonicalize_records(tmp_path / "env", routes) == 1
    after = rattlers.read_text()
    new_url = f"{canonical}noarch/six-1.16.0-pyh_0.tar.bz2"
    assert after == before.replace(f'\n  "url": "{url}"', f'\n  "url": "{new_url}"').replace(
        f'\n  "channel": "{mirror}"', f'\n  "channel": "{canonical}"'
    )
    assert json.loads(after) == {**data, "url": new_url, "channel": canonical}
    # other layouts: four spaces, one line, one space (a nested key at two spaces)
    for i, dumped in enumerate(
        [
            json.dumps(data, indent=4),
            json.dumps(data),
            json.dumps({**data, "paths_data": {"url": url, "channel": mirror}}, indent=1),
            json.dumps({**data, "url": {"x": url}}, indent=2),
        ]
    ):
        other = meta / f"other-{i}-0.json"
        other.write_text(dumped)
        changed = canonicalize_records(tmp_path / "env", routes)
        got = json.loads(other.read_text())
        if i < 3:
            assert changed == 1 and got["url"] == new_url and got["channel"] == canonical, i
            assert {k: v for k, v in got.items() if k not in ("url", "channel")} == {
                k: v for k, v in json.loads(dumped).items() if k not in ("url", "channel")
            }
        else:
            assert changed == 0 and got == json.loads(dumped)  # its url is no string: kept
        other.unlink()


def test_dist_strings_read_from_a_records_top_fields_are_those_of_the_whole_record(
    tmp_path: Path,
) -> None:
    """The env's dist strings, read from the few top-level fields of records as rattler
    writes them, are what conda's reading of the whole record gives, whatever the layout."""
    meta = tmp_path / "env" / "conda-meta"
    meta.mkdir(parents=True)
    forge = "https://conda.anaconda.org/conda-forge/"
    base = {"version": "1.0", "build": "h0", "subdir": "linux-64"}
    records = {
        "a": {**base, "name": "a", "channel": forge, "url": f"{forge}linux-64/a-1.0-h0.conda"},
        "b": {  # no channel: taken from the url, as conda does
            **base,
            "name": "b",
            "channel": "",
            "url": "file:///srv/chan/linux-64/b-1.0-h0.conda",
            "paths_data": {"paths": [{"name": "x", "channel": "y", "subdir": "z"}]},
        },
        "c": {**base, "name": "c", "url": f"{forge}linux-64/c-1.0-h0.conda"},  # no channel key
    }
    for i, (name, data) in enumerate(records.items()):
        layout = json.dumps(data, indent=2) if i < 2 else json.dumps(data, indent=4)
        (meta / f"{name}-1.0-h0.json").write_text(layout)
    assert (
        condameta.prefix_dists(tmp_path / "env")
        == {condameta.dist_str(d) for d in records.values()}
        == {
            "conda-forge/linux-64::a-1.0-h0",
            "file:///srv/chan/linux-64::b-1.0-h0",
            "conda-forge/linux-64::c-1.0-h0",
        }
    )


def test_records_of_a_staged_env_are_rewritten_in_place_a_linked_one_never(
    tmp_path: Path,
) -> None:
    """In an env built beside (not yet moved into place) a record is rewritten where it is;
    one that is a hard link to another file is replaced, never written through."""
    prefix = tmp_path / "env"
    mirror = "https://mirror.example/forge/"
    record(prefix, "six", "1.16.0", "pyh_0", mirror, "noarch")
    record(prefix, "idna", "3.7", "pyh_0", mirror, "noarch")
    meta = prefix / "conda-meta"
    six, idna = meta / "six-1.16.0-pyh_0.json", meta / "idna-3.7-pyh_0.json"
    elsewhere = tmp_path / "elsewhere.json"
    os.link(idna, elsewhere)
    before = elsewhere.read_text()
    inode = six.stat().st_ino
    routes = [_Route("https://conda.anaconda.org/conda-forge/", mirror)]
    assert canonicalize_records(prefix, routes, staged=True) == 2
    assert six.stat().st_ino == inode
    assert elsewhere.read_text() == before and idna.stat().st_ino != elsewhere.stat().st_ino
    for path in (six, idna):
        assert json.loads(path.read_text())["channel"] == "https://conda.anaconda.org/conda-forge/"


def test_a_records_fields_are_read_from_its_head_or_else_whole(tmp_path: Path) -> None:
    """rattler writes a record's fields before its file lists, conda (sorted) some after:
    both are read right, and a rattler record's file lists are not read at all."""
    from wsp.fsutil import record_fields, record_head

    fields = {"name": "six", "version": "1.16.0", "build": "py_0", "url": "https://x/six.conda"}
    files = [f"lib/f{i}.py" for i in range(20000)]
    rattler_order = tmp_path / "rattler.json"
    rattler_order.write_text(json.dumps({**fields, "files": files}, indent=2))
    conda_order = tmp_path / "conda.json"
    conda_order.write_text(json.dumps({**fields, "files": files}, indent=2, sort_keys=True))
    keys = ("name", "version", "url")
    for path in (rattler_order, conda_order):
        assert record_fields(path, keys) == {k: fields[k] for k in keys}, path
    head, cut = record_head(rattler_order)
    assert cut and "f19999" not in head and len(head) < 200
    compact = tmp_path / "compact.json"
    compact.write_text(json.dumps(fields))
    assert record_fields(compact, keys) is None  # not a key a line: the caller parses it
