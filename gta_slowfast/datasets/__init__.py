"""Datasets gta_slowfast registers in PySlowFast's DATASET_REGISTRY."""

from .registration import Synthetic  # noqa: F401
