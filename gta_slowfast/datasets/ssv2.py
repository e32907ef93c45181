"""
Something-Something v2 as released (``TRAIN.DATASET: gta_ssv2``), decoded from the ``.webm``
files with PyAV: no frame-extraction step.

Layout under ``DATA.PATH_TO_DATA_DIR``, the label files under either of the names they are
distributed with (20BN's names, or a ``labels/`` folder)::

    20bn-something-something-v2/<id>.webm             VP9, 12 fps, 240 px high
    something-something-v2-labels.json                labels/labels.json
        {"Approaching something with your camera": "0", ...}
    something-something-v2-train.json                 labels/train.json
        [{"id": "78687", "label": "holding potato next to vicks vaporub bottle",
          "template": "Holding [something] next to [something]",
          "placeholders": ["potato", "vicks vaporub bottle"]}, ...]
    something-something-v2-validation.json            labels/validation.json
        the same
    something-something-v2-test.json                  labels/test.json
        [{"id": "1420"}, ...] (no labels)

A video's class is its ``template`` without the brackets (``label`` is the filled-in caption).
PySlowFast's ``val`` and ``test`` splits both read the labelled validation list.
"""

import json
import os

from .labels import read_label_file
from .video_dataset import (
    ReleaseError,
    ReleaseSplit,
    ReleaseVideoDataset,
    VideoEntry,
    register_dataset,
)

VIDEOS_DIR = "20bn-something-something-v2"
# The label files of each layout the release is distributed in, by role.
LAYOUTS = (
    {
        "labels": "something-something-v2-labels.json",
        "train": "something-something-v2-train.json",
        "validation": "something-something-v2-validation.json",
        "test": "something-something-v2-test.json",
    },
    {
        "labels": os.path.join("labels", "labels.json"),
        "train": os.path.join("labels", "train.json"),
        "validation": os.path.join("labels", "validation.json"),
        "test": os.path.join("labels", "test.json"),
    },
)
SPLIT_FILES = {"train": "train", "val": "validation", "test": "validation", "submission": "test"}


def release_file(cfg, role):
    """The path of the label file ``role`` ("labels", "train", "validation", "test") of the
    release at DATA.PATH_TO_DATA_DIR, in the first layout whose label file is there. Raises
    ReleaseError naming the files of both layouts when neither is complete for ``role``."""
    root = cfg.DATA.PATH_TO_DATA_DIR
    for layout in LAYOUTS:
        if os.path.isfile(os.path.join(root, layout["labels"])):
            path = os.path.join(root, layout[role])
            if os.path.isfile(path):
                return path
    expected = " or ".join(f"{layout['labels']} with {layout[role]}" if role != "labels"
                           else layout["labels"] for layout in LAYOUTS)
    raise ReleaseError(
        f"{root} holds no Something-Something v2 {role} file: expected {expected} "
        f"(DATA.PATH_TO_DATA_DIR must be the unpacked release folder)"
    )


def _load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise ReleaseError(f"{path} is not valid JSON: {err}") from err


def read_class_names(cfg):
    """The class names in the label file's index order (``labels.read_label_file``)."""
    path = release_file(cfg, "labels")
    return read_label_file(path), path


def videos_root(cfg):
    """Where the .webm files are: DATA.PATH_PREFIX, else the release's own folder."""
    return cfg.DATA.PATH_PREFIX or os.path.join(cfg.DATA.PATH_TO_DATA_DIR, VIDEOS_DIR)


def read_split(cfg, mode):
    """The videos of ``mode`` (train, val, test, or ``submission``: the unlabelled test list)."""
    names, labels_path = read_class_names(cfg)
    index = {name: i for i, name in enumerate(names)}
    path = release_file(cfg, SPLIT_FILES[mode])
    videos = _load_json(path)
    if not isinstance(videos, list):
        raise ReleaseError(f"{path}: expected a list of videos, got a {type(videos).__name__}")
    root = videos_root(cfg)
    entries = []
    for number, video in enumerate(videos):
        if not isinstance(video, dict) or "id" not in video:
            raise ReleaseError(f"{path}: item {number} has no 'id': {video!r}")
        video_id = str(video["id"])
        label = -1
        if mode != "submission":
            if "template" not in video:
                raise ReleaseError(f"{path}: video {video_id} has no 'template'")
            name = video["template"].replace("[", "").replace("]", "")
            if name not in index:
                raise ReleaseError(
                    f"{path}: video {video_id} has class {name!r}, which {labels_path} does "
                    f"not name"
                )
            label = index[name]
        entries.append(VideoEntry(video_id, os.path.join(root, f"{video_id}.webm"), label))
    return ReleaseSplit(entries, names, [path, labels_path])


@register_dataset("gta_ssv2")
class SomethingSomethingV2(ReleaseVideoDataset):
    """Something-Something v2 from its release: VP9 ``.webm`` videos and JSON lists (see the
    module docstring for the layout)."""

    read_split = staticmethod(read_split)
    splits = ("train", "val", "submission")

    @staticmethod
    def read_class_names(cfg):
        return read_class_names(cfg)[0]
