"""The package's shape, checked on every CI run (docs/architecture.md, "Which way imports go"):
imports run down the DAG, no two packages import each other, and no code outside ``methods/``
asks which kind a method is.

Every ``import`` counts, also the ones inside functions: a lazy import is still a dependency.
"""
from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

from conftest import ROOT

PKG = ROOT / "workflow" / "vadflow"

#: what each part of the package must not import (prefixes of module names).
FORBIDDEN = {
    "methods": ("vadflow.features", "vadflow.detection", "vadflow.evaluation", "vadflow.streaming", "vadflow.config",
                "vadflow.cli", "vadflow.jobs", "vadflow.video", "snakemake"),
    "features": ("vadflow.config", "vadflow.methods", "vadflow.evaluation", "vadflow.streaming", "vadflow.cli", "vadflow.jobs",
                 "snakemake"),
    "stores": ("vadflow.features", "vadflow.methods", "vadflow.detection", "vadflow.evaluation", "vadflow.streaming",
               "vadflow.config", "vadflow.cli", "vadflow.jobs", "snakemake"),
    "detection": ("vadflow.methods", "vadflow.evaluation", "vadflow.streaming", "vadflow.config", "vadflow.cli", "vadflow.jobs",
                  "snakemake"),
    "evaluation": ("vadflow.methods", "vadflow.features", "vadflow.detection", "vadflow.streaming", "vadflow.config",
                   "vadflow.cli", "vadflow.jobs", "snakemake"),
    "streaming": ("vadflow.config", "vadflow.cli", "vadflow.jobs", "vadflow.evaluation", "snakemake"),
}
#: the low-level helpers the data adapters and the decoder may use, besides their own package.
LOW_LEVEL = ("vadflow.io", "vadflow.frame_folders")
ONLY = {"data": ("vadflow.data",) + LOW_LEVEL, "video": ("vadflow.video",) + LOW_LEVEL}


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        parts = path.relative_to(PKG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports(path: Path) -> set[str]:
    """Every module an import statement of the file names (``from a import b`` counts ``a`` and ``a.b``)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def part(module: str) -> str:
    """The first-level part of the package a module belongs to (``vadflow.methods.lof.method`` -> ``methods``)."""
    bits = module.split(".")
    return bits[1] if len(bits) > 1 else ""


def _is(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


MODULES = modules()


@pytest.mark.parametrize("module", sorted(m for m in MODULES if part(m) in FORBIDDEN))
def test_imports_run_down_the_dag(module):
    bad = sorted(i for i in imports(MODULES[module]) if any(_is(i, p) for p in FORBIDDEN[part(module)]))
    assert not bad, f"{module} imports {bad}, which {part(module)} must not (docs/architecture.md)"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if part(m) in ONLY))
def test_data_and_video_import_only_low_level_helpers(module):
    ours = {i for i in imports(MODULES[module]) if _is(i, "vadflow")}
    bad = sorted(i for i in ours if not any(_is(i, p) for p in ONLY[part(module)]))
    assert not bad, f"{module} imports {bad}; {part(module)} may import only {ONLY[part(module)]}"


def test_no_cycle_between_packages():
    """The graph of first-level parts (data, video, features, stores, methods, ...) has no cycle."""
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in MODULES.items():
        for i in imports(path):
            if _is(i, "vadflow") and part(i) and part(i) != part(module) and part(module):
                graph[part(module)].add(part(i))
    seen: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, trail: list[str]) -> None:
        if seen.get(node) == 1:
            raise AssertionError("import cycle between packages: " + " -> ".join(trail[trail.index(node):] + [node]))
        if seen.get(node) == 2:
            return
        seen[node] = 1
        for nxt in sorted(graph[node]):
            visit(nxt, trail + [node])
        seen[node] = 2

    for node in sorted(graph):
        visit(node, [])


def _kinds() -> set[str]:
    """The registered method kinds, read from the registry's source (no import of the kinds)."""
    tree = ast.parse((PKG / "methods" / "__init__.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "_REGISTRY":
            return {k.value for k in node.value.keys}
    raise AssertionError("methods/__init__.py has no _REGISTRY")


KINDS = _kinds()


def _kind_literals(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and node.value in KINDS:
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in KINDS]
    return []


def test_no_kind_name_comparison_outside_methods():
    """Code outside methods/ asks the method (its declarations and hooks), never compares its kind."""
    found = []
    for module, path in MODULES.items():
        if part(module) == "methods":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                for side in [node.left, *node.comparators]:
                    for kind in _kind_literals(side):
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} compares with kind {kind!r}")
            elif isinstance(node, ast.match_case) and isinstance(node.pattern, ast.MatchValue):
                for kind in _kind_literals(node.pattern.value):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} matches kind {kind!r}")
    quoted = "|".join(re.escape(k) for k in sorted(KINDS))
    pattern = re.compile(rf"""(==|!=|\bin)\s*[\(\[\{{]?\s*["']({quoted})["']""")
    for path in [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]:
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                found.append(f"{path.relative_to(ROOT)}:{i} compares with a kind name")
    assert not found, "ask the method instead (methods/base.py):\n" + "\n".join(found)


def test_the_checks_catch_what_they_forbid(tmp_path):
    """The checks above can fail: a planted bad import and a planted kind comparison are found."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f(cfg):\n    from vadflow.features.extract import extract_shard\n    return cfg['kind'] in ('lof', 'x')\n")
    assert "vadflow.features.extract" in imports(bad)
    tree = ast.parse(bad.read_text())
    assert any(_kind_literals(s) for n in ast.walk(tree) if isinstance(n, ast.Compare) for s in n.comparators)
