"""Importing gta_slowfast where PySlowFast is not installed; compat's two generations."""

import ast
import os
import subprocess
import sys

from conftest import REPO

# Hides the "slowfast" package from every import finder, as in a Python without PySlowFast.
WITHOUT_SLOWFAST = """
import sys


class Hidden:
    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "slowfast":
            return None
        return self.finder.find_spec(name, path, target)

    def __getattr__(self, attribute):
        return getattr(self.finder, attribute)


sys.meta_path[:] = [Hidden(finder) for finder in sys.meta_path]
try:
    import slowfast  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("slowfast is still importable")
import gta_slowfast  # noqa: E402,F401
"""


def test_import_without_pyslowfast_says_how_to_install_it():
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_SLOWFAST], cwd=REPO, capture_output=True, text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: gta_slowfast needs PySlowFast"), result.stderr
    assert "pip install --no-deps -e SlowFast" in last
    assert "pip install -e '.[pyslowfast]'" in last
    assert "AttributeError" not in result.stderr


def top_level_names(path):
    """The names a module's own top-level statements define (assignments, defs, imports)."""
    names = set()
    for node in ast.parse(open(path).read()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def test_both_generations_implement_compats_whole_interface():
    """compat takes its INTERFACE from compat/main.py or compat/snapshot.py, whichever PySlowFast
    is installed; each must define every name of it (read from the source: only one of the two
    imports here)."""
    folder = os.path.join(REPO, "gta_slowfast", "compat")
    interface = None
    for node in ast.parse(open(os.path.join(folder, "__init__.py")).read()).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == \
                ["INTERFACE"]:
            interface = set(ast.literal_eval(node.value))
    assert interface, "compat/__init__.py defines no INTERFACE"
    for generation in ("main", "snapshot"):
        missing = interface - top_level_names(os.path.join(folder, f"{generation}.py"))
        assert not missing, f"compat/{generation}.py lacks {sorted(missing)}"
