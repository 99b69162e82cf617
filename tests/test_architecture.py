"""The package's shape: data flows one way.  Every import — at the top of a module or inside a function —
goes from a layer to the same or a lower one, so there is no import cycle, hidden or not; and no module
outside cells/ asks which cell it is, beyond the places listed here while they wait to move."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "symbptt"

# bottom to top; a module may import only from its own layer or the layers before it
LAYERS = [
    ("printing", {"printing"}),  # the printers: they read what they print from the objects, import nothing
    ("base", {"caching", "collector", "errors", "escape", "lazy", "limits", "validate", "progress", "output", "wrap",
              "safeexpr", "shipped", "primitives", "notation", "templates", "gamma", "activations", "reference",
              "reference_files"}),
    ("cells", {"cells"}),
    ("model", {"step", "model", "paths", "config", "budget"}),
    ("symbolic", {"symbolic"}),
    ("layout", {"layout", "reading", "render", "latex", "readback"}),
    ("numeric", {"numeric"}),
    ("api", {"forms", "document"}),
    ("apps", {"plots", "learn", "check", "bridges", "explorer", "completion", "plotcli", "gradcli", "theorycli", "cli",
              "__main__"}),
    ("facade", {""}),  # symbptt/__init__.py: the public names, imported lazily
]


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


@functools.cache
def parsed(source: str) -> tuple[ast.Module, tuple[ast.AST, ...]]:
    """A module's tree and every node of it, made once per source (three tests walk each module)."""
    tree = ast.parse(source)
    return tree, tuple(ast.walk(tree))


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its file (function bodies too)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in parsed(path.read_text())[1]:
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join(base + (node.module.split(".") if node.module else []))
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.add(full if full in known else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in known and m != name and not name.startswith(m + ".")}


def layer_of(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    for i, (_, names) in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS in {Path(__file__).name}")


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def upward(edges: dict[str, set[str]]) -> list[str]:
    return [f"{a} -> {b}" for a, targets in sorted(edges.items()) for b in sorted(targets)
            if layer_of(b) > layer_of(a)]


def test_no_import_cycle_and_no_upward_import():
    import symbptt

    assert sorted(symbptt.__all__) == sorted([*symbptt._LAZY, *symbptt._MODULES, "__version__"])
    edges = graph()
    assert len(edges) > 50
    assert cycles(edges) == []
    assert upward(edges) == []


def test_the_checks_see_a_planted_cycle_and_an_upward_import():
    """A function-level import of the printer from the model (what model.py once did with forms.swap)
    is both an upward import and, with the printer's import of the model, a cycle."""
    edges = graph()
    assert "symbptt.model" in edges["symbptt.render"] or "symbptt.symbolic.derivation" in edges["symbptt.render"]
    planted = {k: set(v) for k, v in edges.items()}
    planted["symbptt.model"].add("symbptt.forms")
    assert "symbptt.model -> symbptt.forms" in upward(planted)
    assert any("symbptt.model" in c and "symbptt.forms" in c for c in cycles(planted))
    source = "def f():\n    from ..forms import swap\n"
    tmp = PACKAGE.parent / "tests" / "_planted.py"
    try:
        tmp.write_text(source)
        found = imports("symbptt.numeric.planted", tmp, modules() | {"symbptt.numeric.planted": tmp})
    finally:
        tmp.unlink()
    assert found == {"symbptt.forms"}


# Places outside cells/ that ask which cell they have: none — a cell states its facts (elman, keep_bias,
# forget_bias, arrow_labels, …) and the rest of the package reads them.  reference.py is exempt: it writes
# the built-in cells again, independently, on purpose.
CELL_NAME_TESTS: dict[str, int] = {}
NAME_TEST = re.compile(r"""(?:[!=]=|\bin)\s*\(?["'](?:rnn|lstm|gru)["']|\{["'](?:rnn|lstm|gru)["']:""")


def cell_name_tests() -> dict[str, int]:
    counts = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).as_posix()
        if rel.startswith("symbptt/cells/") or rel == "symbptt/reference.py":
            continue
        n = len(NAME_TEST.findall(path.read_text()))
        if n:
            counts[rel] = n
    return counts


def test_cell_names_are_asked_only_where_listed():
    counts = cell_name_tests()
    grown = {k: v for k, v in counts.items() if v > CELL_NAME_TESTS.get(k, 0)}
    assert not grown, f"a module asks which cell it has; give the cell the fact instead: {grown}"
    assert NAME_TEST.search('if rnn.spec.name != "lstm":') and NAME_TEST.search("cell in ('rnn', 'gru')")
    assert NAME_TEST.search('{"rnn": "W"}.get(spec.name)')


def test_caches_are_one_bounded_mechanism():
    """A cache empties itself when full (caching.Bounded); no module writes its own 'clear when long'
    besides the one place that forgets two caches together (symbolic/shown.py's streamed factors)."""
    from symbptt.caching import Bounded

    cache: Bounded[int, int] = Bounded(3)
    assert [cache.remember(k, k * k) for k in range(3)] == [0, 1, 4] and len(cache) == 3
    assert cache.remember(3, 9) == 9 and dict(cache) == {3: 9}  # full: emptied, then stored
    assert cache.get(3) == 9 and cache.get(4) is None
    hand_written = re.compile(r"if [^\n]*len\([^)]*\) > \d{3,}[^\n]*\n\s+[^\n]*\.clear\(\)")
    found = sorted(path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
                   if hand_written.search(path.read_text()))
    assert found == ["symbolic/shown.py"]


def test_every_package_is_installed_and_the_core_is_fully_typed():
    """pyproject lists its packages one by one: a package left out installs without its modules (pip
    install . would lose it); and mypy checks every function of cells/, symbolic/, numeric/, printing/."""
    import tomllib

    config = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(PACKAGE.parent).parts) for p in PACKAGE.rglob("__init__.py")}
    assert listed == found
    strict = [o for o in config["tool"]["mypy"]["overrides"] if o.get("disallow_untyped_defs")]
    assert {m for o in strict for m in o["module"]} >= {f"symbptt.{p}.*" for p in ("cells", "symbolic", "numeric",
                                                                                    "printing")}


MUTATORS = {"add", "update", "append", "extend", "setdefault", "insert", "pop", "clear", "discard", "remove"}


def writes_to_other_modules(source: str) -> list[str]:
    """Statements of ``source`` that change another module's state: ``mod.NAME = …``, ``mod.NAME[k] = …``,
    ``mod.NAME.add(…)`` (and the other mutating methods), where ``mod`` is a name the source imported as a
    module of the package (``from . import notation``, ``from .. import primitives as P``)."""
    tree, nodes = parsed(source)
    modules_here = {alias.asname or alias.name for node in nodes if isinstance(node, ast.ImportFrom)
                    and node.level for alias in node.names if (PACKAGE / f"{alias.name}.py").exists()
                    or (PACKAGE / alias.name / "__init__.py").exists()}

    def of_module(node: ast.AST) -> str | None:
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            if isinstance(node.value, ast.Name) and node.value.id in modules_here and isinstance(node, ast.Attribute):
                return f"{node.value.id}.{node.attr}"
            node = node.value
        return None

    found = []
    for node in nodes:
        targets = (node.targets if isinstance(node, ast.Assign) else [node.target]
                   if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
        found += [name for t in targets if (name := of_module(t))]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS:
            name = of_module(node.func.value)
            found += [f"{name}.{node.func.attr}()"] if name else []
    return found


def test_no_module_writes_another_module_s_state():
    """Data is passed, not left in another module's globals: no module assigns to, or calls a mutating
    method on, an attribute of a package module it imported (a custom activation's primitive carries its
    own implementations; a parameter symbol says it is one)."""
    found = {path.relative_to(PACKAGE).as_posix(): w for path in PACKAGE.rglob("*.py")
             if (w := writes_to_other_modules(path.read_text()))}
    assert not found, found
    planted = "from . import notation\nfrom .. import primitives as P\n\ndef f(x):\n    notation.PARAM_BASES.add(x)\n" \
              "    P.TABLE[x] = 1\n    notation.GREEK['a'] = 'α'\n"
    assert sorted(writes_to_other_modules(planted)) == ["P.TABLE", "notation.GREEK", "notation.PARAM_BASES.add()"]


def registries(source: str) -> list[str]:
    """Module-level dicts, sets and lists of ``source`` that a function fills: tables others register into
    (what ``register_param_base`` and ``custom_primitive`` were), as opposed to tables written once."""
    tree, nodes = parsed(source)
    tables = set()
    for node in tree.body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if isinstance(value, (ast.Dict, ast.Set, ast.List)) or (isinstance(value, ast.Call) and isinstance(
                value.func, ast.Name) and value.func.id in ("dict", "set", "list", "defaultdict")):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]  # type: ignore[union-attr]
            tables |= {t.id for t in targets if isinstance(t, ast.Name)}
    found = []
    for fn in (n for n in nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        for node in ast.walk(fn):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, ast.AugAssign) else []
            found += [f"{fn.name}: {t.value.id}[…] =" for t in targets
                      if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id in tables]
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in tables):
                found.append(f"{fn.name}: {node.func.value.id}.{node.func.attr}()")
    return found


def test_no_module_keeps_a_registry_that_functions_fill():
    """The tables a function fills: notation's interning of sequence classes (h_k as a SymPy function class
    per base: made once so that two h_k are equal), and the state a check worker process sets up for itself
    when the pool starts it (its own draw of the trials; nothing else reads or writes it)."""
    found = {path.relative_to(PACKAGE).as_posix(): r for path in PACKAGE.rglob("*.py")
             if (r := registries(path.read_text()))}
    assert found == {"notation.py": ["seq: _SEQS[…] ="], "check/__init__.py": ["_start_worker: _WORKER.update()"]}
    planted = "PARAM_BASES = {'W'}\nTABLE: dict = {}\n\ndef register(b):\n    PARAM_BASES.add(b)\n    TABLE[b] = 1\n"
    assert registries(planted) == ["register: TABLE[…] =", "register: PARAM_BASES.add()"]


MAX_LINES = 600  # the guideline: a module that grows past it is split where it has two subjects


def _too_long(root: Path) -> dict[str, int]:
    return {str(path.relative_to(root)): lines for path in sorted(root.rglob("*.py"))
            if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}


def test_every_module_stays_within_its_size(tmp_path):
    """The package's modules, the tests' and the benchmarks'."""
    for folder in (PACKAGE, PACKAGE.parent / "tests", PACKAGE.parent / "benchmarks"):
        assert _too_long(folder) == {}, folder.name
    (tmp_path / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))  # planted: one line too many
    (tmp_path / "short.py").write_text("x = 1\n" * MAX_LINES)
    assert _too_long(tmp_path) == {"long.py": MAX_LINES + 1}
