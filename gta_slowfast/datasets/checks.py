"""
Pre-flight checks of a run's datasets, before any worker starts: the project's datasets
(``gta_ssv1``, ``gta_ssv2``, ``gta_kinetics``, ``synthetic``) are built once in the launching
process, which checks their files against the config, and their first item is decoded;
PySlowFast's own Kinetics dataset gets its CSVs checked and one video decoded through
PySlowFast's decoder.
"""

import logging
import os

from slowfast.datasets.build import DATASET_REGISTRY, build_dataset

from .. import compat
from .decoding import UnreadableVideo, probe_video
from .kinetics import read_split as read_video_csv
from .sampling import TEMPORAL_SAMPLINGS
from .video_dataset import ReleaseError, check_split, release_dataset_class

logger = logging.getLogger(__name__)

PYSLOWFAST_CSV_DATASETS = ("kinetics",)
# The DATA.TEMPORAL_SAMPLING rule that PySlowFast's own datasets follow whatever the key says.
PYSLOWFAST_SAMPLING = {"kinetics": "dense", "ssv2": "ssv2"}
IMAGENET_START = "r2d50_imagenet.pyth"
PROBED_VIDEOS = 4


def is_release_dataset(name):
    """True for a dataset of the project's own (``video_dataset.ReleaseVideoDataset``)."""
    return release_dataset_class(name) is not None


def check_registered(dataset, key):
    """Refuses a dataset name (``key`` = ``TRAIN.DATASET`` or ``TEST.DATASET``) that the
    installed PySlowFast does not register, saying which generation has it."""
    if dataset.capitalize() in DATASET_REGISTRY._obj_map:
        return
    known = sorted(name.lower() for name in DATASET_REGISTRY._obj_map)
    hint = ""
    if compat.needs_pyslowfast_main(dataset):
        hint = (
            f"; {dataset!r} is a dataset of PySlowFast main, which needs a PySlowFast checkout "
            f"(INSTALL.md: 'With your PySlowFast checkout')"
            + (", or use gta_ssv2, which reads the release as downloaded"
               if dataset.lower() == "ssv2" else "")
        )
    raise ReleaseError(
        f"{key}={dataset!r} is not a dataset of the installed PySlowFast "
        f"({compat.generation_name()}); registered: {known}{hint}"
    )


def check_recipe_keys(cfg, dataset):
    """Keys that only some datasets read (TSN.ENABLE and DATA.TEMPORAL_SAMPLING: the project's
    datasets whose class says it follows them; DATA.DIRECTIONAL_FLIP) must not be set for
    another dataset, where they would be ignored without a word."""
    own = release_dataset_class(dataset)
    if cfg.TSN.ENABLE and not (own is not None and own.implements_tsn):
        raise ReleaseError(
            f"TSN.ENABLE is True, but dataset {dataset!r} does not implement TSN sampling; use "
            f"gta_ssv1, gta_ssv2 or gta_kinetics, or set TSN.ENABLE False"
        )
    sampling = cfg.DATA.TEMPORAL_SAMPLING
    if own is not None:  # a value no dataset knows is refused by the dataset itself
        refused = sampling in TEMPORAL_SAMPLINGS and sampling not in own.temporal_samplings
    else:
        refused = sampling not in ("dense", PYSLOWFAST_SAMPLING.get(dataset))
    if refused:
        raise ReleaseError(
            f"DATA.TEMPORAL_SAMPLING={sampling!r}, but dataset {dataset!r} samples frames its "
            f"own way; use gta_ssv1, gta_ssv2 or gta_kinetics, or set DATA.TEMPORAL_SAMPLING "
            f"{PYSLOWFAST_SAMPLING.get(dataset, 'dense')}"
        )
    if dataset == "ssv2" and cfg.DATA.RANDOM_FLIP and cfg.DATA.DIRECTIONAL_FLIP != "flip":
        raise ReleaseError(
            f"DATA.DIRECTIONAL_FLIP={cfg.DATA.DIRECTIONAL_FLIP!r}, but PySlowFast's ssv2 dataset "
            f"flips every class; use gta_ssv2, or set DATA.DIRECTIONAL_FLIP flip or "
            f"DATA.RANDOM_FLIP False"
        )


def check_imagenet_start(cfg):
    """A run meant to start from the converted ImageNet weights that finds no file says so,
    with the command that makes it."""
    path = cfg.TRAIN.CHECKPOINT_FILE_PATH
    if not cfg.TRAIN.ENABLE or not path or os.path.isfile(path):
        return
    if os.path.basename(path) == IMAGENET_START:
        raise FileNotFoundError(
            f"TRAIN.CHECKPOINT_FILE_PATH={path!r} does not exist: this config starts R2D-50 from "
            f"ImageNet, as the paper does. Make the file with 'python -m gta_slowfast.tools."
            f"convert torchvision --src resnet50-0676ba61.pth --dst {path}' (torchvision's "
            f"IMAGENET1K_V1 weights; MODEL_ZOO.md), or add 'TRAIN.CHECKPOINT_FILE_PATH \"\"' to "
            f"train from scratch"
        )


def check_release_split(cfg, dataset, split):
    """Builds a release dataset (which checks its files) and decodes its first item; a video
    that does not decode raises ReleaseError naming it."""
    data = build_dataset(dataset, cfg, split)
    try:
        data[0]
    except UnreadableVideo as err:
        raise ReleaseError(f"{dataset} {split} split, first item: {err}") from err
    return len(data.split.entries)


def check_csv_split(cfg, split):
    """
    Checks ``DATA.PATH_TO_DATA_DIR/<split>.csv`` of PySlowFast's own Kinetics dataset: the file
    exists, every line is ``path<sep>label`` with a label in [0, MODEL.NUM_CLASSES), every
    video file exists, the first few open with PyAV. Returns the video paths; raises
    ReleaseError naming the file and line or video.
    """
    videos = read_video_csv(cfg, split)
    check_split(cfg, videos, "kinetics")
    for entry in videos.entries[:PROBED_VIDEOS]:
        try:
            probe_video(entry.path)
        except UnreadableVideo as err:
            raise ReleaseError(
                f"video {entry.path} (listed in {videos.sources[0]}) is unreadable: {err}"
            ) from err
    return [e.path for e in videos.entries]


def check_pyslowfast_decoding(cfg, path):
    """
    Decodes the video at ``path`` through PySlowFast's own ``decoder.decode`` as its Kinetics
    dataset does for training (``compat.decode_clip``), and raises ReleaseError if no frames
    come back. On PySlowFast main no video decodes: its ``pyav`` path fails on every video
    (``decode`` passes lists to ``pyav_decode``), its ``torchvision`` path needs a video reader
    that torchvision >= 0.28 no longer has, and a container without a stream duration
    (``.mkv``) raises at ``decoder.py:546`` (INSTALL.md, "Known problems of PySlowFast main").
    Its Kinetics dataset only reports the first as a batch of ``None`` many retries later.
    """
    try:
        result = compat.decode_clip(cfg, path)
    except Exception as err:  # PySlowFast's decoders raise anything from RuntimeError to TypeError
        result, reason = None, f"{type(err).__name__}: {err}"
    else:
        reason = "no frames came back"
    if result is None:
        raise ReleaseError(
            f"PySlowFast's Kinetics decoder (DATA.DECODING_BACKEND="
            f"{cfg.DATA.DECODING_BACKEND!r}) cannot decode {path} ({reason}). On PySlowFast "
            f"main no backend decodes: 'pyav' fails on every video, torchvision >= 0.28 has no "
            f"video reader, and .mkv files without a stream duration raise (INSTALL.md: 'Known "
            f"problems of PySlowFast main'). Use 'TRAIN.DATASET gta_kinetics TEST.DATASET "
            f"gta_kinetics' (the same CSVs, decoded with PyAV by gta_slowfast)"
        )


def check_datasets(cfg):
    """Every dataset a run of ``cfg`` reads, checked before any worker starts."""
    check_imagenet_start(cfg)
    splits = (["train", "val"] if cfg.TRAIN.ENABLE else []) + (["test"] if cfg.TEST.ENABLE else [])
    for split in splits:
        dataset = cfg.TEST.DATASET if split == "test" else cfg.TRAIN.DATASET
        check_registered(dataset, "TEST.DATASET" if split == "test" else "TRAIN.DATASET")
        check_recipe_keys(cfg, dataset)
        if is_release_dataset(dataset):
            count = check_release_split(cfg, dataset, split)
            logger.info("%s %s split: %d videos listed, all present", dataset, split, count)
        elif dataset in PYSLOWFAST_CSV_DATASETS:
            videos = check_csv_split(cfg, split)
            logger.info("%s split: %d videos listed", split, len(videos))
            check_pyslowfast_decoding(cfg, videos[0])
