"""
Temporal Shift Module (TSM) as a config option of PySlowFast's own ResNet builder.

Lin, Gan, Han. "TSM: Temporal Shift Module for Efficient Video Understanding", ICCV 2019.

A fraction of the channels of every residual block of res2..res5 moves one frame backward in
time, the same number one frame forward, zero-padded at the clip ends. The shift is installed as
forward pre-hooks on the stock blocks: it has no parameters, no FLOPs, and leaves the module
tree, and so the state dict, exactly as PySlowFast builds it (checkpoints interchange with the
plain R2D).
"""

import logging
import math

import torch
from slowfast.models.resnet_helper import ResBlock

from . import compat
from .config import add_gta_slowfast_config

logger = logging.getLogger(__name__)

PLACEMENTS = ("residual", "inplace")


def add_tsm_config(cfg):
    """
    The name under which earlier releases added the ``TSM`` node; adds every key of gta_slowfast
    (``gta_slowfast.config.add_gta_slowfast_config``), the ``TSM`` node among them.

    Args:
        cfg (CfgNode): a PySlowFast config.

    Returns:
        CfgNode: ``cfg``, with gta_slowfast's keys.
    """
    return add_gta_slowfast_config(cfg)


def shift_fold(channels, fraction):
    """Channels shifted each way for ``channels`` channels: floor(channels * fraction)."""
    # The small margin keeps fractions such as 0.1 or 0.3 from rounding one channel down.
    return math.floor(channels * fraction + 1e-9)


def temporal_shift(x, fold):
    """
    TSM's shift of a clip ``x`` [N, C, T, H, W]: channels [0, fold) move one frame backward
    (frame t takes frame t + 1), channels [fold, 2 fold) one frame forward (frame t takes frame
    t - 1), the others stay; frames entering from outside the clip are zeros.
    """
    n, _, _, h, w = x.shape
    zeros = x.new_zeros(n, fold, 1, h, w)
    backward = torch.cat((x[:, :fold, 1:], zeros), dim=2)
    forward = torch.cat((zeros, x[:, fold : 2 * fold, :-1]), dim=2)
    return torch.cat((backward, forward, x[:, 2 * fold :]), dim=1)


class TemporalShift:
    """
    Forward pre-hook applying ``temporal_shift`` to the input of the module it is registered
    on; ``name`` (the module's name in the model) appears in its errors.
    """

    def __init__(self, fold, name):
        self.fold = fold
        self.name = name

    def __call__(self, module, args):
        x = args[0]
        if x.dim() != 5 or x.shape[2] < 2:
            raise ValueError(
                f"TSM.ENABLE=True: {self.name} shifts channels along time and needs clips "
                f"[N, C, T, H, W] with T > 1, got T={x.shape[2] if x.dim() == 5 else None} "
                f"(shape {list(x.shape)})"
            )
        return (temporal_shift(x, self.fold),) + tuple(args[1:])


def _check_tsm_cfg(cfg):
    name = compat.model_class_name(cfg)
    if name != "ResNet":
        raise ValueError(
            f"TSM.ENABLE=True is supported for the single-pathway ResNet only, got the {name!r} "
            f"model (MODEL.MODEL_NAME={cfg.MODEL.MODEL_NAME!r}, MODEL.ARCH={cfg.MODEL.ARCH!r})"
        )
    if cfg.TSM.PLACEMENT not in PLACEMENTS:
        raise ValueError(
            f"TSM.PLACEMENT must be one of {list(PLACEMENTS)}, got {cfg.TSM.PLACEMENT!r}"
        )
    if not 0 < cfg.TSM.FRACTION <= 0.5:
        raise ValueError(f"TSM.FRACTION must be in (0, 0.5], got {cfg.TSM.FRACTION}")


def place_temporal_shift(model, cfg):
    """
    With ``TSM.ENABLE``, installs the temporal shift on every residual block of ``model`` (the
    stock ResNet of ``cfg``) at ``TSM.PLACEMENT``; returns ``model``.
    """
    if not cfg.TSM.ENABLE:
        return model
    _check_tsm_cfg(cfg)
    blocks = [(n, m) for n, m in model.named_modules() if isinstance(m, ResBlock)]
    for name, block in blocks:
        fold = shift_fold(block.branch2.a.in_channels, cfg.TSM.FRACTION)
        if fold < 1:
            raise ValueError(
                f"TSM.FRACTION={cfg.TSM.FRACTION} shifts no channel of {name} "
                f"({block.branch2.a.in_channels} channels)"
            )
        if cfg.TSM.PLACEMENT == "residual":
            block.branch2.register_forward_pre_hook(TemporalShift(fold, f"{name}.branch2"))
        else:
            block.register_forward_pre_hook(TemporalShift(fold, name))
    logger.info(
        "TSM: %s temporal shift (fraction %s each way) in %d residual blocks",
        cfg.TSM.PLACEMENT,
        cfg.TSM.FRACTION,
        len(blocks),
    )
    return model
