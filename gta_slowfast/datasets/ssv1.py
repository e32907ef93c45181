"""
Something-Something v1 as 20BN released it (``TRAIN.DATASET: gta_ssv1``).

Layout under ``DATA.PATH_TO_DATA_DIR``::

    20bn-something-something-v1/<id>/00001.jpg ...    JPEG frames (about 12 fps, 100 px high)
    something-something-v1-labels.csv                 one class name a line
    something-something-v1-train.csv                  <id>;<class name>
    something-something-v1-validation.csv             <id>;<class name>
    something-something-v1-test.csv                   <id> (no labels)

Class indices follow ``DATA.LABEL_ORDER``: ``sorted`` (the names sorted, as the TSM code that
the paper builds on indexes them; the default) or ``file`` (the file's order, as MMAction2).
The key is saved with every checkpoint's config. PySlowFast's ``val`` and ``test`` splits both
read the labelled validation list; the unlabelled test list is checked by
``python -m gta_slowfast.tools.data``.
"""

import os

from .labels import read_label_file
from .video_dataset import (
    ReleaseError,
    ReleaseSplit,
    ReleaseVideoDataset,
    VideoEntry,
    register_dataset,
)

FRAMES_DIR = "20bn-something-something-v1"
LABELS = "something-something-v1-labels.csv"
SPLIT_FILES = {
    "train": "something-something-v1-train.csv",
    "val": "something-something-v1-validation.csv",
    "test": "something-something-v1-validation.csv",
    "submission": "something-something-v1-test.csv",
}
LABEL_ORDERS = ("sorted", "file")


def _require(path, what):
    if not os.path.isfile(path):
        raise ReleaseError(
            f"{path} does not exist: the Something-Something v1 {what} (DATA.PATH_TO_DATA_DIR "
            f"must be the unpacked release folder)"
        )


def read_class_names(cfg):
    """The class names in index order (``DATA.LABEL_ORDER``) from the release's label file."""
    path = os.path.join(cfg.DATA.PATH_TO_DATA_DIR, LABELS)
    _require(path, "label file")
    names = read_label_file(path)
    seen = set()
    for name in names:
        if name in seen:
            raise ReleaseError(f"{path}: class {name!r} is listed twice")
        seen.add(name)
    if cfg.DATA.LABEL_ORDER not in LABEL_ORDERS:
        raise ReleaseError(
            f"DATA.LABEL_ORDER={cfg.DATA.LABEL_ORDER!r} is not one of {LABEL_ORDERS}"
        )
    return sorted(names) if cfg.DATA.LABEL_ORDER == "sorted" else names, path


def frames_root(cfg):
    """Where the frame folders are: DATA.PATH_PREFIX, else the release's own folder."""
    return cfg.DATA.PATH_PREFIX or os.path.join(cfg.DATA.PATH_TO_DATA_DIR, FRAMES_DIR)


def read_split(cfg, mode):
    """The videos of ``mode`` (train, val, test, or ``submission``: the unlabelled test list)."""
    names, labels_path = read_class_names(cfg)
    index = {name: i for i, name in enumerate(names)}
    path = os.path.join(cfg.DATA.PATH_TO_DATA_DIR, SPLIT_FILES[mode])
    _require(path, f"{mode} list")
    root = frames_root(cfg)
    entries = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            if mode == "submission":
                video_id, label = line.split(";")[0], -1
            else:
                fields = line.split(";", 1)
                if len(fields) != 2:
                    raise ReleaseError(
                        f"{path}:{number}: expected '<id>;<class name>', got {line!r}"
                    )
                video_id, name = fields
                if name not in index:
                    raise ReleaseError(
                        f"{path}:{number}: video {video_id} has class {name!r}, which "
                        f"{labels_path} does not name"
                    )
                label = index[name]
            entries.append(VideoEntry(video_id, os.path.join(root, video_id), label))
    return ReleaseSplit(entries, names, [path, labels_path], frame_folders=True)


@register_dataset("gta_ssv1")
class SomethingSomethingV1(ReleaseVideoDataset):
    """Something-Something v1 from its release: JPEG frame folders and ``;``-separated CSV
    lists (see the module docstring for the layout)."""

    read_split = staticmethod(read_split)
    splits = ("train", "val", "submission")

    @staticmethod
    def read_class_names(cfg):
        return read_class_names(cfg)[0]
