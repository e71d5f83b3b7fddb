"""User variants and series files: a kernel developer's proposed change.

A variant is one Python file:

    BASE = "v3"                      # a built-in target, e.g. "v3:04", "reference"
    CONFIG = {"VFALLBACK_ALWAYS": False}        # optional: Kconfig options fixed
    def __alloc_vcompound(k, flags, order):     # a kernel function, by C name
        ...
    REPLACE = [__alloc_vcompound]    # functions that replace the base's
    ADD = []                         # optional: new kernel functions

A series file (for `vcpcheck bisect`) names a BASE and an ordered list of
patches, each a dict with "title", "replace" / "add" (lists of functions),
optional "config" and "depends" (1-based patch numbers).

Loading fails closed: a file that does not import, raises while loading,
hangs, names an unknown base, kernel function or Kconfig option, or
replaces a function with a different number of arguments, raises
VariantError with one line naming the problem and where.
"""
from __future__ import annotations

import importlib.util
import inspect
import os

from vcpcheck.impl.kconfig import OPTIONS, ConfigError
from vcpcheck.impl.symbols import KFunc

from .targets import TARGETS, Target
from .guard import guarded, watching, where_in
from .guard import _ours as _checker_control_flow
from .timeouts import Hang, time_limit

LOAD_TIMEOUT = float(os.environ.get("VCPCHECK_LOAD_TIMEOUT", "10"))


class VariantError(Exception):
    """A variant or series file that cannot be used (one line, exit 2)."""


def _import(path):
    if not os.path.isfile(path):
        raise VariantError(f"{path}: no such file")
    name = "vcpcheck_variant_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        with watching(f"{path}: loading the file", LOAD_TIMEOUT), \
                time_limit(LOAD_TIMEOUT, f"loading {path}"):
            spec.loader.exec_module(module)
    except SyntaxError as e:
        raise VariantError(f"{path}:{e.lineno}: SyntaxError: {e.msg}")
    except Hang as e:
        raise VariantError(f"{path}: {e}")
    except Exception as e:
        raise VariantError(f"{where_in(path, e.__traceback__)}: {type(e).__name__}"
                           f" while loading: {e}")
    except BaseException as e:
        # sys.exit(), KeyboardInterrupt or a BaseException of its own raised
        # by the file: untrusted code may not end the checker (guard.py).
        if _checker_control_flow(e):
            raise
        raise VariantError(f"{where_in(path, e.__traceback__)}: {type(e).__name__}"
                           f"({', '.join(map(repr, e.args))}) while loading: a "
                           f"variant may not exit or interrupt the checker")
    return module


def _named(path, fns, what) -> dict:
    """{C name: function} from a list or dict of functions."""
    if isinstance(fns, dict):
        items = list(fns.items())
    elif isinstance(fns, (list, tuple)):
        items = [(getattr(f, "cname", getattr(f, "__name__", None)), f) for f in fns]
    else:
        raise VariantError(f"{path}: {what} must be a list or dict of functions")
    out = {}
    for name, fn in items:
        if not callable(fn) or not isinstance(name, str):
            raise VariantError(f"{path}: {what} entry {name!r} is not a function")
        out[name] = fn
    return out


def _base(path, name):
    if not isinstance(name, str) or name not in TARGETS:
        raise VariantError(f"{path}: BASE {name!r} is not a built-in target "
                           f"(see 'vcpcheck list')")
    return TARGETS[name]


def _config(path, values, base):
    if not isinstance(values, dict):
        raise VariantError(f"{path}: CONFIG must be a dict of Kconfig options")
    for key in values:
        if key not in OPTIONS:
            raise VariantError(f"{path}: CONFIG names unknown Kconfig option {key!r}")
    try:
        base.configs(values)
    except ConfigError as e:
        raise VariantError(f"{path}: CONFIG: {e}")
    return dict(values)


def _reference_symbols(path, base):
    for cfg in base.configs():
        symbols, why = base.try_build(cfg)
        if symbols is not None:
            return symbols
    raise VariantError(f"{path}: BASE {base.name!r} builds under none of its "
                       f"configurations")


def _check_signature(path, name, fn, original: KFunc):
    want = original.params()
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        raise VariantError(f"{path}: {name} has no inspectable signature")
    got = params[1:]
    required = [p for p in got if p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    varargs = any(p.kind == p.VAR_POSITIONAL for p in got)
    positional = [p for p in got if p.kind in (p.POSITIONAL_ONLY,
                                               p.POSITIONAL_OR_KEYWORD)]
    if not params or len(required) > len(want) or (
            not varargs and len(positional) < len(want)):
        line = getattr(getattr(fn, "__code__", None), "co_firstlineno", "?")
        raise VariantError(
            f"{path}:{line}: {name} takes {len(got)} argument(s) after k, the "
            f"kernel's {name} takes {len(want)} ({', '.join(want) or 'none'})")


def check_functions(path, replace, add, symbols):
    for name, fn in replace.items():
        if name not in symbols:
            raise VariantError(f"{path}: REPLACE names unknown kernel function {name!r}")
        _check_signature(path, name, fn, symbols[name])
    for name in add:
        if name in symbols:
            raise VariantError(f"{path}: ADD names {name!r}, which the base "
                               f"already has (use REPLACE)")


def patched_symbols(base_symbols_fn, replace, add, source, path):
    """The build's symbol table with the file's functions bound in, each
    run under guard.guarded (untrusted code)."""
    wrapped = {name: guarded(fn, name, path) for name, fn in {**replace, **add}.items()}
    for name, fn in wrapped.items():
        fn.__vcpcheck_kind__ = "adds" if name in add else "replaces"   # cover.py

    def symbols(cfg):
        table = dict(base_symbols_fn(cfg))
        for name, fn in wrapped.items():
            table[name] = KFunc(name, fn, source)
        return table
    return symbols


def load_variant(path) -> Target:
    """A Target for the variant file at ``path`` (registered in TARGETS)."""
    m = _import(path)
    if not hasattr(m, "BASE"):
        raise VariantError(f"{path}: no BASE = \"<built-in target>\" in the file")
    base = _base(path, m.BASE)
    config = _config(path, getattr(m, "CONFIG", {}), base)
    replace = _named(path, getattr(m, "REPLACE", []), "REPLACE")
    add = _named(path, getattr(m, "ADD", []), "ADD")
    if not replace and not add and not config:
        raise VariantError(f"{path}: REPLACE, ADD and CONFIG are all empty: "
                           f"nothing differs from {base.name}")
    check_functions(path, replace, add, _reference_symbols(path, base))
    matrix = [dict(c, **config) for c in base.config_matrix]
    doc = (m.__doc__ or "").strip().splitlines()
    target = Target(path, doc[0] if doc else f"variant of {base.name}",
                    patched_symbols(base.symbols, replace, add, f"variant {path}", path),
                    matrix, base.options, base.api)
    TARGETS[path] = target
    return target


def load_series(path):
    """(base Target, [(label, title, Target for the prefix up to it)])."""
    m = _import(path)
    if not hasattr(m, "BASE") or not hasattr(m, "PATCHES"):
        raise VariantError(f"{path}: a series file needs BASE and PATCHES")
    base = _base(path, m.BASE)
    if not isinstance(m.PATCHES, (list, tuple)) or not m.PATCHES:
        raise VariantError(f"{path}: PATCHES must be a non-empty list of dicts")
    symbols = _reference_symbols(path, base)
    replace, add, config, prefixes = {}, {}, {}, []
    name = os.path.splitext(os.path.basename(path))[0]
    for n, p in enumerate(m.PATCHES, 1):
        if not isinstance(p, dict):
            raise VariantError(f"{path}: patch {n} is not a dict")
        for dep in p.get("depends", []):
            if not isinstance(dep, int) or not 1 <= dep < n:
                raise VariantError(f"{path}: patch {n} depends on {dep!r}, which "
                                   f"is not an earlier patch")
        r = _named(path, p.get("replace", []), f"patch {n} replace")
        a = _named(path, p.get("add", []), f"patch {n} add")
        check_functions(path, r, {k: v for k, v in a.items() if k not in add},
                        {**symbols, **add})
        replace.update(r)
        add.update(a)
        config.update(_config(path, p.get("config", {}), base))
        label = f"{name}:{n:02d}"
        t = Target(label, p.get("title", f"patch {n}"),
                   patched_symbols(base.symbols, dict(replace), dict(add),
                                   f"{path} patch {n}", path),
                   [dict(c, **config) for c in base.config_matrix],
                   base.options, base.api)
        TARGETS[label] = t
        prefixes.append((label, t.description, t))
    return base, prefixes


def resolve_target(name) -> Target:
    """A built-in target by name, or a variant file by path."""
    if name.endswith(".py") or os.sep in name:
        return load_variant(name)
    if name not in TARGETS:
        raise VariantError(f"unknown target {name!r} (see 'vcpcheck list')")
    return TARGETS[name]

