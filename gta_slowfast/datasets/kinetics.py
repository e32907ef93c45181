"""
Video files listed in Kinetics-layout CSVs (``TRAIN.DATASET: gta_kinetics``), decoded with
PyAV on both PySlowFast generations.

``DATA.PATH_TO_DATA_DIR/{train,val,test}.csv``, one video a line: ``path label`` (separator
``DATA.PATH_LABEL_SEPARATOR``), the path relative to ``DATA.PATH_PREFIX``, the label an
integer in ``[0, MODEL.NUM_CLASSES)``, as PySlowFast's own Kinetics dataset reads them. Any
container PyAV reads works (``.mp4``, ``.mkv``, ``.webm``), with or without a stored duration.
"""

import os

from .video_dataset import (
    ReleaseError,
    ReleaseSplit,
    ReleaseVideoDataset,
    VideoEntry,
    register_dataset,
)


def read_split(cfg, mode):
    """The videos of ``DATA.PATH_TO_DATA_DIR/<mode>.csv``."""
    root = cfg.DATA.PATH_TO_DATA_DIR
    if not root or not os.path.isdir(root):
        raise ReleaseError(
            f"DATA.PATH_TO_DATA_DIR={root!r} is not a directory (it must hold {mode}.csv)"
        )
    path = os.path.join(root, f"{mode}.csv")
    if not os.path.isfile(path):
        raise ReleaseError(f"{path} does not exist (DATA.PATH_TO_DATA_DIR={root!r})")
    separator = cfg.DATA.PATH_LABEL_SEPARATOR if "PATH_LABEL_SEPARATOR" in cfg.DATA else " "
    entries = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            fields = line.strip().split(separator) if separator != " " else line.split()
            if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
                raise ReleaseError(
                    f"{path}:{number}: expected 'path{separator}label', got {line.strip()!r}"
                )
            video, label = fields
            entries.append(VideoEntry(video, os.path.join(cfg.DATA.PATH_PREFIX, video), int(label)))
    return ReleaseSplit(entries, None, [path])


@register_dataset("gta_kinetics")
class KineticsVideos(ReleaseVideoDataset):
    """Videos listed in Kinetics-layout CSVs (``path label``), decoded with PyAV."""

    read_split = staticmethod(read_split)
