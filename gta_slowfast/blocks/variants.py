"""The non-local variant registry: one builder per name of ``NONLOCAL.TYPE``."""

from dataclasses import dataclass
from typing import Any, Callable, List

import torch.nn as nn
from fvcore.common.registry import Registry

from ..compat import stock_nonlocal
from .decoupled import DecoupledBlock
from .gta import GlobalTemporalAttention
from .spatial import SpatialSelfAttention
from .temporal import TemporalSelfAttention

VARIANT_REGISTRY = Registry("NONLOCAL_VARIANT")
VARIANT_REGISTRY.__doc__ = """
Blocks that can stand where PySlowFast puts a non-local block. A registered builder is called
with a ``BlockSpec`` and returns a residual ``nn.Module`` mapping [N, C, T, H, W] to itself.
"""


def register_variant(name):
    """
    Decorator registering a block builder under ``name``, a value of ``NONLOCAL.TYPE``::

        @gta_slowfast.register_variant("my_block")
        def build_my_block(spec):  # spec: BlockSpec
            return MyBlock(spec.dim, spec.num_frames)

    Args:
        name (str): the variant's name in ``VARIANT_REGISTRY``.

    Returns:
        Callable: the decorator; it registers the builder (a function taking a ``BlockSpec``
        and returning a residual ``nn.Module`` mapping [N, C, T, H, W] to itself) and returns
        it unchanged.

    Raises:
        AssertionError: when the decorator is applied, ``name`` is registered already
            (fvcore's ``Registry``).
    """

    def deco(builder):
        VARIANT_REGISTRY._do_register(name, builder)
        return builder

    return deco


@dataclass
class BlockSpec:
    """What a variant builder needs to know about the place it fills."""

    dim: int  # channels C at this place
    num_frames: int  # clip length T the block sees at this place
    gta_cfg: Any  # the config's GTA node
    pool_size: List[int]  # NONLOCAL.POOL of this stage and pathway (stock block only)
    instantiation: str = "softmax"  # NONLOCAL.INSTANTIATION (stock block only)
    norm_module: Callable = nn.BatchNorm3d


def _inner_dim(spec):
    reduction = spec.gta_cfg.INNER_REDUCTION
    if reduction < 1 or spec.dim % reduction:
        raise ValueError(
            f"GTA.INNER_REDUCTION={reduction} must be >= 1 and divide the {spec.dim} channels "
            f"of the block"
        )
    return spec.dim // reduction


def _common(spec):
    return dict(
        norm_module=spec.norm_module,
        zero_init_final_norm=spec.gta_cfg.ZERO_INIT_FINAL_NORM,
    )


def _spatial(spec):
    return SpatialSelfAttention(
        spec.dim, _inner_dim(spec), pool=spec.gta_cfg.SPATIAL_POOL, **_common(spec)
    )


def _temporal(spec, positional_encoding):
    return TemporalSelfAttention(
        spec.dim,
        _inner_dim(spec),
        num_frames=spec.num_frames,
        positional_encoding=positional_encoding,
        groups=spec.gta_cfg.SELF_ATTENTION_GROUPS,
        **_common(spec),
    )


def _decoupled(spec, spatial=None, temporal=None):
    return DecoupledBlock(
        spatial=spatial, temporal=temporal,
        activation_checkpoint=spec.gta_cfg.ACTIVATION_CHECKPOINT,
    )


@register_variant("nonlocal")
def build_nonlocal(spec):
    """PySlowFast's own Nonlocal (the baseline NL), exactly as its ResStage builds it."""
    return stock_nonlocal(
        spec.dim, spec.dim // 2, spec.pool_size, spec.instantiation, spec.norm_module
    )


@register_variant("sa")
def build_sa(spec):
    """Spatial self-attention only (Table 2b: + SA)."""
    return _decoupled(spec, spatial=_spatial(spec))


@register_variant("ta")
def build_ta(spec):
    """Temporal self-attention only (Table 2b: + TA)."""
    return _decoupled(spec, temporal=_temporal(spec, positional_encoding=False))


@register_variant("tape")
def build_tape(spec):
    """Temporal self-attention with positional encoding only (Table 7: + TAPE)."""
    return _decoupled(spec, temporal=_temporal(spec, positional_encoding=True))


@register_variant("dnl")
def build_dnl(spec):
    """Decoupled non-local: spatial then temporal self-attention (Table 1 / 2b: + SA + TA)."""
    return _decoupled(
        spec, spatial=_spatial(spec), temporal=_temporal(spec, positional_encoding=False)
    )


@register_variant("sa_tape")
def build_sa_tape(spec):
    """Spatial self-attention then TAPE (Table 2b: + SA + TAPE)."""
    return _decoupled(
        spec, spatial=_spatial(spec), temporal=_temporal(spec, positional_encoding=True)
    )


@register_variant("gta")
def build_gta(spec):
    """Spatial self-attention (GTA.SPATIAL) then Global Temporal Attention (Table 1: + GTA)."""
    g = spec.gta_cfg
    temporal = GlobalTemporalAttention(
        spec.dim,
        _inner_dim(spec),
        num_frames=spec.num_frames,
        pixel=g.PIXEL,
        region=g.REGION,
        num_regions=g.NUM_REGIONS,
        groups=g.GROUPS,
        **_common(spec),
    )
    return _decoupled(spec, spatial=_spatial(spec) if g.SPATIAL else None, temporal=temporal)


def check_variant(name):
    """Raises KeyError, listing the known variants, unless ``name`` is registered."""
    if name not in VARIANT_REGISTRY:
        raise KeyError(
            f"NONLOCAL.TYPE={name!r} is not a registered variant; known: "
            f"{sorted(k for k, _ in VARIANT_REGISTRY)}"
        )


def build_variant(name, spec):
    """Builds the variant registered as ``name``; unknown names list the known ones."""
    check_variant(name)
    return VARIANT_REGISTRY.get(name)(spec)
