"""The input pipeline's benchmark, now ``gta_slowfast.benchmark.data``; its names kept here."""

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
