"""
The model API: build a configured model with its checkpoint in one call (or from the checkpoint
alone, with the config it stores), list the shipped configs, read a video file into the model's
input, and name the top classes of its scores.

    import gta_slowfast
    model = gta_slowfast.create_model(checkpoint="checkpoint_epoch_00050.pyth")
    clip = gta_slowfast.load_clip("video.webm", model.cfg)
    scores = model(clip)                  # [1, classes], softmax (PySlowFast's eval-mode head)
    for c in gta_slowfast.top_classes(scores[0], model.class_names, k=5):
        print(c.name, c.score)
"""

import logging
import os
from dataclasses import dataclass
from typing import Optional

import torch

from .checkpoint import CheckpointError, load_checkpoint, read_checkpoint
from .config import config_from_mapping, config_from_text, load_config
from .datasets import decoding, sampling, transforms
from .datasets.labels import read_label_file
from .datasets.video_dataset import prepare_clip, release_dataset_class
from .evaluation import dataset_class_names, top_scores
from .models import build_model

CONFIGS_ENV = "GTA_SLOWFAST_CONFIGS"

logger = logging.getLogger(__name__)


def configs_root():
    """The folder of the shipped configs: ``$GTA_SLOWFAST_CONFIGS``, else ``configs/`` of the
    source tree this package was installed from."""
    root = os.environ.get(CONFIGS_ENV) or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs"
    )
    if not os.path.isdir(root):
        raise FileNotFoundError(
            f"the configs folder {root} does not exist; set ${CONFIGS_ENV} to the configs/ "
            f"folder of a gta_slowfast source tree"
        )
    return root


def list_configs(pattern=""):
    """The shipped configs (paths relative to the configs folder, sorted) whose path contains
    ``pattern``."""
    root = configs_root()
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".yaml"):
                path = os.path.relpath(os.path.join(folder, name), root)
                if pattern in path:
                    found.append(path)
    return sorted(found)


def config_path(config):
    """The YAML file of ``config``: a path as given, else a shipped config's path relative to
    ``configs_root()`` (``"SSv1/R2D_R50_GTA_8x1.yaml"``); raises FileNotFoundError naming it,
    and the shipped configs of the same file name if any, when it is neither."""
    if os.path.isfile(config):
        return config
    path = os.path.join(configs_root(), config)
    if os.path.isfile(path):
        return path
    named = [c for c in list_configs() if os.path.basename(c) == os.path.basename(config)]
    if named:
        raise FileNotFoundError(
            f"config {config!r} is neither a file nor one of the shipped configs; shipped "
            f"configs of that name: {', '.join(named)} (name one with its folder)"
        )
    raise FileNotFoundError(
        f"config {config!r} is neither a file nor one of the shipped configs "
        f"(gta_slowfast.list_configs() lists them)"
    )


API_CALLER = ("create_model", "a config")


def resolve_config(config=None, checkpoint=None, opts=None, caller=API_CALLER):
    """
    The config of a model: the YAML file ``config`` (a path, or a shipped config's name), else
    the config that ``checkpoint`` (a path or a read ``Checkpoint``) stores, with the ``KEY
    VALUE`` overrides ``opts``, on the CPU. Errors name ``caller``: (the call or command, its
    config argument).
    """
    overrides = list(opts or []) + ["NUM_GPUS", "0"]
    if config is not None:
        return load_config(config_path(config), overrides)
    if checkpoint is None:
        raise ValueError(f"{caller[0]}: give {caller[1]}, a checkpoint, or both")
    if isinstance(checkpoint, str):
        checkpoint = read_checkpoint(checkpoint)
    if checkpoint.cfg_text is None:
        raise CheckpointError(
            f"checkpoint {checkpoint.path} stores no config (PySlowFast's checkpoints store "
            f"theirs under 'cfg'): give {caller[0]} {caller[1]}, the one it was trained with"
        )
    source = f"the config stored in {checkpoint.path}"
    if checkpoint.config_tree is not None:  # parsed once, when the checkpoint was read
        return config_from_mapping(checkpoint.config_tree, source, overrides)
    return config_from_text(checkpoint.cfg_text, source, overrides)


def create_model(config=None, num_classes=None, checkpoint=None, checkpoint_type="pytorch",
                 opts=None, labels=None, require_class_names=False, caller=API_CALLER):
    """
    A model ready for inference, built from a config, a checkpoint or both, on the CPU in eval
    mode. ``checkpoint`` is loaded through the package's loader in exact mode (every tensor of
    the model, head included, or an error naming what does not fit) and its report logged.

    Args:
        config (str, optional): a YAML path, or a shipped config's name such as
            ``"SSv1/R2D_R50_GTA_8x1.yaml"`` (``list_configs``); None: the config that
            ``checkpoint`` stores.
        num_classes (int, optional): ``MODEL.NUM_CLASSES``, where it differs from the config's.
        checkpoint (str or Checkpoint, optional): a checkpoint path, or a ``Checkpoint``
            already read (``gta_slowfast.checkpoint.read_checkpoint``).
        checkpoint_type (str): ``"pytorch"`` (PySlowFast's ``.pyth``) or ``"caffe2"``.
        opts (list of str, optional): ``KEY VALUE`` config overrides.
        labels (str, optional): a label file naming the classes (``read_label_file``);
            None: the label file of the config's ``TEST.DATASET``, where it has one.
        require_class_names (bool): make an unreadable dataset label file an error instead of
            a logged warning.
        caller (tuple of str): (name, config argument) by which errors name this call; a
            command passes its own.

    Returns:
        torch.nn.Module: the model in eval mode, with its config as ``model.cfg`` and its class
        names in index order as ``model.class_names`` (None where nothing names them).

    Raises:
        ValueError: neither ``config`` nor ``checkpoint`` is given, ``checkpoint_type`` is
            neither type, or the class names do not match ``MODEL.NUM_CLASSES``.
        FileNotFoundError: ``config``, ``checkpoint`` or ``labels`` does not exist.
        gta_slowfast.config.ConfigError: the config or an override does not fit PySlowFast's
            config (``UnknownConfigKey`` for a key it does not have).
        gta_slowfast.checkpoint.CheckpointError: the checkpoint cannot be read, stores no
            config where one is needed, or does not fit the model.
    """
    if isinstance(checkpoint, str) and config is None:
        checkpoint = read_checkpoint(checkpoint, checkpoint_type)
    overrides = list(opts or [])
    if num_classes is not None:
        overrides += ["MODEL.NUM_CLASSES", str(num_classes)]
    cfg = resolve_config(config, checkpoint, overrides, caller)
    model = build_model(cfg)
    if checkpoint:
        load_checkpoint(checkpoint, model, kind=checkpoint_type, mode="exact", cfg=cfg,
                        caller=caller)
    model.cfg = cfg
    model.class_names = class_names(cfg, labels,
                                    required=require_class_names or labels is not None)
    return model.eval()


def class_names(cfg, labels=None, required=True):
    """
    The class names of ``cfg``'s model in index order: from the label file ``labels``
    (``datasets.labels.read_label_file``), else from the dataset of ``TEST.DATASET`` where it
    names its classes (``evaluation.dataset_class_names``), else None. Names of another count than
    ``MODEL.NUM_CLASSES`` are an error; so is an unreadable dataset label file where
    ``required`` (else it is logged and None returned).
    """
    if labels is not None:
        names, source = read_label_file(labels), f"label file {labels}"
    else:
        try:
            names = dataset_class_names(cfg)
        except (ValueError, FileNotFoundError) as err:
            if required:
                raise
            logger.warning("No class names: %s", err)
            return None
        source = f"the label file of TEST.DATASET {cfg.TEST.DATASET!r}"
    if names is not None and len(names) != cfg.MODEL.NUM_CLASSES:
        raise ValueError(
            f"{source} names {len(names)} classes, the model has MODEL.NUM_CLASSES="
            f"{cfg.MODEL.NUM_CLASSES}"
        )
    return names


@dataclass
class ClassScore:
    """One of the top classes of a score vector: its index, its name (None where the classes
    are not named) and its score."""

    index: int
    name: Optional[str]
    score: float


def top_classes(scores, names=None, k=5):
    """The ``k`` highest of the scores [classes] of one video, highest first, as ClassScores
    named from ``names``."""
    values, indices = top_scores(scores.float(), k)
    return [ClassScore(i, names[i] if names else None, v)
            for v, i in zip(values.tolist(), indices.tolist())]


def clip_indices(cfg, num_video_frames, fps, view=0, num_views=1):
    """
    The frame indices of temporal view ``view`` of ``num_views`` of a video of
    ``num_video_frames`` frames at ``fps``, as the test of ``cfg``'s dataset samples them: the
    dataset's own ``clip_indices`` (``video_dataset.ReleaseVideoDataset``), else
    ``DATA.TEMPORAL_SAMPLING`` (``datasets.sampling.clip_indices``).
    """
    dataset = release_dataset_class(cfg.TEST.DATASET)
    if dataset is not None:
        return dataset.clip_indices(cfg, num_video_frames, fps, view, num_views)
    return sampling.clip_indices(cfg, num_video_frames, fps, view, num_views)


def test_views(cfg, multi_view=True):
    """
    (temporal view, temporal view count, spatial crop) of every view the test of ``cfg`` takes
    of a video, in PySlowFast's order (every crop of the first temporal view, then of the
    next): ``TEST.NUM_ENSEMBLE_VIEWS`` x ``TEST.NUM_SPATIAL_CROPS``, or without
    ``multi_view`` the single view validation takes (the centre clip, the centre crop).
    """
    if not multi_view:
        return [(0, 1, 1)]
    temporal, crops = max(cfg.TEST.NUM_ENSEMBLE_VIEWS, 1), max(cfg.TEST.NUM_SPATIAL_CROPS, 1)
    views = []
    for index in range(temporal * crops):
        view, crop = sampling.test_view(index, crops)
        views.append((view, temporal, 1 if crops == 1 else crop))
    return views


@dataclass
class VideoSegment:
    """A stretch of a video (the whole video, or one window) and its clips: one list of
    pathway tensors [1, C, T, H, W] per view."""

    start: float  # seconds
    end: float
    clips: list


def window_starts(num_frames, fps, window, stride):
    """(first frame, frame count) of each window of ``window`` seconds every ``stride``
    seconds that fits in a video of ``num_frames`` frames; one window over the whole video
    where it is shorter than a window."""
    length = max(int(round(window * fps)), 1)
    step = max(int(round(stride * fps)), 1)
    if num_frames <= length:
        return [(0, num_frames)]
    return [(start, length) for start in range(0, num_frames - length + 1, step)]


def load_video(path, cfg, views=((0, 1, 1),), window=None, stride=None):
    """
    The clips of the video file (or frame folder) ``path`` that the test of ``cfg`` takes:
    each view of ``views`` (``test_views``), of the whole video, or with ``window`` (and
    ``stride``, default ``window``) seconds of each window, sampled, resized and cropped as the
    test of ``cfg``'s dataset does (``clip_indices``; the dataset's ``resize``). The video is
    decoded once, up to the last frame any clip needs. Returns a list of VideoSegments.
    """
    if window is not None and window <= 0 or stride is not None and stride <= 0:
        raise ValueError(f"window {window} s, stride {stride} s: both must be positive")
    temporal = sorted({(view, count) for view, count, _ in views})
    dataset = release_dataset_class(cfg.TEST.DATASET)
    resize = dataset.resize if dataset is not None else transforms.resize
    plan = {}

    def choose(num_frames, fps):
        spans = (window_starts(num_frames, fps, window, stride or window) if window
                 else [(0, num_frames)])
        plan.update(fps=fps, spans=spans)
        return torch.cat([first + clip_indices(cfg, length, fps, view, count)
                          for first, length in spans for view, count in temporal])

    if os.path.isdir(path):
        frames, _ = decoding.read_frame_folder(path, lambda n: choose(n, cfg.DATA.FRAMES_FPS))
    else:
        frames, _, _ = decoding.read_video_file(path, choose)
    per_clip = frames.shape[0] // (len(plan["spans"]) * len(temporal))
    chunks = iter(frames.split(per_clip))
    segments = []
    for first, length in plan["spans"]:
        sampled = {key: next(chunks) for key in temporal}
        clips = []
        for view, count, crop in views:
            pathways, _ = prepare_clip(cfg, sampled[(view, count)], train=False,
                                       spatial_idx=crop, resize=resize)
            clips.append([x.unsqueeze(0) for x in pathways])
        segments.append(VideoSegment(first / plan["fps"], (first + length) / plan["fps"], clips))
    return segments


def load_clip(path, cfg, view=0, spatial_idx=1):
    """
    A video as the model's input for ``cfg``, read as the config's test reads it (decoder,
    frame sampling, resize, crop, normalisation and pathway packing of ``TEST.DATASET``'s
    pipeline; ``load_video``).

    Args:
        path: a video file (any container PyAV reads) or a folder of JPEG frames.
        cfg: the model's config (a PySlowFast CfgNode with the gta_slowfast keys).
        view: the temporal view, of ``TEST.NUM_ENSEMBLE_VIEWS``, to take (0: the first).
        spatial_idx: the crop (0, 1, 2: one end, centre, other end of the long side).

    Returns:
        A list of pathway tensors ``[1, C, T, H, W]`` (float32, normalised), one per pathway.

    Raises:
        datasets.decoding.UnreadableVideo: ``path`` does not exist, holds no frames or cannot
            be decoded (a RuntimeError; the message names the path).
        ValueError: a value of the config that the pipeline refuses (``DATA.TEMPORAL_SAMPLING``
            not one it knows; a ``view`` outside ``[0, TEST.NUM_ENSEMBLE_VIEWS)`` for the
            ``tsn`` and ``ssv2`` rules).
    """
    views = max(cfg.TEST.NUM_ENSEMBLE_VIEWS, 1)
    return load_video(path, cfg, [(view, views, spatial_idx)])[0].clips[0]
