"""
Everything about PySlowFast's two generations, in one place: the rest of gta_slowfast calls
this package's interface and never asks which generation is installed.

- ``main`` (``compat/main.py``): PySlowFast from GitHub (``MODEL_REGISTRY``,
  ``MODEL.MODEL_NAME``, the ``2d`` arch, ``tools/`` with the trainer), installed from a
  checkout. The first-class target.
- ``snapshot`` (``compat/snapshot.py``): the early code on PyPI (``pyslowfast==1.0``):
  models chosen by ``MODEL.ARCH`` through a dict, no ``2d`` arch, a ``build_model`` that always
  calls CUDA, no trainer. gta_slowfast back-fills what its configs need so the same YAML files
  load and build on both.

Each generation module implements the same interface (the names imported below): config
reconciliation, model build and registration, the stock non-local block, launch, the
per-machine process groups, the loader, dataset items and pathway packing, the decoder, the
logging setup and meters, the json stats it writes itself, and checkpoint file names.

Both generations import ``detectron2.layers.ROIAlign`` at module level, for the AVA detection
head only. Where detectron2 is not installed, a stand-in ``detectron2.layers`` module is put in
``sys.modules`` whose ``ROIAlign`` raises an ImportError when a detection head is built, so
classification models build without detectron2. Set ``GTA_SLOWFAST_DETECTRON2_STUB=0`` to opt
out (PySlowFast's models then fail to import without detectron2, as upstream).

PySlowFast main and PyTorchVideo use APIs that recent torch and torchvision deprecate at import
time (``torch.jit.script``, ``torchvision.transforms._functional_video``,
``_transforms_video``); those deprecation warnings, which a user cannot act on and which would
bury a one-line error, are filtered by their exact messages (``UPSTREAM_IMPORT_WARNINGS``).
Every other warning is shown as Python shows it.
"""

import importlib.util
import logging
import os
import sys
import types
import warnings

import torch.nn as nn

logger = logging.getLogger(__name__)

DETECTRON2_STUB_ENV = "GTA_SLOWFAST_DETECTRON2_STUB"


class _ROIAlignUnavailable:
    """Stand-in for ``detectron2.layers.ROIAlign`` when detectron2 is not installed."""

    def __init__(self, *args, **kwargs):
        raise ImportError(
            "The AVA detection head (DETECTION.ENABLE: True) needs detectron2's ROIAlign, and "
            "detectron2 is not installed. Install detectron2 "
            "(https://github.com/facebookresearch/detectron2) or set DETECTION.ENABLE: False."
        )


def install_detectron2_stub():
    """Puts the ROIAlign stand-in in place if detectron2 is absent; returns True if it did."""
    if os.environ.get(DETECTRON2_STUB_ENV, "1") == "0":
        return False
    if "detectron2" in sys.modules or importlib.util.find_spec("detectron2") is not None:
        return False
    package = types.ModuleType("detectron2")
    package.__path__ = []
    package.__doc__ = "gta_slowfast stand-in: detectron2 is not installed."
    layers = types.ModuleType("detectron2.layers")
    layers.ROIAlign = _ROIAlignUnavailable
    package.layers = layers
    sys.modules["detectron2"] = package
    sys.modules["detectron2.layers"] = layers
    return True


DETECTRON2_STUBBED = install_detectron2_stub()


def alias_fbcode_paths(root):
    """
    PySlowFast main imports ``vision.fair.slowfast.ava_evaluation`` (a path that exists only
    inside Meta) from ``slowfast/utils/ava_eval_helper.py``, reached by the meters
    and ``tools/test_net.py``. Makes ``vision.fair.slowfast`` an alias of the checkout's root
    ``root``, where that package lives as ``ava_evaluation/``. Does nothing if a ``vision``
    package exists.
    """
    if "vision" in sys.modules or importlib.util.find_spec("vision") is not None:
        return
    names = ("vision", "vision.fair", "vision.fair.slowfast")
    for i, name in enumerate(names):
        module = types.ModuleType(name)
        module.__path__ = [root] if name == names[-1] else []
        sys.modules[name] = module
        if i:
            setattr(sys.modules[names[i - 1]], name.rsplit(".", 1)[1], module)


PYSLOWFAST_MISSING = (
    "gta_slowfast needs PySlowFast (the 'slowfast' package), which is not installed in this "
    "Python ({python}). Install it from a checkout: git clone "
    "https://github.com/facebookresearch/SlowFast && pip install --no-deps -e SlowFast; or take "
    "the PyPI snapshot with gta_slowfast's extra: pip install -e '.[pyslowfast]' (in "
    "gta_slowfast's source tree)."
)


def _checkout_root():
    """The directory holding the installed ``slowfast`` package (a checkout's root on main).
    Raises an ImportError saying how to install PySlowFast when it is not installed."""
    spec = importlib.util.find_spec("slowfast")
    if spec is None or spec.origin is None:
        raise ImportError(PYSLOWFAST_MISSING.format(python=sys.executable), name="slowfast")
    return os.path.dirname(os.path.dirname(os.path.abspath(spec.origin)))


# Deprecations raised while PySlowFast main, PyTorchVideo and fvcore import (category, message
# regex): upstream's, not the user's to fix.
UPSTREAM_IMPORT_WARNINGS = (
    (FutureWarning, r"`torch\.jit\.script(_method)?` is deprecated"),
    (UserWarning, r"The 'torchvision\.transforms\._(functional|transforms)_video' module is "
                  r"deprecated"),
)
for _category, _message in UPSTREAM_IMPORT_WARNINGS:
    warnings.filterwarnings("ignore", message=_message, category=_category)

CHECKOUT_ROOT = _checkout_root()
if os.path.isdir(os.path.join(CHECKOUT_ROOT, "ava_evaluation")):
    alias_fbcode_paths(CHECKOUT_ROOT)

# Imported only after the stand-in is in place.
import slowfast.config.defaults as _defaults  # noqa: E402
import slowfast.models.video_model_builder as video_model_builder  # noqa: E402

# Which generation is installed: main has a model registry (slowfast/models/build.py).
GENERATION = "main" if importlib.util.find_spec("slowfast.models.build") else "snapshot"

# The interface each generation module (compat/main.py, compat/snapshot.py) implements;
# gta_slowfast calls these, never a branch on GENERATION.
INTERFACE = (
    "JSON_STATS_WRITTEN",
    "MODEL_REGISTRY",
    "STOCK_MODELS",
    "assert_and_infer_cfg",
    "build_model",
    "check_buildable",
    "data_toc",
    "decode_clip",
    "ensemble_method",
    "finalize_cfg",
    "get_last_checkpoint",
    "get_path_to_checkpoint",
    "init_machine_groups",
    "launch_job",
    "model_class_name",
    "pack_pathways",
    "pyslowfast_loader",
    "register_model",
    "setup_logging",
    "stock_nonlocal",
    "trainer_item",
    "update_train_meter",
)
_generation = importlib.import_module(f"{__name__}.{GENERATION}")
globals().update({name: getattr(_generation, name) for name in INTERFACE})

DEFAULT_CFG = _defaults._C
POOL1 = video_model_builder._POOL1
# Datasets PySlowFast main registers (Ava, Charades, Imagenet, Kinetics, Ssv2) that the
# snapshot lacks (it has Kinetics and Ava only).
MAIN_ONLY_DATASETS = ("charades", "imagenet", "ssv2")


def generation_name():
    """The installed PySlowFast generation as logs and reports name it: "main" or
    "snapshot"."""
    return GENERATION


def needs_pyslowfast_main(dataset):
    """Whether the dataset name ``dataset`` is one that PySlowFast main registers and the
    installed generation (the snapshot) lacks."""
    return GENERATION == "snapshot" and dataset.lower() in MAIN_ONLY_DATASETS


def model_norm_module(model):
    """The norm constructor the stock model was built with (main supports sync/sub BN)."""
    return getattr(model, "norm_module", nn.BatchNorm3d)


# The public names: what both generations share, and the generation's interface.
__all__ = [
    "CHECKOUT_ROOT",
    "DEFAULT_CFG",
    "DETECTRON2_STUBBED",
    "DETECTRON2_STUB_ENV",
    "GENERATION",
    "MAIN_ONLY_DATASETS",
    "POOL1",
    "PYSLOWFAST_MISSING",
    "UPSTREAM_IMPORT_WARNINGS",
    "alias_fbcode_paths",
    "generation_name",
    "install_detectron2_stub",
    "model_norm_module",
    "needs_pyslowfast_main",
    "video_model_builder",
    *INTERFACE,
]
