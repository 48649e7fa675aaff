"""Channel identity and the user's configuration (issue 13, item 5): .condarc keys merged as
conda merges them, wsp's user file, canonical URLs that no mirror changes, credentials
used but never shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wsp import conda
from wsp.errors import WspError
from wsp.userconfig import (
    DEFAULT_CHANNELS,
    UserConfig,
    condarc_sequence,
    load_user_config,
    redact,
    strip_credentials,
)

FORGE = "https://conda.anaconda.org/conda-forge"


@pytest.fixture(autouse=True)
def private_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for var in list(os.environ):
        if var.startswith(("CONDA", "MAMBA", "WSP_", "XDG_")) or var.lower().endswith("_proxy"):
            monkeypatch.delenv(var)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("WSP_CONDA_ROOT", str(tmp_path / "no-conda"))
    conda.find_conda.cache_clear()
    yield home
    conda.find_conda.cache_clear()


def test_canonical_urls_are_the_same_on_every_machine(tmp_path: Path) -> None:
    plain = UserConfig()
    tuned = UserConfig(
        channel_alias="https://mirror.example/conda",
        custom_channels={"conda-forge": "https://other.example/c"},
        mirrors={"conda-forge": ("file:///srv/forge/",)},
    )
    for cfg in (plain, tuned):
        assert cfg.canonical_url("conda-forge") == FORGE
        assert cfg.canonical_url("conda-forge/") == FORGE
        assert cfg.canonical_url(f"{FORGE}/") == FORGE
        assert cfg.canonical_url("https://u:pw@host.example/t/tok-1/chan/") == (
            "https://host.example/chan"
        )
        assert cfg.canonical_urls("defaults") == DEFAULT_CHANNELS
    local = tmp_path / "chan"
    assert plain.canonical_url(str(local) + "/") == local.as_uri()


def test_where_a_channel_is_fetched_from() -> None:
    assert UserConfig().locations("conda-forge") == (FORGE,)
    cfg = UserConfig(
        channel_alias="https://mirror.example/conda/",
        custom_channels={"lab": "https://lab.example/pkgs"},
        mirrors={FORGE: ("file:///srv/user-forge/",)},
    )
    workspace = {"conda-forge": ["file:///srv/ws-forge"]}
    # the user's mirror, then the workspace's, then conda's own location for the name
    assert cfg.locations("conda-forge", workspace) == (
        "file:///srv/user-forge",
        "file:///srv/ws-forge",
        "https://mirror.example/conda/conda-forge",
    )
    assert cfg.resolve("conda-forge", workspace)[0].canonical == FORGE
    assert cfg.locations("lab/label/dev") == ("https://lab.example/pkgs/lab/label/dev",)
    assert cfg.canonical_url("lab") == "https://conda.anaconda.org/lab"
    # default_channels and custom_multichannels say what a multichannel stands for
    multi = UserConfig(
        default_channels=("https://internal.example/main",),
        custom_multichannels={"mine": ("conda-forge", "https://x.example/extra")},
    )
    assert [r.canonical for r in multi.resolve("defaults")] == ["https://internal.example/main"]
    assert multi.canonical_urls("mine") == (FORGE, "https://x.example/extra")


def test_a_user_mirror_of_defaults_serves_main_and_r_unless_one_has_its_own() -> None:
    main, r = DEFAULT_CHANNELS
    cfg = UserConfig(mirrors={"defaults": ("file:///srv/defaults",), r: ("file:///srv/r",)})
    assert cfg.fetch_locations(main, main, (main,)) == ("file:///srv/defaults", main)
    assert cfg.fetch_locations(r, r, (r,)) == ("file:///srv/r", r)
    assert cfg.fetch_locations(FORGE, FORGE, (FORGE,)) == (FORGE,)


def test_canonical_name_is_what_conda_writes_in_history() -> None:
    cfg = UserConfig(custom_channels={"lab": "https://lab.example/pkgs"})
    assert cfg.canonical_name(FORGE + "/") == "conda-forge"
    assert cfg.canonical_name("https://repo.anaconda.com/pkgs/r") == "defaults"
    assert cfg.canonical_name("https://lab.example/pkgs/lab/label/dev") == "lab/label/dev"
    assert cfg.canonical_name("file:///srv/chan/") == "file:///srv/chan"


def test_credentials_are_redacted_and_stripped() -> None:
    url = "https://alice:s3cret@host.example/t/tok-42/conda-forge/"
    shown = redact(url)
    assert "s3cret" not in shown and "tok-42" not in shown and "alice" not in shown
    assert shown == "https://********@host.example/t/********/conda-forge/"
    assert strip_credentials(url) == "https://host.example/conda-forge/"
    assert redact(FORGE) == FORGE
    loc = UserConfig(mirrors={FORGE: (url,)}).resolve("conda-forge")[0]
    assert loc.locations[0] == url.rstrip("/")  # used to fetch
    assert "s3cret" not in str(loc.redacted_locations)


def test_condarc_keys_merged_as_conda_merges_them(
    private_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (private_home / ".config" / "conda").mkdir(parents=True)
    (private_home / ".config" / "conda" / "condarc").write_text(
        "channel_alias: https://first.example\n"
        "pkgs_dirs: [/srv/pkgs-a]\n"
        "custom_channels: {lab: 'https://lab-a.example', other: 'https://o.example'}\n"
        "proxy_servers: {https: 'http://proxy-a:8080'}\n"
    )
    (private_home / ".condarc").write_text(
        "channel_alias: https://second.example\n"
        "pkgs_dirs: [/srv/pkgs-b]\n"
        "custom_channels: {lab: 'https://lab-b.example'}\n"
        "default_channels: [https://internal.example/main]\n"
        "envs_dirs: [/srv/envs]\n"
        "ssl_verify: /etc/ssl/corp.pem\n"
        "custom_multichannels: {mine: [conda-forge, bioconda]}\n"
    )
    monkeypatch.setenv("CONDA_PKGS_DIRS", "/srv/pkgs-env")
    cfg = load_user_config()
    assert cfg.channel_alias == "https://second.example"  # the later file wins
    assert cfg.pkgs_dirs == ("/srv/pkgs-env", "/srv/pkgs-b", "/srv/pkgs-a")
    assert cfg.custom_channels == {"lab": "https://lab-b.example", "other": "https://o.example"}
    assert cfg.default_channels == ("https://internal.example/main",)
    assert cfg.envs_dirs == ("/srv/envs",)
    assert cfg.ssl_verify == "/etc/ssl/corp.pem"
    assert cfg.custom_multichannels == {"mine": ("conda-forge", "bioconda")}
    assert cfg.proxy_for("https://conda.anaconda.org/x") == "http://proxy-a:8080"
    monkeypatch.setenv("CONDA_SSL_VERIFY", "false")
    assert load_user_config().ssl_verify is False
    assert condarc_sequence("pkgs_dirs", files=[{"pkgs_dirs": ["/a"]}, {"pkgs_dirs": "/b"}]) == [
        "/srv/pkgs-env",
        "/b",
        "/a",
    ]


def test_standard_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://corp-proxy:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    cfg = UserConfig()
    assert cfg.proxy_for("https://conda.anaconda.org/conda-forge") == "http://corp-proxy:3128"
    assert cfg.proxy_for("https://internal.example/main") is None
    assert cfg.proxy_for("file:///srv/chan") is None
    explicit = UserConfig(proxy_servers={"https://conda.anaconda.org": "http://p:1"})
    assert explicit.proxy_for(FORGE) == "http://p:1"


def test_what_the_fetchers_are_given_of_the_network() -> None:
    cfg = UserConfig(
        proxy_servers={"all": "http://p:1", "https": "http://s:2", "https://host.example": "x"},
        ssl_verify="/etc/ssl/corp.pem",
        remote_max_retries=" 5 ",
    )
    assert cfg.scheme_proxies() == {"http": "http://p:1", "https": "http://s:2"}
    assert cfg.host_proxies() == ["https://host.example"]
    assert cfg.network_env() == {
        "HTTP_PROXY": "http://p:1",
        "HTTPS_PROXY": "http://s:2",
        "SSL_CERT_FILE": "/etc/ssl/corp.pem",
        "UV_HTTP_RETRIES": "5",  # uv tries a failed request as often as conda's fetcher
    }
    assert UserConfig(ssl_verify=False).network_env() == {}
    for written, read in (("0", 0), ("-1", None), ("3.5", None), ("True", None), (None, None)):
        assert UserConfig(remote_max_retries=written).max_retries() == read, written


def test_wsp_user_file(private_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = private_home / ".config" / "wsp" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('[mirrors]\n"conda-forge" = ["file:///srv/forge"]\n')
    cfg = load_user_config()
    assert cfg.user_file == path
    assert cfg.locations("conda-forge")[0] == "file:///srv/forge"

    path.write_text('[mirrors]\n"conda-forge" = "file:///srv/forge"\n"x" = [1]\n')
    with pytest.raises(WspError) as exc:
        load_user_config()
    assert f"{path}:3:1:" in str(exc.value) and "list of URLs" in str(exc.value)

    path.write_text("[mirrors]\n[proxies]\n")
    with pytest.raises(WspError, match=r":2:1: unknown table or key 'proxies'"):
        load_user_config()
    path.write_text("[mirrors\n")
    with pytest.raises(WspError, match=r"config.toml:1:\d+: "):
        load_user_config()
    monkeypatch.setenv("WSP_CONFIG", str(private_home / "elsewhere.toml"))
    assert load_user_config().mirrors == {}
