"""The one exception tree: every class in it, drawn as it is, importable from old and new homes."""
from __future__ import annotations

import builtins
import importlib
import inspect
import pkgutil
import re

import pytest

import faceanalytics
from faceanalytics import errors
from faceanalytics.errors import DataError, FaceAnalyticsError, UsageError

from _helpers import assert_prints_ok

_LINE = re.compile(r"^    (?P<indent>[│├└─ ]*)(?P<name>[A-Z]\w+)(?P<rest>.*)$")
_BASES = re.compile(r"\((?:also )?(?P<names>[A-Z]\w*(?:, [A-Z]\w*)*)\)\s*$")


def _drawn() -> list[tuple[str, str | None, set[str]]]:
    """(class, parent, further bases) for each line of the tree in the errors docstring."""
    block = errors.__doc__.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    rows, stack = [], []
    for line in block.splitlines():
        m = _LINE.match(line)
        assert m, f"not a tree line: {line!r}"
        depth = len(m["indent"]) // 4
        stack[depth:] = [m["name"]]
        extra = _BASES.search(m["rest"])
        rows.append((m["name"], stack[depth - 1] if depth else None,
                     set(extra["names"].split(", ")) if extra else set()))
    return rows


def _package_exceptions() -> dict[str, type]:
    """Every exception class defined in any module of the package (imports them all)."""
    found = {}
    for info in pkgutil.walk_packages(faceanalytics.__path__, "faceanalytics."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == info.name:
                found[f"{info.name}.{obj.__qualname__}"] = obj
    return found


def test_every_exception_in_the_package_is_a_faceanalytics_error():
    found = _package_exceptions()
    assert len(found) >= 40  # the walk reached the clients, storage and coercion modules
    strays = sorted(name for name, cls in found.items() if not issubclass(cls, FaceAnalyticsError))
    assert strays == []


def test_the_tree_in_the_docstring_is_the_class_tree():
    drawn = _drawn()
    names = [name for name, _, _ in drawn]
    assert len(names) == len(set(names))
    assert names[0] == "FaceAnalyticsError"
    for name, parent, extra in drawn:
        cls = getattr(errors, name)
        if parent is None:
            assert cls.__bases__ == (Exception,)
            continue
        exception_bases = {b.__name__ for b in cls.__bases__ if issubclass(b, BaseException)}
        assert cls.__bases__[-1] is not object
        assert getattr(errors, parent) in cls.__bases__, (name, parent)
        # a further base is drawn at the end of the line: a category or a builtin kept for `except`
        assert exception_bases - {parent} == extra, (name, exception_bases, extra)
        for base in extra:
            assert getattr(builtins, base, None) or getattr(errors, base)
    # every public exception the package defines is drawn, and nothing else
    public = {cls.__name__ for qual, cls in _package_exceptions().items()
              if not cls.__name__.startswith("_")}
    assert set(names) == public
    assert set(names) == set(errors.__all__)


def test_branches_say_what_went_wrong():
    from faceanalytics.clients import ConfigurationError, ProviderError, QuotaExhausted

    assert {c.__name__ for c in FaceAnalyticsError.__subclasses__()} == {
        "ProviderError", "UsageError", "DataError"}
    # nothing was sent: not a provider's answer, and it says so
    for cls in (ConfigurationError, QuotaExhausted, errors.StorageConfigError):
        assert issubclass(cls, UsageError) and not issubclass(cls, ProviderError)
    assert not QuotaExhausted(key="k", calls=3, limit=3).sent
    for cls in (errors.S3Error, errors.LockLost, errors.WriterBusy, errors.Unreadable):
        assert issubclass(cls, DataError)


@pytest.mark.parametrize("name, old_home, builtin", [
    ("ProviderError", "faceanalytics.clients", None),
    ("QuotaExhausted", "faceanalytics.clients.errors", None),
    ("InsecureURL", "faceanalytics.clients", ValueError),
    ("MissingCredentials", "faceanalytics.clients.errors", ValueError),
    ("StorageConfigError", "faceanalytics.storage.errors", ValueError),
    ("StorageConfigError", "faceanalytics.storage.paths", ValueError),
    ("S3Error", "faceanalytics.storage.errors", OSError),
    ("LockLost", "faceanalytics.storage.errors", OSError),
    ("WriterBusy", "faceanalytics.storage.errors", OSError),
    ("Unreadable", "faceanalytics._coerce", ValueError),
])
def test_old_import_paths_and_builtin_bases_still_work(name, old_home, builtin):
    cls = getattr(importlib.import_module(old_home), name)
    assert cls is getattr(errors, name) is getattr(faceanalytics, name)
    assert name in faceanalytics.__all__
    if builtin is not None:  # `except ValueError` / `except OSError` clauses keep catching it
        assert issubclass(cls, builtin)
        with pytest.raises(builtin):
            raise cls(500, "Oops", "put") if name == "S3Error" else cls("no")


def test_importing_the_errors_is_cheap():
    code = ("import sys, faceanalytics as fa, faceanalytics.errors as e; "
            "assert 'faceanalytics.clients' not in sys.modules; "
            "assert issubclass(e.UsageError, fa.FaceAnalyticsError); "
            "assert 'faceanalytics.clients' not in sys.modules and 'requests' not in sys.modules; "
            "fa.QuotaExhausted; assert 'faceanalytics.clients' in sys.modules; print('ok')")
    assert_prints_ok(code)
