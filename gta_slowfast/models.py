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

from . import compat
from .blocks import BlockSpec, ResidualAttention, build_variant
from .tsm import place_temporal_shift

logger = logging.getLogger(__name__)

# ResStage attribute names of the stages that can hold non-local blocks, res2 .. res5.
STAGES = ("s2", "s3", "s4", "s5")


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
    """Yields (stage index, pathway, ResStage module, attribute name) of every block place."""
    for stage, stage_name in enumerate(STAGES):
        module = getattr(model, stage_name)
        # main wraps res2 in fairscale's checkpoint_wrapper with MODEL.ACT_CHECKPOINT.
        module = getattr(module, "_checkpoint_wrapped_module", module)
        for pathway, indices in enumerate(cfg.NONLOCAL.LOCATION[stage]):
            for index in indices:
                yield stage, pathway, module, f"pathway{pathway}_nonlocal{index}"


def place_variant(model, cfg):
    """Replaces every stock non-local block of ``model`` by the ``NONLOCAL.TYPE`` variant."""
    name = cfg.NONLOCAL.TYPE
    if name == "nonlocal":
        return model
    for stage, pathway, module, attr in nonlocal_places(model, cfg):
        stock = getattr(module, attr)
        path = f"{STAGES[stage]}.{attr}"
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
    ``build_model`` does on main: CPU with ``NUM_GPUS: 0``, the current (or ``gpu_id``) GPU
    otherwise, DistributedDataParallel with more than one GPU.
    """
    import torch

    if compat.GENERATION == "main":
        from slowfast.models import build_model as upstream_build_model

        return upstream_build_model(cfg, gpu_id=gpu_id)
    if cfg.NUM_GPUS > torch.cuda.device_count():
        raise ValueError(
            f"NUM_GPUS={cfg.NUM_GPUS} but {torch.cuda.device_count()} CUDA devices are "
            f"available; set NUM_GPUS: 0 to run on the CPU"
        )
    compat.check_buildable(cfg)
    model = compat.MODEL_REGISTRY.get(compat.model_class_name(cfg))(cfg)
    if cfg.NUM_GPUS:
        device = torch.cuda.current_device() if gpu_id is None else gpu_id
        model = model.cuda(device=device)
        if cfg.NUM_GPUS > 1:
            model = torch.nn.parallel.DistributedDataParallel(
                module=model, device_ids=[device], output_device=device
            )
    return model


def dummy_inputs(cfg, batch_size=1, crop_size=None):
    """Random clips shaped as the model of ``cfg`` takes them: a list, one tensor per pathway."""
    import torch

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
