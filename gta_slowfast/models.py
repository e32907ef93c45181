"""
Places the configured non-local variant in PySlowFast's stock ResNet and SlowFast builders.

The stock builders put a ``Nonlocal`` block wherever ``NONLOCAL.LOCATION`` says. The classes
registered here are the stock classes, unchanged, followed by one step: each of those blocks is
replaced by the variant ``NONLOCAL.TYPE`` names, built for the channels and the clip length T of
its place. With ``NONLOCAL.TYPE: nonlocal`` nothing is replaced, so stock configs build exactly
what PySlowFast builds. With ``TSM.ENABLE``, the ResNet's residual blocks then get the temporal
shift of ``gta_slowfast.tsm`` (hooks only: the module tree and state dict stay the stock ones).
"""

import logging
import re
from dataclasses import dataclass

import torch

from . import compat
from .blocks import BlockSpec, ResidualAttention, build_variant
from .tsm import place_temporal_shift

logger = logging.getLogger(__name__)

# ResStage attribute names of the stages that can hold non-local blocks, res2 .. res5.
STAGES = ("s2", "s3", "s4", "s5")
# The attribute of a block in its ResStage, as PySlowFast's ResStage names it; the regular
# expression of such a name (checkpoint.matching finds a block's tensors with it).
PLACE_ATTRIBUTE = "pathway{pathway}_nonlocal{index}"
PLACE_ATTRIBUTE_PATTERN = r"pathway(?P<pathway>\d+)_nonlocal(?P<index>\d+)"
# A place name, or a module or tensor name under one: the stage, main's activation-checkpoint
# wrapper of res2 (MODEL.ACT_CHECKPOINT) if any, the block's attribute.
_PLACE = re.compile(
    rf"(?:^|\.)(?P<stage>{'|'.join(STAGES)})\.(?:_checkpoint_wrapped_module\.)?"
    rf"{PLACE_ATTRIBUTE_PATTERN}(?:\.|$)"
)


@dataclass(frozen=True)
class Place:
    """Where a non-local block sits: stage index into ``STAGES`` (0: res2), pathway, and its
    index in ``NONLOCAL.LOCATION[stage][pathway]`` (the residual block it follows)."""

    stage: int
    pathway: int
    index: int

    @property
    def name(self):
        """The place name, e.g. ``s3.pathway0_nonlocal1`` (``place_name``)."""
        return place_name(self.stage, self.pathway, self.index)


def place_name(stage, pathway, index):
    """
    The name of a block place as module names and ``--blocks`` spell it:
    ``place_name(1, 0, 1) == "s3.pathway0_nonlocal1"`` (stage index into ``STAGES``, pathway,
    block index of ``NONLOCAL.LOCATION``). ``parse_place_name`` reads it back.
    """
    return f"{STAGES[stage]}.{PLACE_ATTRIBUTE.format(pathway=pathway, index=index)}"


def parse_place_name(name):
    """
    The ``Place`` of a place name (``s3.pathway0_nonlocal1``) or of a module or tensor name
    under one (``s4.pathway0_nonlocal5.temporal``, ``module.s3.pathway0_nonlocal1.conv_v.weight``);
    None when ``name`` names no block place. Inverse of ``place_name``.
    """
    match = _PLACE.search(name)
    if match is None:
        return None
    return Place(STAGES.index(match["stage"]), int(match["pathway"]), int(match["index"]))


class BlockConstructionError(ValueError):
    """A block that cannot be built at its place; the message names the place and the config
    keys that decide it."""


def _place_keys(cfg, stage, pathway):
    """The config keys that decide the block at ``STAGES[stage]``, ``pathway``, and their values."""
    keys = [
        f"NONLOCAL.TYPE={cfg.NONLOCAL.TYPE!r}",
        f"NONLOCAL.LOCATION[{stage}][{pathway}]={list(cfg.NONLOCAL.LOCATION[stage][pathway])}",
        f"RESNET.WIDTH_PER_GROUP={cfg.RESNET.WIDTH_PER_GROUP}",
        f"DATA.NUM_FRAMES={cfg.DATA.NUM_FRAMES}",
        f"NONLOCAL.GROUP[{stage}][{pathway}]={cfg.NONLOCAL.GROUP[stage][pathway]}",
    ]
    if compat.model_class_name(cfg) == "SlowFast":
        keys.insert(3, f"SLOWFAST.BETA_INV={cfg.SLOWFAST.BETA_INV}" if pathway else
                    f"SLOWFAST.ALPHA={cfg.SLOWFAST.ALPHA}")
    return ", ".join(keys)


def _divide(value, divisor, what):
    if divisor < 1 or value % divisor:
        raise ValueError(f"{what}: {value} frames are not divisible by {divisor}")
    return value // divisor


def stage_num_frames(cfg, stage, pathway):
    """
    The temporal length T that a non-local block at ``STAGES[stage]``, ``pathway`` sees for a
    clip of ``DATA.NUM_FRAMES`` frames: SlowFast's Slow pathway takes every ``SLOWFAST.ALPHA``-th
    frame, the arch's pool1 pools time after res2, and ``NONLOCAL.GROUP`` folds time into batch.
    """
    frames = cfg.DATA.NUM_FRAMES
    if compat.model_class_name(cfg) == "SlowFast" and pathway == 0:
        frames = _divide(frames, cfg.SLOWFAST.ALPHA, "DATA.NUM_FRAMES / SLOWFAST.ALPHA")
    if stage >= 1:
        pool_t = compat.POOL1[cfg.MODEL.ARCH][pathway][0]
        frames = _divide(frames, pool_t, f"MODEL.ARCH={cfg.MODEL.ARCH!r} pool1")
    group = cfg.NONLOCAL.GROUP[stage][pathway]
    return _divide(frames, group, f"NONLOCAL.GROUP[{stage}][{pathway}]")


def nonlocal_places(model, cfg):
    """Yields (``Place``, ResStage module, attribute name in it) of every block place."""
    for stage, stage_name in enumerate(STAGES):
        module = getattr(model, stage_name)
        # main wraps res2 in fairscale's checkpoint_wrapper with MODEL.ACT_CHECKPOINT.
        module = getattr(module, "_checkpoint_wrapped_module", module)
        for pathway, indices in enumerate(cfg.NONLOCAL.LOCATION[stage]):
            for index in indices:
                attribute = PLACE_ATTRIBUTE.format(pathway=pathway, index=index)
                yield Place(stage, pathway, index), module, attribute


def place_variant(model, cfg):
    """
    Replaces every stock non-local block of ``model`` (at ``NONLOCAL.LOCATION``) by the
    ``NONLOCAL.TYPE`` variant, built from a ``BlockSpec`` of its place: channels, the clip
    length T of its stage (``stage_num_frames``), the ``GTA`` node, pool size and norm.

    Args:
        model (torch.nn.Module): PySlowFast's stock ResNet or SlowFast, as built from ``cfg``.
        cfg (CfgNode): the config ``model`` was built from.

    Returns:
        torch.nn.Module: ``model``, changed in place; unchanged for ``NONLOCAL.TYPE: nonlocal``.

    Raises:
        KeyError: ``NONLOCAL.TYPE`` is not a registered variant (the message lists them).
        ValueError: a stage's clip length does not divide (``DATA.NUM_FRAMES`` by
            ``SLOWFAST.ALPHA``, the arch's pool1 or ``NONLOCAL.GROUP``).
        BlockConstructionError: a block cannot be built at its place (a ``ValueError`` naming
            the place, e.g. ``s3.pathway0_nonlocal1``, and the config keys that decide it).
    """
    name = cfg.NONLOCAL.TYPE
    if name == "nonlocal":
        return model
    for place, module, attr in nonlocal_places(model, cfg):
        stage, pathway, path = place.stage, place.pathway, place.name
        stock = getattr(module, attr)
        try:
            spec = BlockSpec(
                dim=stock.dim,
                num_frames=stage_num_frames(cfg, stage, pathway),
                gta_cfg=cfg.GTA,
                pool_size=cfg.NONLOCAL.POOL[stage][pathway],
                instantiation=cfg.NONLOCAL.INSTANTIATION,
                norm_module=compat.model_norm_module(model),
            )
            block = build_variant(name, spec)
        except (ValueError, TypeError) as err:
            raise BlockConstructionError(
                f"{path}: the {name!r} block for its {stock.dim} channels cannot be built "
                f"({_place_keys(cfg, stage, pathway)}): {err}"
            ) from err
        for sub_name, sub in block.named_modules():
            if isinstance(sub, ResidualAttention):
                sub.block_name = f"{path}.{sub_name}" if sub_name else path
        setattr(module, attr, block)
    return model


def _with_variant(stock_cls, name):
    """The stock model class ``stock_cls`` followed by ``place_variant``, named ``name``."""

    def __init__(self, cfg):
        stock_cls.__init__(self, cfg)
        place_variant(self, cfg)
        place_temporal_shift(self, cfg)

    doc = (
        f"PySlowFast's {stock_cls.__name__}, built unchanged, then with every non-local block "
        f"replaced by the NONLOCAL.TYPE variant (none replaced for 'nonlocal') and, with "
        f"TSM.ENABLE, the temporal shift installed in its residual blocks."
    )
    return type(name, (stock_cls,), {"__init__": __init__, "__doc__": doc, "__module__": __name__})


ResNet = _with_variant(compat.STOCK_MODELS["ResNet"], "ResNet")
SlowFast = _with_variant(compat.STOCK_MODELS["SlowFast"], "SlowFast")
compat.register_model("ResNet", ResNet)
compat.register_model("SlowFast", SlowFast)


def build_model(cfg, gpu_id=None):
    """
    Builds the video model of ``cfg`` on either PySlowFast generation, as PySlowFast's
    ``build_model`` does on main: the stock ResNet or SlowFast with the ``NONLOCAL.TYPE``
    variant placed (``place_variant``) and, with ``TSM.ENABLE``, the temporal shift.

    Args:
        cfg (CfgNode): a config with gta_slowfast's keys (``gta_slowfast.load_config``).
        gpu_id (int, optional): the GPU to build on; None: the current one.

    Returns:
        torch.nn.Module: the model, on the CPU with ``NUM_GPUS: 0``, on the GPU otherwise,
        wrapped in DistributedDataParallel with more than one GPU.

    Raises:
        ValueError: ``NUM_GPUS`` exceeds the visible GPUs (on PySlowFast main, its own
            ``AssertionError``), a block or the temporal shift cannot be built at its place,
            or the config does not fit the installed PySlowFast generation.
        KeyError: ``NONLOCAL.TYPE`` is not a registered variant.
    """
    return compat.build_model(cfg, gpu_id=gpu_id)


def dummy_inputs(cfg, batch_size=1, crop_size=None):
    """Random clips shaped as the model of ``cfg`` takes them: a list, one tensor per pathway."""
    crop = crop_size or cfg.DATA.TRAIN_CROP_SIZE
    frames = [cfg.DATA.NUM_FRAMES]
    if compat.model_class_name(cfg) == "SlowFast":
        frames = [cfg.DATA.NUM_FRAMES // cfg.SLOWFAST.ALPHA, cfg.DATA.NUM_FRAMES]
    return [
        torch.randn(batch_size, channels, t, crop, crop)
        for channels, t in zip(cfg.DATA.INPUT_CHANNEL_NUM, frames)
    ]


def cpu_cfg(cfg):
    """A copy of ``cfg`` that builds the same tensors on the CPU, outside the training workers
    (``NUM_GPUS`` 0, synchronised BatchNorm as plain BatchNorm); ``cfg`` is left as it is."""
    cpu = cfg.clone()
    cpu.defrost()
    cpu.NUM_GPUS = 0
    if cpu.BN.get("NORM_TYPE") == "sync_batchnorm":
        cpu.BN.NORM_TYPE = "batchnorm"  # the same tensors; syncing needs the workers' group
    return cpu
