"""
The input pipeline benchmark's names, importable from this module path as well: they live in
``gta_slowfast.benchmark.data`` (the datasets and decoding limits measured),
``benchmark.report`` (its markdown table) and ``benchmark.timing``.
"""

from ..benchmark.data import (  # noqa: F401
    DATASET_CONFIGS,
    PARTS,
    benchmark_data,
    dataset_runner,
    limit_frame_folder,
    limit_video,
    measure_dataset,
    reference_resize,
    video_timeline,
)
from ..benchmark.report import data_markdown as markdown  # noqa: F401
from ..benchmark.timing import timed  # noqa: F401
