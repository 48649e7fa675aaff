"""Frozen dataclasses to JSON and back, driven by their type hints.

wsp's state files (the env marker, the desired-env cache) hold its own frozen dataclasses.
One generic codec writes and reads them all, so a field added to a dataclass is stored
without a serializer to update. pydantic's TypeAdapter would do the same, but importing
pydantic and building its schemas costs ~130 ms, which the no-op plan (one marker per
env, the cache) must not pay; this codec builds one small converter per type, once.

Supported: dataclasses, str/int/float/bool, None, Path, bytes (base64), enums, Literal,
`X | None`, tuple[X, ...], tuple[X, Y], list[X], frozenset[X], dict[str, X], Any.
A field whose metadata has `codec="skip"` is not stored (its default is used on load).
`dump(value, sparse=True)` leaves out the fields at their default too (a cache of many
small records reads faster); a dataclass that is a member of a union is told apart by
its fields, so it is marked `@dense` and always stored whole.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

Loader = Callable[[Any], Any]


_DENSE = "__codec_dense__"


def dense(cls: type[T]) -> type[T]:
    """Mark a dataclass to be stored with every field, even by a sparse dump: a member of
    a union, which `load` tells apart from the others by the fields it finds."""
    setattr(cls, _DENSE, True)
    return cls


def dump(value: Any, sparse: bool = False) -> Any:
    """A JSON-able form of `value` (dataclasses as objects of their stored fields; with
    `sparse`, of those not at their default)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if sparse and not getattr(value, _DENSE, False):
            defaults = _defaults(type(value))
            return {
                name: dump(v, sparse)
                for name in _stored(type(value))
                if (v := getattr(value, name)) is not defaults.get(name, _NO)
                and v != defaults.get(name, _NO)
            }
        return {name: dump(getattr(value, name), sparse) for name in _stored(type(value))}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        import base64

        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(k): dump(v, sparse) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [dump(v, sparse) for v in value]
    if isinstance(value, frozenset | set):
        return sorted(dump(v, sparse) for v in value)
    raise TypeError(f"codec can't store {type(value).__name__}")


_NO = object()


@cache
def _stored(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("codec") != "skip")


@cache
def _defaults(cls: type) -> dict[str, Any]:
    """Each field's default (a factory's made once: wsp's factories make empty values)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def load(tp: type[T], data: Any, **unstored: Any) -> T:
    """`data` (from `dump`) as a `tp`; raises ValueError when it does not fit. `unstored`
    gives a dataclass `tp` the fields `dump` left out (`codec="skip"`)."""
    try:
        if unstored:
            return tp(**{**_loader(tp)(data, partial=True), **unstored})
        return _loader(tp)(data)  # type: ignore[no-any-return]
    except (TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"not a {getattr(tp, '__name__', tp)}: {exc}") from None


@cache
def _loader(tp: Any) -> Loader:
    """One converter per type, built once."""
    if tp is Any:
        return lambda v: v
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass_loader(tp)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp
    if tp is Path:
        return _path
    if tp is bytes:
        import base64

        return lambda v: base64.b64decode(_of(str, v))
    if tp in (str, int, bool):
        return lambda v: v if v.__class__ is tp else _of(tp, v)
    if tp is float:
        return lambda v: float(_of((int, float), v))
    if tp is type(None):
        return lambda v: _none(v)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        allowed = set(args)
        return lambda v: v if v in allowed else _bad(f"{v!r} is not one of {sorted(allowed)}")
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        inner = _loader(options[0]) if len(options) == 1 else _first_of(options)
        return lambda v: None if v is None else inner(v)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _loader(args[0])
            return lambda v: tuple([item(x) for x in _of(list, v)])
        items = [_loader(a) for a in args]
        return lambda v: tuple(
            f(x) for f, x in zip(items, _exactly(_of(list, v), len(items)), strict=True)
        )
    if origin in (list, frozenset, set):
        item = _loader(args[0]) if args else _loader(Any)
        make = {list: list, frozenset: frozenset, set: set}[origin]
        return lambda v: make(item(x) for x in _of(list, v))
    if origin is dict:
        key, value = (_loader(args[0]), _loader(args[1])) if args else (str, _loader(Any))
        return lambda v: {key(k): value(x) for k, x in _of(dict, v).items()}
    raise TypeError(f"codec can't read {tp!r}")


def _dataclass_loader(cls: type) -> Loader:
    """Reads a `cls` through a loop over its fields, and through a function compiled for it
    once it has been read often: compiling costs as much as ~50 reads, and most classes
    are read a few times a run, a marker or a desired env once per env."""
    fields: list[_Field] = []  # made on first use: types may recurse
    compiled: list[Callable[..., Any]] = []
    uses = 0

    def load_one(v: Any, partial: bool = False) -> Any:
        """The dataclass (its keyword arguments only, when `partial`)."""
        nonlocal uses
        if compiled:
            return compiled[0](v, partial)
        if not fields:
            fields.extend(_fields(cls))
        uses += 1
        if uses > _COMPILE_AFTER:
            compiled.append(_compile(cls, fields))
            return compiled[0](v, partial)
        return _read(cls, fields, v, partial)

    return load_one


_COMPILE_AFTER = 50  # reads of a class before its loader is compiled (measured: the break-even)
_PRIMITIVES = (str, int, bool)
_ABSENT = object()


# How one stored field is read: (name, a str/int/bool type checked inline or None, whether
# None is taken as it is, the loader of any other type, whether it must be there).
_Field = tuple[str, type | None, bool, Loader | None, bool]


# Hints of str/int/bool (or None) as written, read without evaluating them.
_WRITTEN: dict[str, tuple[type, bool]] = {
    **{t.__name__: (t, False) for t in _PRIMITIVES},
    **{f"{t.__name__} | None": (t, True) for t in _PRIMITIVES},
}


def _fields(cls: type) -> list[_Field]:
    out: list[_Field] = []
    for f in dataclasses.fields(cls):
        if not f.init or f.metadata.get("codec") == "skip":
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if isinstance(f.type, str):
            if (written := _WRITTEN.get(f.type)) is not None:
                out.append((f.name, written[0], written[1], None, required))
            else:  # evaluated once the field is first read: the classes it names made then
                deferred = _Deferred(cls, f.name, f.type.endswith(" | None"))
                out.append((f.name, None, False, deferred, required))
            continue
        tp = f.type
        args = typing.get_args(tp)
        optional = typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args
        inner = [a for a in args if a is not type(None)] if optional else [tp]
        if len(inner) == 1 and inner[0] in _PRIMITIVES:
            out.append((f.name, inner[0], optional, None, required))
        else:
            out.append((f.name, None, False, _loader(tp), required))
    return out


class _Deferred:
    """The loader of a field whose hint is evaluated when a value of it is first read.

    A stored record leaves out a field at its default (`sparse`), so the classes only such
    fields name (pip sources, environment files, ...) are never made where no declaration
    uses them: making a dataclass costs ~0.4 ms on Python 3.11, and the no-op plan has
    none to spare. Such a hint names the class by its module's full name
    (`wsp.pip.PipSource`, under `if TYPE_CHECKING: import wsp.pip`), imported here."""

    __slots__ = ("cls", "loader", "name", "optional")

    def __init__(self, cls: type, name: str, optional: bool) -> None:
        self.cls, self.name, self.optional = cls, name, optional
        self.loader: Loader | None = None

    def __call__(self, v: Any) -> Any:
        if self.loader is None:
            if v is None and self.optional:  # `X | None`: None needs no X
                return None
            self.loader = _loader(_hint(self.cls, self.name))
        return self.loader(v)


def _hint(cls: type, name: str) -> Any:
    """The type a dataclass's field `name` is annotated with, evaluated where it is written."""
    import inspect
    import sys

    for klass in cls.__mro__:
        written = inspect.get_annotations(klass).get(name)
        if written is None:
            continue
        if not isinstance(written, str):
            return written
        module = sys.modules[klass.__module__]
        return eval(written, vars(module), _TypeNames(module, klass))  # a hint as wsp wrote it
    raise TypeError(f"codec: {cls.__name__}.{name} has no type hint")


class _TypeNames(dict[str, Any]):
    """The names a class's hints use, where `typing.get_type_hints` looks: its module's,
    the class's own, builtins; and `wsp.<module>.<Class>` for a class whose module is
    imported for type checking only, imported here."""

    def __init__(self, module: types.ModuleType, klass: type) -> None:
        super().__init__()
        self.module, self.klass = module, klass

    def __missing__(self, name: str) -> Any:
        import builtins

        for names in (vars(self.module), vars(self.klass), vars(builtins)):
            if (found := names.get(name, _ABSENT)) is not _ABSENT:
                return found
        if name == "wsp":
            return _Modules(name)
        raise KeyError(name)


class _Modules:
    """`wsp.a.b` in a hint: the module, imported when the hint is evaluated."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __getattr__(self, name: str) -> Any:
        import importlib

        module = importlib.import_module(self.path)
        found = getattr(module, name, _ABSENT)
        if found is _ABSENT or isinstance(found, types.ModuleType):
            return _Modules(f"{self.path}.{name}")
        return found


def _read(cls: type, fields: list[_Field], v: Any, partial: bool) -> Any:
    """A `cls` from its dict, field by field (what `_compile`'s function does, unrolled)."""
    data = v if v.__class__ is dict else _of(dict, v)
    kw: dict[str, Any] = {}
    for name, primitive, optional, loader, required in fields:
        x = data.get(name, _ABSENT)
        if x is _ABSENT:
            if required:
                raise ValueError(f"{cls.__name__} has no {name!r}")
            continue
        if loader is not None:
            x = loader(x)
        elif x.__class__ is not primitive and not (optional and x is None):
            x = _of(primitive, x)
        kw[name] = x
    return kw if partial else cls(**kw)


def _compile(cls: type, fields: list[_Field]) -> Callable[..., Any]:
    """One function that reads a `cls` from its dict: fields of str, int, bool (or None)
    checked inline, the others through their loaders. The no-op plan reads a marker and
    a cached env per env through these, so they are kept to plain bytecode."""
    names: dict[str, Any] = {"_of": _of, "_cls": cls, "_M": _ABSENT, "ValueError": ValueError}
    lines = [
        "def load(v, partial=False):",
        "    data = v if v.__class__ is dict else _of(dict, v)",
        "    kw = {}",
    ]
    for i, (name, primitive, optional, loader, required) in enumerate(fields):
        lines.append(f"    x = data.get({name!r}, _M)")
        lines.append("    if x is not _M:")
        if loader is None:
            names[f"t{i}"] = primitive
            test = f"x.__class__ is not t{i}" + (" and x is not None" if optional else "")
            lines.append(f"        if {test}:")
            lines.append(f"            x = _of(t{i}, x)")
            lines.append(f"        kw[{name!r}] = x")
        else:  # a deferred loader's own, once it has one: one call less per read
            if isinstance(loader, _Deferred) and loader.loader is not None:
                loader = loader.loader
            names[f"c{i}"] = loader
            lines.append(f"        kw[{name!r}] = c{i}(x)")
        if required:
            lines.append("    else:")
            lines.append(f"        raise ValueError({f'{cls.__name__} has no {name!r}'!r})")
    lines.append("    return kw if partial else _cls(**kw)")
    exec("\n".join(lines), names)  # code built here from field names only
    return names["load"]  # type: ignore[no-any-return]


def _first_of(options: list[Any]) -> Loader:
    """A union: dataclasses told apart by the fields they store (each member's must
    differ), anything else by the first that fits."""
    classes = [o for o in options if dataclasses.is_dataclass(o) and isinstance(o, type)]
    by_fields: dict[frozenset[str], Loader] = {}
    for c in classes:
        if not getattr(c, _DENSE, False):
            raise TypeError(f"codec: {c.__name__} is a member of a union: mark it @codec.dense")
        names = frozenset(_stored(c))
        if names in by_fields:
            raise TypeError(f"codec can't tell apart the members of {options}: same fields")
        by_fields[names] = _loader(c)
    loaders = [_loader(o) for o in options if o not in classes]
    exact = {o: _loader(o) for o in options if o in (str, int, float, bool)}

    def load_any(v: Any) -> Any:
        if (same := exact.get(v.__class__)) is not None:
            return same(v)
        if isinstance(v, dict) and (found := by_fields.get(frozenset(v))) is not None:
            return found(v)
        for f in loaders:
            try:
                return f(v)
            except (ValueError, TypeError):
                continue
        return _bad(f"{v!r} fits none of {options}")

    return load_any


_PATHS: dict[str, Path] = {}  # one Path per text: paths repeat (every env's workspace.toml)


def _path(v: Any) -> Path:
    if (found := _PATHS.get(v)) is not None:  # type: ignore[arg-type]
        return found
    path = _PATHS[v] = Path(_of(str, v))
    return path


def _of(tp: Any, v: Any) -> Any:
    if isinstance(v, tp) and not (tp is int and isinstance(v, bool)):
        return v
    return _bad(f"expected {getattr(tp, '__name__', tp)}, got {type(v).__name__}")


def _none(v: Any) -> None:
    if v is not None:
        _bad(f"expected null, got {type(v).__name__}")


def _exactly(items: list[Any], n: int) -> list[Any]:
    return items if len(items) == n else _bad(f"expected {n} items, got {len(items)}")


def _bad(message: str) -> Any:
    raise ValueError(message)
