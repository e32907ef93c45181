"""Shared helpers: small configs of PySlowFast's real builders, fast enough for 2 CPU cores."""

import os
import re

import pytest
import torch

import gta_slowfast
from gta_slowfast import compat
from gta_slowfast.factory import configs_root

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = configs_root()  # the shipped configs, found as the package finds them

requires_main = pytest.mark.skipif(
    compat.GENERATION != "main",
    reason="PySlowFast main (GitHub checkout) is not installed; the PyPI snapshot is in use",
)
requires_snapshot = pytest.mark.skipif(
    compat.GENERATION != "snapshot", reason="the PyPI snapshot of PySlowFast is not in use"
)


def small_cfg(variant="gta", arch="2d", frames=8, crop=64, width=8, identity_init=True):
    """
    R2D-50 (or SlowFast-R50 with arch="slowfast") at channel width ``width`` per group and
    ``crop`` pixels, blocks at res3 [1, 3] and res4 [1, 3, 5] as in the paper.
    ``identity_init=False`` starts every block's final norm at 1 so blocks are not the identity.
    """
    slowfast = arch == "slowfast"
    cfg = gta_slowfast.get_cfg()
    cfg.NUM_GPUS = 0
    cfg.MODEL.ARCH = arch
    cfg.MODEL.MODEL_NAME = "SlowFast" if slowfast else "ResNet"
    cfg.MODEL.NUM_CLASSES = 10
    cfg.MODEL.DROPOUT_RATE = 0.0
    cfg.MODEL.FC_INIT_STD = 0.5
    cfg.DATA.NUM_FRAMES = frames
    cfg.DATA.TRAIN_CROP_SIZE = crop
    cfg.DATA.CROP_SIZE = crop
    cfg.DATA.INPUT_CHANNEL_NUM = [3, 3] if slowfast else [3]
    cfg.RESNET.WIDTH_PER_GROUP = width
    cfg.RESNET.ZERO_INIT_FINAL_BN = identity_init
    cfg.GTA.ZERO_INIT_FINAL_NORM = identity_init
    cfg.GTA.GROUPS = 2
    cfg.GTA.NUM_REGIONS = 4
    paths = 2 if slowfast else 1
    cfg.NONLOCAL.TYPE = variant
    cfg.NONLOCAL.LOCATION = [[[]] * paths, [[1, 3]] * paths, [[1, 3, 5]] * paths, [[]] * paths]
    cfg.NONLOCAL.GROUP = [[1] * paths] * 4
    cfg.NONLOCAL.POOL = [[[1, 2, 2]] * paths] * 4
    if slowfast:
        cfg.SLOWFAST.ALPHA = 4
        cfg.RESNET.NUM_BLOCK_TEMP_KERNEL = [[3, 3], [4, 4], [6, 6], [3, 3]]
        cfg.RESNET.SPATIAL_STRIDES = [[1, 1], [2, 2], [2, 2], [2, 2]]
        cfg.RESNET.SPATIAL_DILATIONS = [[1, 1], [1, 1], [1, 1], [1, 1]]
    return cfg


def build(cfg, seed=0):
    torch.manual_seed(seed)
    return gta_slowfast.build_model(cfg)


def clip(cfg, seed=1, batch_size=2):
    torch.manual_seed(seed)
    return gta_slowfast.dummy_inputs(cfg, batch_size=batch_size)


def run(model, inputs):
    """Forward on a copy of the pathway list: PySlowFast's models overwrite its entries."""
    return model(list(inputs))


def reversal_gap(cfg):
    """
    Relative change of the logits of ``cfg``'s model when the clip's frames are reversed.
    Float64 separates real order dependence from rounding; train mode: the head returns logits
    (no softmax).
    """
    model = build(cfg).double().train()
    x = [t.double() for t in clip(cfg)]
    with torch.no_grad():
        y = run(model, x)
        y_rev = run(model, [x[0].flip(2)])
    return ((y - y_rev).abs().max() / y.abs().max()).item()


def check_one_line(result, prefix, message):
    """Exit status 2, no traceback, and stderr is the one line ``prefix: error: <message> ...``."""
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert re.match(re.escape(f"{prefix}: error: ") + message, result.stderr), result.stderr
    assert result.stderr.endswith("(--debug shows the traceback)\n")
