"""The tree reads as the data flow: no import circle, layers import only downwards, and no
module reaches for another package's private names.  Read statically from the sources
(imports inside functions included, ``if TYPE_CHECKING:`` blocks left out), so a lazy
import cannot hide a circle."""
from __future__ import annotations

import ast
from pathlib import Path

import faceanalytics

PACKAGE = Path(faceanalytics.__file__).parent


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    return skip


def _imports() -> list[tuple[str, str, str]]:
    """(importing module, imported module, imported name or "") for every import."""
    mods = _modules()
    out = []
    for mod, (path, is_pkg) in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_nodes(tree)
        here = mod.split(".") if is_pkg else mod.split(".")[:-1]
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[:len(here) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                elif (node.module or "").split(".")[0] == "faceanalytics":
                    target = node.module
                else:
                    continue
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    out.append((mod, sub, "") if sub in mods else (mod, target, alias.name))
            elif isinstance(node, ast.Import):
                out += [(mod, a.name, "") for a in node.names if a.name.split(".")[0] == "faceanalytics"]
    return out


def _package_of(mod: str) -> str:
    mods = _modules()
    return mod if mods[mod][1] else mod.rpartition(".")[0]


def test_there_is_no_import_circle():
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for src, dst, _name in _imports():
        if dst in mods and dst != src:
            graph[src].add(dst)
    # Tarjan's strongly connected components: a component of two or more modules is a circle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                circles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert circles == []


def test_the_layers_import_only_downwards():
    """storage knows nothing of the pipeline, the flatteners or the analysis above it; the
    pipeline nothing of the analysis; the clients and flatteners nothing of either."""
    above = {
        "faceanalytics.storage": ("pipeline", "flatten", "analytics", "engines", "report", "plots",
                                  "widgets", "_explore", "cli", "demo", "sandbox"),
        "faceanalytics.pipeline": ("analytics", "engines", "report", "plots", "widgets", "_explore",
                                   "cli", "demo", "sandbox"),
        "faceanalytics.flatten": ("storage", "pipeline", "analytics", "engines", "report", "plots",
                                  "widgets", "cli", "sandbox"),
        "faceanalytics.clients": ("pipeline", "flatten", "analytics", "engines", "report", "plots",
                                  "widgets", "cli", "sandbox"),
        "faceanalytics.analytics": ("storage", "pipeline", "engines", "report", "plots", "widgets",
                                    "cli", "sandbox"),
    }
    wrong = []
    for src, dst, _name in _imports():
        for layer, forbidden in above.items():
            if src == layer or src.startswith(layer + "."):
                if any(dst == f"faceanalytics.{f}" or dst.startswith(f"faceanalytics.{f}.") for f in forbidden):
                    wrong.append((src, dst))
    assert wrong == []


def test_no_private_name_is_imported_from_another_package():
    """``_name`` is a module's own business: another package imports what is public."""
    wrong = []
    for src, dst, name in _imports():
        if not name.startswith("_") or name.startswith("__") or dst not in _modules():
            continue
        if _package_of(src) != _package_of(dst):
            wrong.append((src, dst, name))
    assert wrong == []


def test_the_data_directory_layout_is_spelled_in_one_module():
    """Folder names of a data directory appear as path parts only in ``storage/datadir.py``."""
    layout = ("tables", "raw", "state", "media", "journal", "quota", "pii.key", "writer.lock",
              "downloads.jsonl", "tables.rebuild", "tables.old", "rejected")
    spelled = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "datadir.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            # `x / "tables"`: a layout name joined onto a path
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and \
                    isinstance(node.right, ast.Constant) and node.right.value in layout:
                spelled.append(f"{path.relative_to(PACKAGE)}:{node.lineno} / {node.right.value!r}")
    assert spelled == []
