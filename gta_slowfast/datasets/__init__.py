"""Datasets gta_slowfast registers in PySlowFast's DATASET_REGISTRY, all read through one clip
pipeline (``video_dataset``): the generated order-sensitive ``synthetic`` set, and the releases
as downloaded: ``gta_ssv1``, ``gta_ssv2``, ``gta_kinetics``."""

from .kinetics import KineticsVideos  # noqa: F401
from .registration import Synthetic  # noqa: F401
from .ssv1 import SomethingSomethingV1  # noqa: F401
from .ssv2 import SomethingSomethingV2  # noqa: F401
