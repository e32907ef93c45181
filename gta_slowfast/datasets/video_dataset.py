"""
What the project's datasets (the releases ``gta_ssv1``, ``gta_ssv2``, ``gta_kinetics`` and the
generated ``synthetic``) share: the list of videos of a split, its checks, and the clip
pipeline that PySlowFast's trainers read.

A dataset's reader returns a ``ReleaseSplit``; ``ReleaseVideoDataset`` checks it against the
config (class count, labels, every listed video present) when it is built, which the launcher
does before any worker starts, and turns each (video, view) into the item the installed
PySlowFast generation's trainer expects. ``release_dataset_class`` finds a dataset's class by
its config name in PySlowFast's DATASET_REGISTRY, for the tools that read clips or class names
as that dataset does.
"""

import logging
import os
import random
from dataclasses import dataclass, field
from typing import List, Optional

import cv2
import torch
from slowfast.datasets.build import DATASET_REGISTRY

from ..compat import pack_pathways, trainer_item
from . import decoding, sampling, transforms

logger = logging.getLogger(__name__)

MODES = ("train", "val", "test")
MISSING_SHOWN = 5


class ReleaseError(ValueError):
    """A dataset release that does not match the config or its own files; the message names
    the file, the line or id, what was expected and what was found."""


@dataclass
class VideoEntry:
    """One listed video: its id in the release, where its frames are, and its label (-1 when
    the split is unlabelled)."""

    video_id: str
    path: str
    label: int


@dataclass
class ReleaseSplit:
    """The videos one split lists, the class names (index order) where the release names
    them, the files they were read from, and the frame rate of frame-folder videos."""

    entries: List[VideoEntry]
    class_names: Optional[List[str]]
    sources: List[str] = field(default_factory=list)
    frame_folders: bool = False

    def missing(self):
        """The entries whose video file or frame folder does not exist."""
        exists = os.path.isdir if self.frame_folders else os.path.isfile
        return [e for e in self.entries if not exists(e.path)]


def register_dataset(config_name):
    """Registers a dataset class in PySlowFast's DATASET_REGISTRY under the name its
    ``build_dataset`` looks up for ``TRAIN.DATASET: <config_name>``."""

    def wrap(cls):
        DATASET_REGISTRY._do_register(config_name.capitalize(), cls)
        cls.config_name = config_name
        return cls

    return wrap


def release_dataset_class(name):
    """The ``ReleaseVideoDataset`` class registered in PySlowFast's DATASET_REGISTRY for
    ``TRAIN.DATASET`` / ``TEST.DATASET`` ``name``, else None (a dataset of PySlowFast's own, or
    none)."""
    cls = DATASET_REGISTRY._obj_map.get(name.capitalize())
    return cls if isinstance(cls, type) and issubclass(cls, ReleaseVideoDataset) else None


def release_datasets():
    """{config name: class} of the project's datasets registered in PySlowFast's
    DATASET_REGISTRY."""
    return {
        cls.config_name: cls
        for cls in DATASET_REGISTRY._obj_map.values()
        if isinstance(cls, type) and issubclass(cls, ReleaseVideoDataset)
    }


def keep_data_location(cfg, moved):
    """Sets in ``moved`` (a copy of ``cfg`` with another OUTPUT_DIR) the keys that keep its test
    reading the data ``cfg``'s test reads, where ``TEST.DATASET`` places it by OUTPUT_DIR."""
    dataset = release_dataset_class(cfg.TEST.DATASET)
    if dataset is not None:
        dataset.keep_data_location(cfg, moved)


def prepare_clip(cfg, frames, train, spatial_idx=1, label=-1, flip_map=None,
                 resize=transforms.resize):
    """
    uint8 frames [T, H, W, 3] to the model's input: normalised by ``DATA.MEAN`` / ``DATA.STD``,
    the training augmentation (``train``; flipped under ``DATA.RANDOM_FLIP`` and ``flip_map``)
    or the test crop ``spatial_idx``, resized by ``resize``, packed into pathways. Returns
    (pathways, label), the label changed where a flip swaps it.
    """
    frames = transforms.normalise(frames, cfg.DATA.MEAN, cfg.DATA.STD)  # [C, T, H, W]
    if train:
        augment = transforms.tsn_train if cfg.TSN.ENABLE else transforms.dense_train
        frames = augment(frames, cfg, resize=resize)
        if cfg.DATA.RANDOM_FLIP:
            frames, label = transforms.random_flip(frames, label, flip_map or {})
    else:
        test = transforms.tsn_test if cfg.TSN.ENABLE else transforms.dense_test
        frames = test(frames, cfg, spatial_idx, resize=resize)
    return pack_pathways(cfg, frames), label


def check_split(cfg, split, dataset_name):
    """
    Checks a labelled release split against the config: the class count of the label file
    equals MODEL.NUM_CLASSES, every label is in range, no listed video is missing. Raises
    ReleaseError.
    """
    source = split.sources[0] if split.sources else cfg.DATA.PATH_TO_DATA_DIR
    if not split.entries:
        raise ReleaseError(f"{source} lists no videos ({dataset_name})")
    if split.class_names is not None and len(split.class_names) != cfg.MODEL.NUM_CLASSES:
        raise ReleaseError(
            f"MODEL.NUM_CLASSES={cfg.MODEL.NUM_CLASSES}, but the label file of "
            f"{dataset_name} names {len(split.class_names)} classes ({split.sources[-1]})"
        )
    bad = [e for e in split.entries if not 0 <= e.label < cfg.MODEL.NUM_CLASSES]
    if bad:
        raise ReleaseError(
            f"{source}: video {bad[0].video_id} has label {bad[0].label}, not in "
            f"[0, MODEL.NUM_CLASSES={cfg.MODEL.NUM_CLASSES})"
        )
    missing = split.missing()
    if missing:
        kind = "frame folders" if split.frame_folders else "video files"
        shown = "; ".join(f"{e.video_id}: {e.path}" for e in missing[:MISSING_SHOWN])
        raise ReleaseError(
            f"{len(missing)} of {len(split.entries)} videos listed in {source} have no "
            f"{kind}, first: {shown}"
        )


def check_supported(cfg, dataset_name):
    """Refuses PySlowFast options these datasets do not implement, rather than ignore them."""
    unsupported = []
    if "AUG" in cfg and cfg.AUG.ENABLE:
        unsupported.append("AUG.ENABLE")
    if "MULTIGRID" in cfg and (cfg.MULTIGRID.SHORT_CYCLE or cfg.MULTIGRID.LONG_CYCLE):
        unsupported.append("MULTIGRID")
    if unsupported:
        raise ReleaseError(
            f"TRAIN.DATASET / TEST.DATASET {dataset_name!r} does not implement "
            f"{', '.join(unsupported)}; set them off or use PySlowFast's own dataset"
        )


class ReleaseVideoDataset(torch.utils.data.Dataset):
    """
    A video classification dataset read from a release as downloaded (or generated). Subclasses
    implement ``read_split(cfg, mode) -> ReleaseSplit``; the class attributes and static methods
    below say where a dataset departs from the shared recipe.

    Sampling: the frames of a clip by ``DATA.TEMPORAL_SAMPLING`` (``sampling.clip_indices``:
    TSM's TSN segments, PySlowFast's SSv2 segments or its dense window); the spatial recipe by
    ``TSN.ENABLE`` (the paper's 2D recipe: resize to ``TSN.RESIZE``, multi-scale crop), else
    PySlowFast's scale jitter.
    Training takes a random clip, flipped under ``DATA.RANDOM_FLIP`` / ``DATA.DIRECTIONAL_FLIP``;
    validation the first test view (centre clip, centre crop); test
    ``TEST.NUM_ENSEMBLE_VIEWS`` x ``TEST.NUM_SPATIAL_CROPS`` views per video. A video that fails
    to decode is logged with its path and replaced by a random other video in training and
    validation (as PySlowFast does), counted in the item's ``meta["unreadable"]``; in test it
    is an error.
    """

    config_name = ""
    # The splits its reader reads (``submission``: an unlabelled official test list).
    splits = MODES
    # The DATA.TEMPORAL_SAMPLING values it follows, and whether it implements TSN.ENABLE.
    temporal_samplings = sampling.TEMPORAL_SAMPLINGS
    implements_tsn = True
    # The resize of its spatial recipe (``transforms.resize`` or ``interpolate_resize``).
    resize = staticmethod(transforms.resize)
    # Whether DATA.RANDOM_FLIP flips its training clips (else none is ever flipped).
    flips = True
    # Whether an unreadable video is replaced in training and validation (else an error).
    replaces_unreadable = True
    # The top-1 (%) that a model blind to frame order cannot exceed on it, where there is one.
    order_blind_ceiling = None

    def __init__(self, cfg, mode, num_retries=10):
        if mode not in MODES:
            raise ReleaseError(f"{self.config_name}: split {mode!r} is not one of {MODES}")
        check_supported(cfg, self.config_name)
        sampling.check_temporal_sampling(cfg)
        self.cfg = cfg
        self.mode = mode
        self._num_retries = num_retries
        self.split = self.read_split(cfg, mode)
        check_split(cfg, self.split, self.config_name)
        names = self.split.class_names
        # {label: its label after a horizontal flip, or None: never flipped}
        if not self.flips:
            self.flip_map = dict.fromkeys(range(cfg.MODEL.NUM_CLASSES))
        elif names is not None:
            self.flip_map = transforms.flip_label_map(names, cfg.DATA.DIRECTIONAL_FLIP)
        else:
            self.flip_map = {}
        self._num_views = (
            cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS if mode == "test" else 1
        )
        logger.info(
            "%s %s: %d videos x %d views from %s",
            self.config_name, mode, len(self.split.entries), self._num_views,
            ", ".join(self.split.sources),
        )

    @staticmethod
    def read_split(cfg, mode):
        raise NotImplementedError

    @staticmethod
    def read_class_names(cfg):
        """The class names in index order where the release names its classes, else None."""
        return None

    @staticmethod
    def clip_indices(cfg, num_video_frames, fps, view=-1, num_views=1):
        """Indices of the frames of temporal view ``view`` of ``num_views`` (-1: a random
        training clip) of a video of ``num_video_frames`` frames at ``fps``, by
        ``DATA.TEMPORAL_SAMPLING`` (``sampling.clip_indices``)."""
        return sampling.clip_indices(cfg, num_video_frames, fps, view, num_views)

    @staticmethod
    def keep_data_location(cfg, moved):
        """Sets in ``moved`` (``cfg`` with another OUTPUT_DIR) the keys that keep it reading
        ``cfg``'s data: nothing, for a release at DATA.PATH_TO_DATA_DIR."""

    def __len__(self):
        return self.num_videos

    @property
    def num_videos(self):
        """Number of (video, view) items, as PySlowFast's datasets report it."""
        return len(self.split.entries) * self._num_views

    @property
    def class_names(self):
        return self.split.class_names

    def frame_indices(self, num_video_frames, fps, view, num_views):
        """Indices of the frames of temporal view ``view`` of ``num_views`` (-1: a random
        training clip), by this dataset's ``clip_indices``."""
        return self.clip_indices(self.cfg, num_video_frames, fps, view, num_views)

    def read_clip(self, entry, view, num_views):
        """uint8 frames [T, H, W, 3] of temporal view ``view`` of ``num_views`` of ``entry``."""
        if self.split.frame_folders:
            fps = self.cfg.DATA.FRAMES_FPS
            frames, _ = decoding.read_frame_folder(
                entry.path, lambda n: self.frame_indices(n, fps, view, num_views)
            )
        else:
            frames, _, _ = decoding.read_video_file(
                entry.path, lambda n, fps: self.frame_indices(n, fps, view, num_views)
            )
        return frames

    def views(self, index):
        """(video, temporal view, temporal view count, spatial crop) of item ``index``."""
        if self.mode == "train":
            return index, -1, 1, -1
        if self.mode == "val":
            return index, 0, 1, 1
        cfg = self.cfg
        video, view = divmod(index, self._num_views)
        temporal, spatial = sampling.test_view(view, cfg.TEST.NUM_SPATIAL_CROPS)
        spatial = 1 if cfg.TEST.NUM_SPATIAL_CROPS == 1 else spatial
        return video, temporal, cfg.TEST.NUM_ENSEMBLE_VIEWS, spatial

    def __getitem__(self, index):
        # One OpenCV thread in a loader worker: the workers are the parallelism, and threads
        # only slow the resizes of frames this small down when the cores are busy.
        cv2.setNumThreads(1)
        unreadable = []
        for _ in range(self._num_retries):
            video, temporal, num_temporal, spatial = self.views(index)
            entry = self.split.entries[video]
            try:
                frames = self.read_clip(entry, temporal, num_temporal)
                break
            except decoding.UnreadableVideo as err:
                unreadable.append(entry.path)
                if self.mode == "test" or not self.replaces_unreadable:
                    raise
                logger.warning("%s; replaced by a random other video (%s)", err, self.mode)
                index = random.randrange(len(self))
        else:
            raise decoding.UnreadableVideo(
                f"{self.config_name} {self.mode}: {len(unreadable)} videos in a row failed to "
                f"decode: {unreadable}"
            )
        frames, label = prepare_clip(self.cfg, frames, self.mode == "train", spatial,
                                     entry.label, self.flip_map, self.resize)
        meta = {"unreadable": len(unreadable)}
        return trainer_item(frames, label, index, meta)
