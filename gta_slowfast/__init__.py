"""
gta_slowfast: Global Temporal Attention and decoupled non-local blocks for PySlowFast.

Importing this package
- adds its config keys (``gta_slowfast.config.add_gta_slowfast_config``: ``NONLOCAL.TYPE``, the
  ``GTA``, ``TSM``, ``TSN`` and ``SYNTHETIC`` nodes, ``DATA`` keys) to PySlowFast's default config,
  so PySlowFast's ``load_config`` / ``get_cfg`` accept the project's YAML files;
- registers the block variants in ``VARIANT_REGISTRY``;
- registers the synthetic dataset in PySlowFast's ``DATASET_REGISTRY``;
- registers ResNet and SlowFast in PySlowFast's model registry so that they place the
  configured variant wherever ``NONLOCAL.LOCATION`` puts a non-local block and, with
  ``TSM.ENABLE``, shift channels along time in every residual block (``gta_slowfast.tsm``).
"""

from . import compat
from .config import add_gta_config, add_gta_slowfast_config, load_config

add_gta_slowfast_config(compat.DEFAULT_CFG)

from . import datasets  # noqa: E402,F401  (registers the datasets)
from .blocks import VARIANT_REGISTRY, BlockSpec, build_variant, register_variant  # noqa: E402
from .factory import create_model, list_configs, load_clip, top_classes  # noqa: E402
from .models import build_model, dummy_inputs, place_variant, stage_num_frames  # noqa: E402
from .tsm import add_tsm_config  # noqa: E402

__version__ = "0.1.0"


def get_cfg():
    """A copy of PySlowFast's default config with the gta_slowfast keys."""
    # (c) PySlowFast imports only through compat, after its stand-ins and warning filters
    from slowfast.config.defaults import get_cfg as upstream_get_cfg

    return upstream_get_cfg()


__all__ = [
    "BlockSpec",
    "VARIANT_REGISTRY",
    "add_gta_config",
    "add_gta_slowfast_config",
    "add_tsm_config",
    "build_model",
    "build_variant",
    "create_model",
    "dummy_inputs",
    "get_cfg",
    "list_configs",
    "load_clip",
    "load_config",
    "place_variant",
    "register_variant",
    "stage_num_frames",
    "top_classes",
]
