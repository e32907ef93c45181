"""
The generated order-sensitive dataset (``TRAIN.DATASET: synthetic``) as one of the project's
datasets: ``read_split`` generates it on first use (``synthetic.generate``) and lists the videos
of its ``{split}.csv``; decoding, normalising, cropping and packing are the shared pipeline of
``video_dataset.ReleaseVideoDataset``, with the recipe the dataset was fixed with.
"""

import os

from . import sampling, transforms
from .synthetic import CLASS_NAMES, generate
from .video_dataset import (
    ReleaseError,
    ReleaseSplit,
    ReleaseVideoDataset,
    VideoEntry,
    register_dataset,
)

ORDER_BLIND_CEILING = 50.0  # % top-1 on twin classes for a model blind to frame order


def synthetic_root(cfg):
    """Directory of the synthetic videos: SYNTHETIC.PATH, or OUTPUT_DIR/synthetic_data."""
    return cfg.SYNTHETIC.PATH or os.path.join(cfg.OUTPUT_DIR, "synthetic_data")


def read_split(cfg, mode):
    """
    The videos of ``mode`` of the dataset of ``cfg.SYNTHETIC``, generated under
    ``synthetic_root`` unless a dataset of the same parameters is there: ``{mode}.csv`` lists
    one video a line as ``<absolute path> <label>`` (the path may hold spaces). Raises
    ReleaseError on a class count other than the dataset's or a line of another form.
    """
    if cfg.MODEL.NUM_CLASSES != len(CLASS_NAMES):
        raise ReleaseError(
            f"MODEL.NUM_CLASSES={cfg.MODEL.NUM_CLASSES}, but the synthetic dataset has "
            f"{len(CLASS_NAMES)} classes {CLASS_NAMES}"
        )
    root = generate(
        synthetic_root(cfg),
        seed=cfg.SYNTHETIC.SEED,
        num_train=cfg.SYNTHETIC.NUM_TRAIN,
        num_test=cfg.SYNTHETIC.NUM_TEST,
        size=cfg.SYNTHETIC.SIZE,
        num_frames=cfg.SYNTHETIC.VIDEO_FRAMES,
    )
    path = os.path.join(root, f"{mode}.csv")
    entries = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f.read().splitlines(), 1):
            fields = line.rsplit(" ", 1)
            if len(fields) != 2 or not fields[1].isdigit():
                raise ReleaseError(f"{path}:{number}: expected '<path> <label>', got {line!r}")
            video, label = fields
            name = os.path.splitext(os.path.basename(video))[0]
            entries.append(VideoEntry(name, video, int(label)))
    return ReleaseSplit(entries, list(CLASS_NAMES), [path])


@register_dataset("synthetic")
class Synthetic(ReleaseVideoDataset):
    """
    The generated order-sensitive videos of ``gta_slowfast.datasets.synthetic``, generated on
    first use and read like PySlowFast's Kinetics: a random (train) or evenly spaced (test) clip
    of DATA.NUM_FRAMES frames every DATA.SAMPLING_RATE frames (``sampling.strided_indices``,
    whatever DATA.TEMPORAL_SAMPLING says; only ``dense`` is accepted), PySlowFast's scale jitter
    and crops with its own torch resize (``transforms.interpolate_resize``), DATA.MEAN / DATA.STD
    normalisation and pathway packing. No horizontal flip (DATA.RANDOM_FLIP is not read): the
    recipe of the main job has none. A video that does not decode is an error in every split:
    generated data has no broken videos to skip.
    """

    read_split = staticmethod(read_split)
    temporal_samplings = ("dense",)
    implements_tsn = False
    resize = staticmethod(transforms.interpolate_resize)
    flips = False
    replaces_unreadable = False
    order_blind_ceiling = ORDER_BLIND_CEILING

    @staticmethod
    def read_class_names(cfg):
        return list(CLASS_NAMES)

    @staticmethod
    def clip_indices(cfg, num_video_frames, fps, view=-1, num_views=1):
        return sampling.strided_indices(
            num_video_frames, cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, view, num_views
        )

    @staticmethod
    def keep_data_location(cfg, moved):
        """Pins SYNTHETIC.PATH where it is unset, so that ``moved`` reads the videos generated
        under ``cfg``'s OUTPUT_DIR."""
        if not cfg.SYNTHETIC.PATH:
            moved.SYNTHETIC.PATH = synthetic_root(cfg)
