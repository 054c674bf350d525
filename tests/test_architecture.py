"""The import rules of the README's "Architecture" section, read from the source.

Each rule is a "never": modules of one layer never import (at run time; `TYPE_CHECKING`
blocks excluded) the modules named. The registries are the two sanctioned bridges upward:
`dpsynth.registry` imports `dpsynth.generators` to register the built-in generators, and
`dpsynth.modality` names each modality package and its audit plan by string.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE_ROOTS = {"dpsynth": ROOT / "dpsynth", "dpsynth.generators": ROOT / "generators",
                "dpsynth.validators": ROOT / "validators"}
APPLICATION = ("dpsynth.cli", "dpsynth.__main__", "dpsynth.pipeline", "dpsynth.sampling", "dpsynth.demo",
               "dpsynth.privacy_audit", "dpsynth.verify", "dpsynth.sweep", "dpsynth.sweep_plan", "dpsynth.sweep_cell",
               "dpsynth.sweep_folder", "dpsynth.sweep_ray", "dpsynth.sweep_table")
MODALITIES = ("dpsynth.tabular", "dpsynth.series", "dpsynth.images")
CODECS_AND_HOOKS = tuple(f"{m}.{part}" for m in MODALITIES for part in ("codec", "generator"))
MODEL_CODE = ("dpsynth.generator", "dpsynth.generators", "dpsynth.families", "dpsynth.registry", "dpsynth.backbones",
              "dpsynth.image_backbones", "dpsynth.convolutions", *CODECS_AND_HOOKS)

# (who, what it must never import, why)
NEVER = [
    ("dpsynth.privacy", (*MODALITIES, *MODEL_CODE, "dpsynth.validators", *APPLICATION),
     "the privacy layer (budget, ledger, mechanisms, card) sits below every modality and model"),
    ("dpsynth.families", (*MODALITIES, "dpsynth.generators", "dpsynth.validators", *APPLICATION),
     "a family (VAE, GAN, diffusion) is written once for every modality"),
    ("dpsynth.tabular", ("dpsynth.series", "dpsynth.images", "dpsynth.validators", *APPLICATION),
     "tabular is the base modality: series and images keep their attributes in a TabularSchema"),
    ("dpsynth.series", ("dpsynth.images", "dpsynth.validators", *APPLICATION), "modalities are siblings"),
    ("dpsynth.images", ("dpsynth.series", "dpsynth.validators", *APPLICATION), "modalities are siblings"),
    ("dpsynth.validators", (*MODEL_CODE, *APPLICATION),
     "the audit judges any synthetic data, from dpsynth or another tool: it never sees a generator"),
    ("dpsynth.generators", ("dpsynth.validators", *APPLICATION), "a generator never reads the audit"),
    ("dpsynth.schema", ("dpsynth",), "the shared schema machinery needs only dpsynth.errors"),
    ("dpsynth.modality", ("dpsynth",), "the modality registry names its modalities by string only"),
]
ALLOWED = {"dpsynth.errors", "dpsynth.optional"}  # leaf modules every layer may use


def module_name(package: str, path: Path, folder: Path) -> str:
    parts = [p for p in path.relative_to(folder).with_suffix("").parts if p != "__init__"]
    return ".".join([package, *parts])


def runtime_imports(path: Path) -> set[str]:
    """Every dpsynth module ``path`` imports, outside `if TYPE_CHECKING:` blocks."""
    tree = ast.parse(path.read_text())
    skipped = {id(node) for block in ast.walk(tree)
               if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
               for node in ast.walk(block)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("dpsynth")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dpsynth"):
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def graph() -> dict[str, set[str]]:
    out = {}
    for package, folder in SOURCE_ROOTS.items():
        for path in folder.rglob("*.py"):
            out[module_name(package, path, folder)] = runtime_imports(path)
    return out


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


GRAPH = graph()


@pytest.mark.parametrize("who, forbidden, why", NEVER, ids=[rule[0] for rule in NEVER])
def test_layer_never_imports(who, forbidden, why):
    broken = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items() if within(module, who)
        for target in targets
        if target != "dpsynth" and not any(within(target, allowed) for allowed in ALLOWED)
        and any(within(target, bad) for bad in forbidden) and not within(target, who)
    )
    assert not broken, f"{why}:\n" + "\n".join(broken)


def test_core_never_imports_the_plugins_or_the_application():
    """Below the application, only the generator registry may name `dpsynth.generators`."""
    core = [m for m in GRAPH if within(m, "dpsynth") and not any(within(m, p) for p in (
        "dpsynth.generators", "dpsynth.validators", "dpsynth.registry", *APPLICATION))]
    broken = sorted(f"{m} imports {t}" for m in core for t in GRAPH[m]
                    if any(within(t, bad) for bad in ("dpsynth.generators", "dpsynth.validators", *APPLICATION)))
    assert not broken, "\n".join(broken)


def folder(module: str) -> str:
    """The package folder a module lives in (``dpsynth.series.codec`` -> ``dpsynth.series``); a
    top-level module is its own unit."""
    parts = module.split(".")
    package = ".".join(parts[:2])
    return package if len(parts) > 2 or any(m.startswith(package + ".") for m in GRAPH) else module


def test_no_two_folders_import_each_other():
    """Folder-level cycles hide a misplaced module; the generator registry is the one sanctioned
    bridge (it imports `dpsynth.generators` to register them; they import it to register)."""
    edges = {(folder(m), folder(t)) for m, targets in GRAPH.items() for t in targets
             if t in GRAPH and folder(m) != folder(t)}
    cycles = sorted(f"{a} <-> {b}" for a, b in edges if (b, a) in edges and a < b
                    and {a, b} != {"dpsynth.generators", "dpsynth.registry"})
    assert not cycles, "\n".join(cycles)


def test_no_private_name_is_imported_across_modules():
    broken = sorted(f"{m} imports {t}" for m, targets in GRAPH.items() for t in targets
                    if t.rsplit(".", 1)[-1].startswith("_") and not t.rsplit(".", 1)[-1].startswith("__"))
    assert not broken, "make the name public, or move it to a shared module:\n" + "\n".join(broken)


def test_the_rules_see_the_whole_tree():
    """The graph covers every layer the rules name (a moved folder would silently pass them)."""
    for who, _, _ in NEVER:
        assert any(within(m, who) for m in GRAPH), f"no module under {who}"
    assert "dpsynth.validators.suite" in GRAPH and "dpsynth.generators.tabular_vae" in GRAPH
