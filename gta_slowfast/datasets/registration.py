"""The synthetic dataset as a PySlowFast dataset (``TRAIN.DATASET: synthetic``)."""

import os

import av
import numpy as np
import torch
from slowfast.datasets import transform
from slowfast.datasets import utils as data_utils
from slowfast.datasets.build import DATASET_REGISTRY

from .. import compat
from .synthetic import CLASS_NAMES, generate


def synthetic_root(cfg):
    """Directory of the synthetic videos: SYNTHETIC.PATH, or OUTPUT_DIR/synthetic_data."""
    return cfg.SYNTHETIC.PATH or os.path.join(cfg.OUTPUT_DIR, "synthetic_data")


def decode_video(path):
    """All frames of the video at ``path`` as a uint8 tensor [T, H, W, 3] (PyAV)."""
    try:
        with av.open(path) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    except (av.error.FFmpegError, OSError) as err:
        raise RuntimeError(f"video {path} could not be decoded: {err}") from err
    if not frames:
        raise RuntimeError(f"video {path} has no frames")
    return torch.from_numpy(np.stack(frames))


def temporal_indices(num_video_frames, num_frames, sampling_rate, clip_idx, num_clips):
    """
    Frame indices of a clip of ``num_frames`` frames taken every ``sampling_rate`` frames, as
    PySlowFast samples: a random start for ``clip_idx`` -1 (training), else the ``clip_idx``-th
    of ``num_clips`` uniformly spaced starts; indices past the end repeat the last frame.
    """
    span = num_frames * sampling_rate
    room = max(num_video_frames - span, 0)
    if clip_idx == -1:
        start = np.random.randint(0, room + 1)
    else:
        start = room * clip_idx // max(num_clips - 1, 1) if num_clips > 1 else room // 2
    index = torch.arange(num_frames) * sampling_rate + start
    return index.clamp(max=num_video_frames - 1)


@DATASET_REGISTRY.register()
class Synthetic(torch.utils.data.Dataset):
    """
    The generated order-sensitive videos of ``gta_slowfast.datasets.synthetic``, generated on
    first use and read like PySlowFast's Kinetics: PyAV decoding, a random (train) or uniform
    (test) clip of DATA.NUM_FRAMES frames every DATA.SAMPLING_RATE frames, PySlowFast's scale
    jitter and crops, DATA.MEAN / DATA.STD normalisation and pathway packing. No horizontal flip: it would not change
    any label here. Items are what the installed PySlowFast's trainer expects.
    """

    def __init__(self, cfg, mode, num_retries=10):
        if mode not in ("train", "val", "test"):
            raise ValueError(f"Synthetic: split {mode!r} is not one of train, val, test")
        if cfg.MODEL.NUM_CLASSES != len(CLASS_NAMES):
            raise ValueError(
                f"MODEL.NUM_CLASSES={cfg.MODEL.NUM_CLASSES}, but the synthetic dataset has "
                f"{len(CLASS_NAMES)} classes {CLASS_NAMES}"
            )
        self.cfg = cfg
        self.mode = mode
        root = generate(
            synthetic_root(cfg),
            seed=cfg.SYNTHETIC.SEED,
            num_train=cfg.SYNTHETIC.NUM_TRAIN,
            num_test=cfg.SYNTHETIC.NUM_TEST,
            size=cfg.SYNTHETIC.SIZE,
            num_frames=cfg.SYNTHETIC.VIDEO_FRAMES,
        )
        self._num_clips = (
            1 if mode != "test" else cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS
        )
        self._paths, self._labels, self._clip_idx = [], [], []
        with open(os.path.join(root, f"{mode}.csv")) as f:
            for line in f.read().splitlines():
                path, label = line.rsplit(" ", 1)
                for clip in range(self._num_clips):
                    self._paths.append(path)
                    self._labels.append(int(label))
                    self._clip_idx.append(clip)

    def __len__(self):
        return len(self._paths)

    @property
    def num_videos(self):
        """Number of (video, view) items, as PySlowFast's Kinetics reports it."""
        return len(self._paths)

    def __getitem__(self, index):
        cfg = self.cfg
        frames = decode_video(self._paths[index])
        if self.mode == "test":
            temporal_idx = self._clip_idx[index] // cfg.TEST.NUM_SPATIAL_CROPS
            spatial_idx = self._clip_idx[index] % cfg.TEST.NUM_SPATIAL_CROPS
            if cfg.TEST.NUM_SPATIAL_CROPS == 1:
                spatial_idx = 1  # the center crop
            views = cfg.TEST.NUM_ENSEMBLE_VIEWS
        else:
            temporal_idx, spatial_idx, views = (-1 if self.mode == "train" else 0), 1, 1
        index_t = temporal_indices(
            frames.shape[0], cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, temporal_idx, views
        )
        frames = frames[index_t].float() / 255.0
        frames = (frames - torch.tensor(cfg.DATA.MEAN)) / torch.tensor(cfg.DATA.STD)
        frames = frames.permute(3, 0, 1, 2)  # [C, T, H, W]
        if self.mode == "train":
            frames, _ = transform.random_short_side_scale_jitter(
                frames, cfg.DATA.TRAIN_JITTER_SCALES[0], cfg.DATA.TRAIN_JITTER_SCALES[1]
            )
            frames, _ = transform.random_crop(frames, cfg.DATA.TRAIN_CROP_SIZE)
        else:
            size = cfg.DATA.TEST_CROP_SIZE
            frames, _ = transform.random_short_side_scale_jitter(frames, size, size)
            frames, _ = transform.uniform_crop(frames, size, spatial_idx)
        frames = data_utils.pack_pathway_output(cfg, frames)
        label = self._labels[index]
        return compat.trainer_item(frames, label, index, {})
