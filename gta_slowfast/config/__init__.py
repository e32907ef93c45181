"""
gta_slowfast's config, laid out as PySlowFast's and detectron2's: ``defaults`` defines every key
the project adds to PySlowFast's yacs config (``add_gta_slowfast_config``); ``loading`` merges a
YAML file or a checkpoint's stored config into it and turns what yacs raises into one-line
``ConfigError`` messages.
"""

from .defaults import add_gta_config, add_gta_slowfast_config
from .loading import (
    ConfigError,
    UnknownConfigKey,
    config_from_mapping,
    config_from_text,
    load_config,
)

__all__ = [
    "ConfigError",
    "UnknownConfigKey",
    "add_gta_config",
    "add_gta_slowfast_config",
    "config_from_mapping",
    "config_from_text",
    "load_config",
]
