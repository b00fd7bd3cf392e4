"""The package as a whole: what IDEs see, where the version comes from, importing without fcntl."""
from __future__ import annotations

import ast
import importlib
import importlib.metadata
import inspect
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import faceanalytics
from faceanalytics import errors

from _helpers import LITE_ID, envelope, seed, write_jsonl

ROOT = Path(faceanalytics.__file__).parent


def _type_checking_imports(path: Path) -> dict[str, str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    block = next(n for n in tree.body
                 if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    return {a.name: "." * n.level + (n.module or "") for n in block.body for a in n.names}


def test_type_checking_imports_name_every_lazy_export():
    """IDEs and type checkers read the ``if TYPE_CHECKING:`` imports; they must match the lazy table."""
    assert _type_checking_imports(ROOT / "__init__.py") == faceanalytics._LAZY
    assert _type_checking_imports(ROOT / "errors.py") == errors._DEFINED_IN
    for name, module in faceanalytics._LAZY.items():  # and each really lives there
        assert hasattr(importlib.import_module(module, "faceanalytics"), name), name


def test_plot_helpers_say_they_return_axes():
    plots = [name for name, module in faceanalytics._LAZY.items() if module == ".plots"]
    assert len(plots) >= 8
    for name in plots:
        assert inspect.signature(getattr(faceanalytics, name)).return_annotation == "Axes", name


def test_version_has_one_source():
    pyproject = tomllib.loads((ROOT.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "faceanalytics.__version__"}
    assert importlib.metadata.version("faceanalytics") == faceanalytics.__version__


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    # a stand-in for Windows: `import fcntl` raises ImportError
    shim = "import sys; sys.modules['fcntl'] = None\n"
    return subprocess.run([sys.executable, "-c", shim + code], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


@pytest.fixture
def data_dir(tmp_path):
    from faceanalytics.pipeline.ingest import ingest

    payload = seed("megvii_lite_success.json")
    ingest([write_jsonl(tmp_path / "in.jsonl", [envelope("megvii_lite", LITE_ID, payload)])],
           tmp_path / "data")
    return tmp_path / "data"


def test_load_works_where_fcntl_does_not_exist(data_dir):
    code = ("import faceanalytics as fa\n"
            "try:\n    import fcntl\nexcept ImportError:\n    pass\n"
            "else:\n    raise SystemExit('the shim did not hide fcntl')\n"
            f"df = fa.load({str(data_dir)!r}, 'sessions')\n"
            "print(len(df), df['session_id'].iloc[0])\n")
    out = _run(code, data_dir.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", LITE_ID]


def test_writing_where_fcntl_does_not_exist_is_a_clear_error(data_dir):
    """No lock, no writer: a usage error that says why, and the tables are left as they were."""
    code = ("import faceanalytics as fa\n"
            f"try:\n    fa.ingest([{str(data_dir.parent / 'in.jsonl')!r}], {str(data_dir)!r})\n"
            "except fa.StorageConfigError as e:\n    print('refused:', e)\n")
    before = sorted(p.relative_to(data_dir) for p in (data_dir / "tables").rglob("*"))
    out = _run(code, data_dir.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("refused:") and "flock" in out.stdout
    assert sorted(p.relative_to(data_dir) for p in (data_dir / "tables").rglob("*")) == before


def test_no_submodule_has_the_name_of_a_public_name(tmp_path):
    """Importing a submodule sets it on its package: a module named like a public name (as
    ``faceanalytics.ingest`` once was) would hide that function once anything imported it."""
    import pkgutil

    modules = {m.name for m in pkgutil.iter_modules(faceanalytics.__path__)}
    assert not modules & set(faceanalytics.__all__), modules & set(faceanalytics.__all__)
    code = ("import types\n"
            "import faceanalytics as fa\n"
            "fa.rebuild\n"
            "import faceanalytics.pipeline.ingest\n"
            "assert not isinstance(fa.ingest, types.ModuleType), fa.ingest\n"
            "print(fa.ingest.__module__, fa.ingest is faceanalytics.pipeline.ingest.ingest)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["faceanalytics.pipeline.ingest", "True"]
