"""
PySlowFast's own trainer (``tools/train_net.py`` and ``tools/test_net.py`` of a checkout),
imported as it is.

PySlowFast main imports ``vision.fair.slowfast...`` paths that exist only inside Meta;
``compat.alias_fbcode_paths`` maps them onto the checkout (INSTALL.md, "Known problems of
PySlowFast main"). Upstream's ``tools/run_net.py`` is
not used: it imports the demo and visualisation tools, which need more of detectron2;
``gta_slowfast.engine.launch`` does its job.
"""

import importlib.util
import os
import sys

import slowfast
import torch

from ..compat import alias_fbcode_paths

ROOT_ENV = "PYSLOWFAST_ROOT"


def find_checkout(root=None):
    """
    The root of a PySlowFast checkout that has ``tools/train_net.py``: ``root`` if given, else
    ``$PYSLOWFAST_ROOT``, else the directory above the imported ``slowfast`` package. Returns
    None when the installed PySlowFast has no trainer (the PyPI snapshot).
    """
    explicit = root or os.environ.get(ROOT_ENV)
    if explicit:
        if not os.path.isfile(os.path.join(explicit, "tools", "train_net.py")):
            source = "--slowfast-root" if root else f"${ROOT_ENV}"
            raise FileNotFoundError(
                f"{source}={explicit!r} is not a PySlowFast checkout: "
                f"{os.path.join(explicit, 'tools', 'train_net.py')} does not exist"
            )
        return os.path.abspath(explicit)

    guess = os.path.dirname(os.path.dirname(os.path.abspath(slowfast.__file__)))
    return guess if os.path.isfile(os.path.join(guess, "tools", "train_net.py")) else None


# The k of the top-k errors PySlowFast's trainer computes at every iteration
# (tools/train_net.py: topks_correct(preds, labels, (1, 5)); TestMeter.finalize_metrics).
TOP_K = 5


def check_config(cfg):
    """Refuses a config that PySlowFast's trainer starts and then fails on: a single-label
    model with fewer than ``TOP_K`` classes, whose top-5 error stops it at the first
    iteration ("selected index k out of range")."""
    if cfg.MODEL.NUM_CLASSES < TOP_K and not cfg.DATA.get("MULTI_LABEL", False):
        raise ValueError(
            f"MODEL.NUM_CLASSES={cfg.MODEL.NUM_CLASSES}: PySlowFast's trainer computes top-"
            f"{TOP_K} errors (tools/train_net.py, topks_correct(preds, labels, (1, 5))) and "
            f"stops at its first iteration with fewer than {TOP_K} classes; use --trainer "
            f"fallback (it reports top-{cfg.MODEL.NUM_CLASSES}), or at least {TOP_K} classes"
        )


def allow_cpu_run():
    """
    PySlowFast main's ``train_epoch`` calls ``torch.cuda.synchronize()`` and
    ``torch.cuda.empty_cache()`` whatever NUM_GPUS is, which raise on a machine without a CUDA
    device. With no device both have nothing to do; make them no-ops so that ``NUM_GPUS: 0``
    runs of the unchanged trainer work on the CPU. Does nothing where CUDA is available.
    """
    if torch.cuda.is_available():
        return
    torch.cuda.synchronize = lambda device=None: None
    torch.cuda.empty_cache = lambda: None


def _import_tool(root, name):
    """Imports ``tools/<name>.py`` of the checkout as the module ``<name>``, once."""
    if name in sys.modules and getattr(sys.modules[name], "__file__", "").startswith(root):
        return sys.modules[name]
    path = os.path.join(root, "tools", f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load(root):
    """PySlowFast's ``train`` and ``test`` functions from the checkout at ``root``."""
    tools = os.path.join(root, "tools")
    if tools not in sys.path:  # the tools import each other as top-level modules
        sys.path.insert(0, tools)
    alias_fbcode_paths(root)
    return _import_tool(root, "train_net").train, _import_tool(root, "test_net").test
