"""
Attention blocks that stand where PySlowFast places a non-local block: spatial and temporal
self-attention, Global Temporal Attention, their decoupled composition, the residual wrapper
common to all, and the variant registry (``NONLOCAL.TYPE`` -> builder).
"""

from .common import ResidualAttention
from .decoupled import DecoupledBlock
from .gta import GlobalTemporalAttention, cross_channel_multi_head
from .spatial import SpatialSelfAttention
from .temporal import TemporalSelfAttention
from .variants import VARIANT_REGISTRY, BlockSpec, build_variant, check_variant, register_variant

__all__ = [
    "BlockSpec",
    "DecoupledBlock",
    "GlobalTemporalAttention",
    "ResidualAttention",
    "SpatialSelfAttention",
    "TemporalSelfAttention",
    "VARIANT_REGISTRY",
    "build_variant",
    "check_variant",
    "cross_channel_multi_head",
    "register_variant",
]
