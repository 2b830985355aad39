"""The shape of the code, checked: packages import only downward, only the Dagster project imports
Dagster, and the API and the import service start without it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("schemas", "roster", "resources", "assets", "pipelines")
# Who may import Dagster: the Dagster project, and the command line (it runs `roster import`).
DAGSTER_ALLOWED = ("resources", "assets", "pipelines", "roster.cli")


def _package_of(module: str) -> str:
    """A module's package (its folder, dotted); a package is its own."""
    path = ROOT / module.replace(".", "/")
    return module if (path / "__init__.py").exists() or path.is_dir() else module.rpartition(".")[0]


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level:  # relative: within its own package
            base = ".".join(path.relative_to(ROOT).with_suffix("").parts[: -node.level])
            found.add(f"{base}.{node.module}" if node.module else base)
    return found


def _modules():
    for top in PROJECT:
        for path in (ROOT / top).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            yield ".".join(path.relative_to(ROOT).with_suffix("").parts), path


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in _modules():
        source = _package_of(module)
        for target in _imports(path):
            if target.split(".")[0] not in PROJECT:
                continue
            while target and not (
                (ROOT / target.replace(".", "/")).is_dir() or (ROOT / (target.replace(".", "/") + ".py")).exists()
            ):
                target = target.rpartition(".")[0]  # `from pkg.mod import name`: the module, not the name
            if target and _package_of(target) != source:
                graph.setdefault(source, set()).add(_package_of(target))
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return trail + [node, nxt]
            if nxt not in state and (found := visit(nxt, trail + [node])):
                return found
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node, [])):
            return found
    return None


def test_packages_import_only_downward():
    cycle = _cycle(_graph())
    assert cycle is None, "a package import cycle: " + " -> ".join(cycle)


def test_only_the_dagster_project_imports_dagster():
    offenders = []
    for module, path in _modules():
        if any(module == p or module.startswith(p + ".") for p in DAGSTER_ALLOWED):
            continue
        if any(i == "dagster" or i.startswith(("dagster.", "dagster_")) for i in _imports(path)):
            offenders.append(module)
    assert offenders == []


def test_the_api_and_the_import_service_start_without_dagster():
    code = (
        "import sys, roster.api.app, roster.importing.service, roster.importing.steps; "
        "print(sorted(m for m in sys.modules if m == 'dagster' or m.startswith('dagster.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_run_in_this_process_loads_neither_dagster_s_grpc_client_nor_hypothesis():
    """What `roster import` loads for its run, less two things it never uses (issue 23, its fixed
    cost): Dagster's gRPC client and CLI (only a ready worker and a run launcher ask for them,
    pipelines/dagster_internals.py) and hypothesis, which pandera's first validation imports for
    data synthesis when it is installed, as the test tools install it (schemas/rows.py)."""
    code = (
        "import sys, pipelines.launch, pipelines.in_process, pipelines.event_log, schemas.rows; "
        "import pandera.polars as pa, polars as pl; "
        "pa.DataFrameSchema({'a': pa.Column(str)}).validate(pl.DataFrame({'a': ['x']})); "
        "heavy = ('grpc', 'hypothesis', 'dagster._cli', 'dagster._grpc.client'); "
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_sdk_says_what_every_public_method_returns():
    import inspect

    from roster.client import client, resources

    missing = []
    for module in (client, resources):
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or cls_name.startswith("_"):
                continue
            for name, fn in vars(cls).items():
                if inspect.isfunction(fn) and not name.startswith("_") and "return" not in fn.__annotations__:
                    missing.append(f"{cls_name}.{name}")
    assert missing == []


# Project modules a package starts by name in a new process (`python -m NAME`): a dependency the
# import graph above cannot see. Each is declared here with why; any other is a hidden one. (The
# import service's inline run is not one: it takes its module from the package's entry points.)
STARTED_BY_NAME = {
    # `roster serve` runs the API in a process of its own, as uvicorn would (roster/api/quiet_server.py).
    ("roster.cli", "roster.api.quiet_server"),
    # and the Dagster UI, dagster-webserver's app with the same quiet loop (pipelines/ui_server.py).
    ("roster.cli", "pipelines.ui_server"),
}


def _started_by_name(path: Path) -> set[str]:
    """The project modules a file names after `-m` in a command list."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.List | ast.Tuple):
            values = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
            for flag, name in zip(values, values[1:], strict=False):
                if flag == "-m" and isinstance(name, str) and name.split(".")[0] in PROJECT:
                    found.add(name)
    return found


def test_modules_started_by_name_are_declared_and_exist():
    seen = set()
    for module, path in _modules():
        for name in _started_by_name(path):
            assert (ROOT / (name.replace(".", "/") + ".py")).exists(), f"{module} starts {name}, which does not exist"
            pair = (_package_of(module), name)
            if _package_of(name) != pair[0]:
                assert pair in STARTED_BY_NAME, f"{module} starts {name} by name: an undeclared dependency"
                seen.add(pair)
    assert seen == STARTED_BY_NAME, f"declared but no longer started: {STARTED_BY_NAME - seen}"


def test_roster_has_no_loose_modules():
    """Every module of roster/ lives in a package named for its concept (store/, importing/,
    runtime/, safety/...): a newcomer finds it from the folder names, and nothing piles up at the root."""
    loose = sorted(p.name for p in (ROOT / "roster").glob("*.py") if p.name != "__init__.py")
    assert loose == [], f"modules at the root of roster/: {loose}; give each a home in a package"


def test_private_dagster_names_live_in_one_adapter():
    """A Dagster upgrade is checked in one place (issue 24): every `dagster._...` import of the
    project is in pipelines/dagster_internals.py, and no Dagster config Roster ships names a
    private Dagster module (it names the adapter instead)."""
    adapter = ROOT / "pipelines" / "dagster_internals.py"
    elsewhere = sorted(
        f"{module}: {name}"
        for module, path in _modules()
        if path != adapter
        for name in _imports(path)
        if name.startswith("dagster._")
    )
    assert elsewhere == [], f"private Dagster imports outside the adapter: {elsewhere}"
    configs = [ROOT / "pipelines" / "dagster.yaml", ROOT / "deploy" / "dagster.yaml"]
    named = [
        f"{c.relative_to(ROOT)}: {line.strip()}" for c in configs for line in c.read_text().splitlines() if "dagster._" in line
    ]
    assert named == [], f"configs that name private Dagster modules: {named}"


def test_the_inline_runner_is_declared_by_the_package_and_exists():
    """ROSTER_LAUNCH=inline starts the module pyproject.toml declares (entry points
    `roster.runners`), not one named in the service: the installed package says where it is."""
    from importlib.metadata import entry_points

    (runner,) = entry_points(group="roster.runners", name="inline")
    assert runner.value == "pipelines.launch" and (ROOT / "pipelines" / "launch.py").exists()
    assert "pipelines.launch" not in (ROOT / "roster" / "importing" / "service.py").read_text()
