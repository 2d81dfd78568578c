"""The package's rooms and the one-way street between them, read from the source itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tiny_audio"
MAX_LINES = 400

# Which rooms each room may import (besides itself and the plain modules every room shares).
ALLOWED = {
    "pipeline": set(),
    "loading": {"pipeline"},
    "report": {"pipeline"},
    "explore": {"pipeline"},
    "training": {"pipeline", "loading"},
    "live": {"pipeline", "loading", "report"},
    "app": {"pipeline", "loading", "report", "explore", "live"},
    "cli": {"pipeline", "loading", "report", "explore", "live", "training"},
}
SHARED = {"paths", "arguments"}
# The UI stack, and the only rooms that may import it (live mode's HTML page and the model
# card's loss plot draw with Plotly too).
UI_PACKAGES = {"gradio": {"app"}, "plotly": {"report", "app", "live", "training"}}


def modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def room(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported(path: Path) -> set[str]:
    """Every module name an import statement in ``path`` names, at any depth (lazy imports too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError(f"{path}: relative import; use tiny_audio.<room>.<module>")
            names.add(node.module)
    return names


def test_each_room_imports_only_the_rooms_below_it():
    wrong = []
    for path in modules():
        own = room(path)
        if own not in ALLOWED:
            continue  # tiny_audio/__init__.py, __main__.py and the shared plain modules
        for name in imported(path):
            parts = name.split(".")
            if parts[0] == "tiny_audio" and len(parts) > 1 and parts[1] not in SHARED:
                target = parts[1]
                if target != own and target not in ALLOWED[own]:
                    wrong.append(f"{path.relative_to(PACKAGE)} imports {name}")
            elif parts[0] in UI_PACKAGES and own not in UI_PACKAGES[parts[0]]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert wrong == []


def test_no_module_is_long():
    long = {str(p.relative_to(PACKAGE)): n for p in modules() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_no_code_outside_the_pipeline_reaches_into_a_model():
    """``model._x`` / ``something.model._x`` outside tiny_audio/pipeline: private state of the
    pipeline's objects is the pipeline's own."""
    reaching = []
    for path in [p for p in modules() if room(p) != "pipeline"] + sorted((PACKAGE.parent / "bench").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                owner = node.value
                name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
                if name in {"model", "decoder", "encoder", "projector", "tracer", "trace", "result"}:
                    reaching.append(f"{path.name}:{node.lineno} {name}.{node.attr}")
    assert reaching == []


@pytest.mark.parametrize("module", ["tiny_audio", "tiny_audio.pipeline.model", "tiny_audio.pipeline.trace",
                                    "tiny_audio.loading.load", "tiny_audio.training.train"])
def test_the_pipeline_runs_without_the_ui_stack(module):
    code = f"import sys, {module}; assert not {{'gradio', 'plotly'}} & set(sys.modules), sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)
