"""The workspace.toml schema as pydantic models. Key names are the product's contract."""

from __future__ import annotations

import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wsp.manifest.loader import DEFAULT_NAMING_PATTERN

Severity = Literal["error", "warn", "off"]
ChannelPriority = Literal["strict", "flexible", "disabled"]
# A date ("2026-06-01", the whole day in UTC) or an RFC 3339 timestamp, quoted or as TOML writes it.
Cutoff = str | datetime.date | datetime.datetime

_EXCLUDE_NEWER = (
    "Ignore conda packages built, and pip distributions uploaded, after this: a date "
    '("2026-06-01": the whole day, UTC, is included) or an RFC 3339 timestamp.'
)

DEFAULT_FORBIDDEN = ["env", "env1", "test", "tmp", "new", "myenv", "base"]
DEFAULT_BASE_ALLOWED = ["conda", "mamba", "python", "pip"]


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=_kebab,
        populate_by_name=True,
        frozen=True,
        strict=True,  # TOML is typed: "yes" is no boolean, "3" no number
    )


_REQUIREMENTS_DOC = (
    "What a machine must offer to run the env, as virtual packages: the env is solved "
    "with them on any machine, and apply checks the host against them. Keys: cuda "
    "(driver version), glibc, linux (kernel), macos, archspec (a microarchitecture such "
    'as "x86_64_v3"), or a raw virtual package written "__name". Values are strings.'
)


class SystemRequirements(BaseModel):
    """What a machine must offer, as virtual packages: `{ cuda = "12.0" }`."""

    # Names are checked by the loader (an unknown one is a located error with a suggestion).

    model_config = ConfigDict(
        extra="allow",
        frozen=True,
        json_schema_extra={
            "additionalProperties": False,
            "patternProperties": {"^__[a-z0-9][a-z0-9_.-]*$": {"type": "string"}},
        },
    )
    __pydantic_extra__: dict[str, str]

    cuda: str | None = Field(None, description='CUDA driver version (__cuda), e.g. "12.0".')
    glibc: str | None = Field(None, description='glibc version (__glibc), e.g. "2.28".')
    linux: str | None = Field(None, description='Linux kernel version (__linux), e.g. "5.10".')
    macos: str | None = Field(None, description='macOS version (__osx), e.g. "13.0".')
    archspec: str | None = Field(
        None, description='CPU microarchitecture (__archspec), e.g. "x86_64_v3".'
    )

    def items(self) -> list[tuple[str, str]]:
        """(key, value) in the order written, unset known keys left out."""
        fields = [(k, getattr(self, k)) for k in type(self).model_fields]
        extra = list((self.__pydantic_extra__ or {}).items())
        return [(k, v) for k, v in fields + extra if v is not None]


class PlatformVariant(_Model):
    """One entry of `[workspace] platforms` written as a table: a named platform variant."""

    name: str = Field(description='The variant\'s name, e.g. "linux-64-cuda".')
    platform: str | None = Field(
        None, description="The conda platform it is for; default: the name, when it is one."
    )
    system_requirements: SystemRequirements = Field(
        default_factory=SystemRequirements, description=_REQUIREMENTS_DOC
    )


class WorkspaceTable(_Model):
    """`[workspace]`: what the whole workspace shares."""

    name: str = Field(description="Required. Names the workspace; owns the envs it creates.")
    description: str | None = Field(None, description="Free text, shown by `wsp status`.")
    channels: list[str] = Field(
        default_factory=lambda: ["conda-forge"],
        description="Shared channels, highest priority first: names, URLs or local paths.",
    )
    channel_priority: ChannelPriority = Field(
        "strict", description="strict | flexible | disabled, as in conda."
    )
    platforms: list[str | PlatformVariant] = Field(
        default_factory=list,
        description="Platforms `wsp lock` solves for; default: this machine's. A table "
        "{ name, platform, system-requirements } is a named platform variant; apply builds "
        "an env for the first variant of its platform the machine can run.",
    )
    system_requirements: SystemRequirements = Field(
        default_factory=SystemRequirements, description=_REQUIREMENTS_DOC
    )
    envs_dir: str | None = Field(
        None,
        description="Where envs live (relative to the workspace root). Default: conda's first "
        "envs dir when conda is found, else `.wsp/envs`.",
    )
    env_prefix: str = Field("", description='Prepended to every env name, e.g. "acme-".')
    freeze_envs: bool = Field(
        True,
        description="Mark every env wsp owns frozen, as conda defines it (CEP 22), so conda "
        "refuses to change it behind wsp's back. `false` leaves conda free to.",
    )
    mirrors: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Channel name or URL -> where to fetch it from, tried in order.",
    )
    pip_index_url: str | None = Field(
        None, description="The Python package index uv uses for pip requirements (default PyPI)."
    )
    pip_extra_index_urls: list[str] = Field(
        default_factory=list, description="More package indexes, after pip-index-url."
    )
    pip_find_links: list[str] = Field(
        default_factory=list,
        description="Folders (relative to the workspace root) or URLs of wheels uv may use.",
    )
    pip_no_index: bool = Field(
        False, description="Use only pip-find-links, no package index (offline installs)."
    )
    jupyter_data_dir: str | None = Field(
        None,
        description="The Jupyter data dir kernels are written to (its kernels/ folder), e.g. a "
        "JupyterHub's <sys.prefix>/share/jupyter; relative to the workspace root. Default: the "
        "user's, as jupyter_core computes it (JUPYTER_DATA_DIR when set).",
    )
    exclude_newer: Cutoff | None = Field(None, description=_EXCLUDE_NEWER)
    keep_builds: int = Field(
        1,
        ge=0,
        description="How many earlier builds of each env are kept for `wsp rollback` "
        "(their package records only: the packages stay in the package cache).",
    )


class JupyterTable(_Model):
    """`jupyter = { name = "...", display-name = "..." }`: the kernel of a project."""

    name: str | None = Field(
        None, description="The kernel's name (its folder); default: the env name."
    )
    display_name: str | None = Field(
        None, description='What the notebook picker shows; default like "Python 3.11 (vision)".'
    )


JUPYTER_DESCRIPTION = (
    "A Jupyter kernel for this env: true, false, or a table with name and display-name."
)


def _jupyter(value: Any, handler: Any) -> bool | JupyterTable | None:
    """true, false or a table; errors located at the key, not at a member of the union."""
    if isinstance(value, dict):
        return JupyterTable.model_validate(value, by_alias=True, by_name=False)
    if value is None or isinstance(value, bool | JupyterTable):
        return value
    from pydantic_core import PydanticCustomError

    example = '{ name = "vision", display-name = "Vision" }'
    raise PydanticCustomError(
        "jupyter_type", f"must be true, false or a table like {example}, not {value!r}"
    )


class Template(_Model):
    """`[templates.NAME]`: a reusable block that projects (or other templates) extend."""

    python: str | None = Field(None, description="A conda version spec for Python.")
    channels: list[str] = Field(
        default_factory=list, description="Channels added before the workspace's."
    )
    dependencies: list[str] = Field(default_factory=list, description="Conda match specs.")
    pip: list[str] = Field(default_factory=list, description="PEP 508 requirements.")
    extends: list[str] = Field(default_factory=list, description="Templates merged in, in order.")
    jupyter: bool | JupyterTable | None = Field(None, description=JUPYTER_DESCRIPTION)

    _check_jupyter = field_validator("jupyter", mode="wrap")(_jupyter)
    env_vars: dict[str, str] = Field(
        default_factory=dict,
        description="Environment variables of the env (set on activation, run and shell).",
    )
    exclude_newer: Cutoff | None = Field(None, description=_EXCLUDE_NEWER)
    system_requirements: SystemRequirements = Field(
        default_factory=SystemRequirements, description=_REQUIREMENTS_DOC
    )


class Project(_Model):
    """`[projects.NAME]`: one project, one conda env named after it."""

    path: str | None = Field(None, description="The project's folder; default projects/<name>.")
    description: str | None = None
    python: str | None = Field(
        None, description='A conda version spec: "3.9" means 3.9.*, ">=3.10" any 3.10 or newer.'
    )
    channels: list[str] = Field(
        default_factory=list,
        description="Channels of this project, before templates' and the workspace's.",
    )
    dependencies: list[str] = Field(default_factory=list, description="Conda match specs.")
    pip: list[str] = Field(
        default_factory=list, description="PEP 508 requirements, installed after conda packages."
    )
    environment_file: str | None = Field(
        None,
        description="An existing conda environment.yml (relative to the project path) merged in.",
    )
    extends: list[str] = Field(default_factory=list, description="Templates merged in, in order.")
    depends_on: list[str] = Field(
        default_factory=list, description="Projects whose dependencies this project needs too."
    )
    ignore: list[str] = Field(
        default_factory=list, description="Policy codes silenced for this project."
    )
    jupyter: bool | JupyterTable | None = Field(None, description=JUPYTER_DESCRIPTION)

    _check_jupyter = field_validator("jupyter", mode="wrap")(_jupyter)
    env_vars: dict[str, str] = Field(
        default_factory=dict,
        description="Environment variables of the env: set on activation (conda-meta/state, "
        "as `conda env config vars set` does), by `wsp run`, `wsp shell` and `wsp env`.",
    )
    pip_index_url: str | None = Field(
        None,
        description="This project's package index for pip requirements (over the workspace's).",
    )
    pip_extra_index_urls: list[str] = Field(
        default_factory=list,
        description="More package indexes for this project's pip requirements.",
    )
    pip_find_links: list[str] = Field(
        default_factory=list,
        description="Folders (relative to the project's path) or URLs of wheels for this project.",
    )
    exclude_newer: Cutoff | None = Field(
        None, description=_EXCLUDE_NEWER + " Overrides the workspace's and templates'."
    )
    system_requirements: SystemRequirements = Field(
        default_factory=SystemRequirements, description=_REQUIREMENTS_DOC
    )


class NamingPolicy(_Model):
    pattern: str = DEFAULT_NAMING_PATTERN
    forbidden: list[str] = Field(default_factory=lambda: list(DEFAULT_FORBIDDEN))


class BasePolicy(_Model):
    auto_activate: bool = False
    allowed: list[str] = Field(default_factory=lambda: list(DEFAULT_BASE_ALLOWED))


class PipPolicy(_Model):
    pinned: bool = False


class ChannelsPolicy(_Model):
    allowed: list[str] | None = None


class Policy(_Model):
    """`[policy]`: rules checked by `wsp check` (read now, enforced by the policy engine)."""

    naming: NamingPolicy = Field(default_factory=NamingPolicy)
    base: BasePolicy = Field(default_factory=BasePolicy)
    pip: PipPolicy = Field(default_factory=PipPolicy)
    channels: ChannelsPolicy = Field(default_factory=ChannelsPolicy)
    stale_days: int = Field(90, ge=1)
    rules: dict[str, Severity] = Field(default_factory=dict)


class Manifest(_Model):
    """The whole workspace.toml."""

    workspace: WorkspaceTable
    templates: dict[str, Template] = Field(default_factory=dict)
    projects: dict[str, Project] = Field(default_factory=dict)
    policy: Policy = Field(default_factory=Policy)


def json_schema() -> dict:
    """JSON Schema of workspace.toml, keys as users write them."""
    schema = Manifest.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "wsp workspace.toml"
    return schema
