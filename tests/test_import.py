"""Importing gta_slowfast where PySlowFast is not installed."""

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
