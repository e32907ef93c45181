"""
Everything about PySlowFast's two generations, in one place.

- ``main``: PySlowFast from GitHub (``MODEL_REGISTRY``, ``MODEL.MODEL_NAME``, the ``2d`` arch,
  ``tools/`` with the trainer), installed from a checkout. The first-class target.
- ``snapshot``: the January-2020 code on PyPI (``pyslowfast==1.0``): models chosen by
  ``MODEL.ARCH`` through a dict, no ``2d`` arch, a ``build_model`` that always calls CUDA, no
  trainer. gta_slowfast back-fills what its configs need so the same YAML files load and
  build on both.

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
    GitHub main since 2024-08 imports ``vision.fair.slowfast.ava_evaluation`` (a path that
    exists only inside Meta) from ``slowfast/utils/ava_eval_helper.py``, reached by the meters
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
from fvcore.common.registry import Registry  # noqa: E402

try:
    from slowfast.models.build import MODEL_REGISTRY

    GENERATION = "main"
except ImportError:
    GENERATION = "snapshot"
    # The snapshot picks the model class from MODEL.ARCH; this registry plays the role of
    # main's MODEL_REGISTRY for gta_slowfast.build_model.
    MODEL_REGISTRY = Registry("MODEL")

DEFAULT_CFG = _defaults._C
POOL1 = video_model_builder._POOL1
# Datasets PySlowFast main registers (measured at HEAD 287ec00: Ava, Charades, Imagenet,
# Kinetics, Ssv2) that the snapshot lacks (it has Kinetics and Ava only).
MAIN_ONLY_DATASETS = ("charades", "imagenet", "ssv2")

if GENERATION == "main":
    STOCK_MODELS = {
        "ResNet": video_model_builder.ResNet,
        "SlowFast": video_model_builder.SlowFast,
    }
else:
    STOCK_MODELS = {
        "ResNet": video_model_builder.ResNetModel,
        "SlowFast": video_model_builder.SlowFastModel,
    }


def _backfill_snapshot():
    """Gives the snapshot the ``2d`` arch and the config keys of main that our configs use."""
    # R2D: 2D kernels everywhere and no temporal pooling, as main's "2d" arch.
    video_model_builder._TEMPORAL_KERNEL_BASIS.setdefault("2d", [[[1]]] * 5)
    POOL1.setdefault("2d", [[1, 1, 1]])
    if "2d" not in _defaults._C.MODEL.SINGLE_PATHWAY_ARCH:
        _defaults._C.MODEL.SINGLE_PATHWAY_ARCH.append("2d")
    # Model class name as in main's MODEL_REGISTRY ("ResNet" or "SlowFast"); empty: chosen by
    # MODEL.ARCH, as this PySlowFast generation does ("slowfast" -> SlowFast, else ResNet).
    _defaults._C.MODEL.MODEL_NAME = ""
    # Warm-up length; float as in main (the snapshot declared an int), so 0.19 or 2.0 load.
    _defaults._C.SOLVER.WARMUP_EPOCHS = float(_defaults._C.SOLVER.WARMUP_EPOCHS)
    # File under OUTPUT_DIR for the test's [video scores, labels] pickle, as in main (used by
    # gta_slowfast's test loop and tools.ensemble); empty: not saved.
    _defaults._C.TEST.SAVE_RESULTS_PATH = ""
    # Video decoder. The snapshot decodes with PyAV only: "pyav" is the one accepted value.
    _defaults._C.DATA.DECODING_BACKEND = "pyav"
    # Random horizontal flip in training, as in main. Something-Something configs turn it off
    # (their labels name directions). The snapshot's own loaders (Kinetics, AVA) always flip.
    _defaults._C.DATA.RANDOM_FLIP = True
    # Swap the loaded frames' channels (BGR <-> RGB), as in main, whose ssv2 loader reads frames
    # with OpenCV (BGR). The snapshot's own loaders decode RGB with PyAV and do not read it.
    _defaults._C.DATA.REVERSE_INPUT_CHANNEL = False
    # Draw the training short side's inverse uniformly in 1 / DATA.TRAIN_JITTER_SCALES, as in
    # main (its SSv2 recipe sets it). Read by the gta_* datasets.
    _defaults._C.DATA.INV_UNIFORM_SAMPLE = False
    # Fine-tune from TRAIN.CHECKPOINT_FILE_PATH at epoch 0 with a fresh optimizer, ignoring the
    # epoch and optimizer state it stores, as in main (gta_slowfast.checkpoint reads both).
    _defaults._C.TRAIN.CHECKPOINT_EPOCH_RESET = False
    # Substrings removed from the tensor names of TRAIN.CHECKPOINT_FILE_PATH, as in main.
    _defaults._C.TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN = ()


def finalize_cfg(cfg):
    """
    Reconciles keys the two generations name differently, after a config is merged. The
    snapshot sizes its head from ``DATA.CROP_SIZE`` where main uses ``DATA.TRAIN_CROP_SIZE``;
    main's key wins, as in our configs.
    """
    if GENERATION == "snapshot":
        cfg.DATA.CROP_SIZE = cfg.DATA.TRAIN_CROP_SIZE
        if cfg.DATA.DECODING_BACKEND != "pyav":
            raise ValueError(
                f"DATA.DECODING_BACKEND={cfg.DATA.DECODING_BACKEND!r}: the installed "
                f"PySlowFast (PyPI snapshot) decodes with PyAV only; use 'pyav'"
            )
    return cfg


def check_buildable(cfg):
    """Rejects configs the installed generation would build wrongly without saying so."""
    if GENERATION == "snapshot" and cfg.DATA.CROP_SIZE != cfg.DATA.TRAIN_CROP_SIZE:
        raise ValueError(
            f"DATA.CROP_SIZE={cfg.DATA.CROP_SIZE} differs from DATA.TRAIN_CROP_SIZE="
            f"{cfg.DATA.TRAIN_CROP_SIZE}; the PyPI snapshot sizes the head from DATA.CROP_SIZE. "
            f"Load configs with gta_slowfast.load_config, or set both"
        )


def stock_nonlocal(dim, dim_inner, pool_size, instantiation, norm_module):
    """PySlowFast's own ``Nonlocal`` block, built as its ResStage builds it."""
    from slowfast.models.nonlocal_helper import Nonlocal

    if GENERATION == "main":
        return Nonlocal(
            dim, dim_inner, pool_size, instantiation=instantiation, norm_module=norm_module
        )
    return Nonlocal(dim, dim_inner, pool_size, instantiation=instantiation)


def model_norm_module(model):
    """The norm constructor the stock model was built with (main supports sync/sub BN)."""
    import torch.nn as nn

    return getattr(model, "norm_module", nn.BatchNorm3d)


def model_class_name(cfg):
    """The MODEL_REGISTRY name of the model ``cfg`` asks for, on either generation."""
    name = cfg.MODEL.MODEL_NAME
    if GENERATION == "snapshot":
        by_arch = "SlowFast" if cfg.MODEL.ARCH == "slowfast" else "ResNet"
        if name and name != by_arch:
            raise ValueError(
                f"MODEL.MODEL_NAME={name!r} does not match MODEL.ARCH={cfg.MODEL.ARCH!r}: the "
                f"installed PySlowFast (PyPI snapshot) builds {by_arch!r} for that arch"
            )
        return by_arch
    return name


def register_model(name, cls):
    """
    Puts ``cls`` in the model registry under ``name``, replacing the stock class of that name,
    so that PySlowFast's own ``build_model`` builds it from configs unchanged.
    """
    MODEL_REGISTRY._obj_map[name] = cls
    if GENERATION == "snapshot":
        import slowfast.models.model_builder as model_builder

        for arch in list(model_builder._MODEL_TYPES) + ["2d"]:
            by_arch = "SlowFast" if arch == "slowfast" else "ResNet"
            if by_arch == name:
                model_builder._MODEL_TYPES[arch] = cls


if GENERATION == "snapshot":
    _backfill_snapshot()
