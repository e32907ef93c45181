"""
The input pipeline's speed against its limit (``python -m gta_slowfast.tools.benchmark --data``;
``report.data_markdown`` writes its table).

For each config's training dataset (``TRAIN.DATASET``: ``gta_ssv1``, ``gta_ssv2`` or
``gta_kinetics``), on a sample release of realistic size (``gta_slowfast.datasets.
sample_releases``, written once under the output folder), in one process as in one loader
worker (torch on one thread, as PySlowFast's DataLoader workers run), per round:

- **item**: ``dataset[i]`` of the training split, as PySlowFast's loader calls it: decode the
  sampled frames, augment, normalise, pack;
- **decode** / **transform**: the same two halves timed apart (``read_clip``, then
  ``prepare_clip`` on its frames);
- **limit**: decoding just the frames a training item needs, with nothing else: for a frame
  folder the sampled JPEGs (PIL, no conversion); for a video file PyAV from the key frame at or
  before the first sampled frame (a seek; a ``.webm`` from the start: VP9's key frames are
  128 frames apart by default, more than a Something-Something video has) to the last sampled
  frame, no conversion to RGB. Its frames are drawn by the dataset's own ``frame_indices`` (a
  fresh random training draw each round);
- **resize reference** (frame folders): one OpenCV resize of each sampled frame to ``TSN.RESIZE``
  and one of that to the ``DATA.TRAIN_CROP_SIZE`` square, what the recipe's two resizes cost at
  least.

Rates are rounds over the summed time of each; the ratio is item rate / limit rate. Wall and
process CPU time (all threads: PyAV's decoder threads included) are both kept.
"""

import logging
import os

import av
import cv2
import torch
from PIL import Image
from slowfast.datasets.build import build_dataset

from .. import load_config
from ..datasets import decoding, sample_releases
from ..datasets.video_dataset import prepare_clip
from ..factory import config_path
from .timing import timed

logger = logging.getLogger(__name__)

# The shipped config each dataset is timed with when --data names datasets, not --cfg files.
DATASET_CONFIGS = {
    "gta_ssv1": "SSv1/R2D_R50_8x1.yaml",
    "gta_ssv2": "SSv2/R2D_R50_8x1.yaml",
    "gta_kinetics": "Kinetics/R2D_R50_8x8.yaml",
}
PARTS = ("item", "decode", "transform", "limit", "reference")


def dataset_config(dataset):
    """The path of the shipped config ``dataset`` is timed with."""
    return config_path(DATASET_CONFIGS[dataset])


# ------------------------------------------------------------------------------------------------
# The limit: decoding only what an item needs


def limit_frame_folder(files):
    """Decodes the JPEG ``files`` (PIL, no conversion)."""
    for path in files:
        with Image.open(path) as image:
            image.load()


def video_timeline(path):
    """(presentation timestamps of the frames in order, frame rate) of a video's first stream,
    read from its packets without decoding."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        pts = sorted(p.pts for p in container.demux(stream) if p.size and p.pts is not None)
        return pts, decoding.video_fps(stream)


def limit_video(path, first_pts, last_pts, seek):
    """Decodes with PyAV, no conversion, from the key frame at or before ``first_pts``
    (``seek``; else from the start) up to the frame at ``last_pts``; returns the frames
    decoded."""
    decoded = 0
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if seek:
            container.seek(first_pts, stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            decoded += 1
            if frame.pts >= last_pts:
                break
    return decoded


# ------------------------------------------------------------------------------------------------
# One dataset


def reference_resize(frames, size_hw, crop):
    """One OpenCV resize of each uint8 frame [T, H, W, 3] to ``size_hw`` and one of that to a
    ``crop`` square: the least the TSN recipe's two resizes cost."""
    height, width = size_hw
    for frame in frames.numpy():
        cv2.resize(cv2.resize(frame, (width, height)), (crop, crop))


def dataset_runner(cfg_path, dataset_name, opts):
    """(config, training dataset, ``step(round) -> {part: (wall s, CPU s)}``) for the config at
    ``cfg_path`` with ``opts``: the dataset and one function timing every part of a round."""
    cfg = load_config(cfg_path, opts)
    dataset = build_dataset(dataset_name, cfg, "train")
    entries = dataset.split.entries
    folders = dataset.split.frame_folders
    timelines = {} if folders else {e.path: video_timeline(e.path) for e in entries}

    def step(r):
        video = r % len(entries)
        entry = entries[video]
        times = {}
        _, *times["item"] = timed(lambda: dataset[video])
        frames, *times["decode"] = timed(lambda: dataset.read_clip(entry, -1, 1))
        _, *times["transform"] = timed(
            lambda: prepare_clip(cfg, frames, True, -1, entry.label, dataset.flip_map)
        )
        if folders:
            files = decoding.frame_files(entry.path)
            index = dataset.frame_indices(len(files), cfg.DATA.FRAMES_FPS, -1, 1).tolist()
            _, *times["limit"] = timed(lambda: limit_frame_folder([files[i] for i in index]))
            _, *times["reference"] = timed(lambda: reference_resize(
                frames, cfg.TSN.RESIZE, cfg.DATA.TRAIN_CROP_SIZE))
        else:
            pts, fps = timelines[entry.path]
            index = dataset.frame_indices(len(pts), fps, -1, 1).tolist()
            _, *times["limit"] = timed(
                lambda: limit_video(entry.path, pts[min(index)], pts[max(index)],
                                    seek=not entry.path.endswith(".webm")))
        return times

    return cfg, dataset, step


def measure_dataset(cfg_path, output_dir, warmup, rounds, opts):
    """Times ``rounds`` rounds (after ``warmup``) of the training dataset of the config at
    ``cfg_path`` on its sample release; returns the JSON row."""
    name = load_config(cfg_path, opts).TRAIN.DATASET
    root = os.path.join(output_dir, "releases", name)
    logger.info("%s: sample release in %s", name, root)
    root, release_opts = sample_releases.write_release(name, root)
    cfg, dataset, step = dataset_runner(
        cfg_path, name, release_opts + ["NUM_GPUS", "0"] + list(opts)
    )
    runs = {part: [] for part in PARTS}
    for r in range(warmup + rounds):
        times = step(r)
        if r >= warmup:
            for part, value in times.items():
                runs[part].append(value)
    logger.info("%s: %d rounds timed", name, rounds)
    num_videos, num_frames, height, width, fps = sample_releases.SIZES[name]
    row = dict(
        dataset=name, config=cfg_path, release=root,
        video=f"{num_frames} frames {width}x{height} at {fps} fps",
        clip=f"{cfg.DATA.NUM_FRAMES} frames, " + (
            f"TSN {cfg.TSN.RESIZE[0]}x{cfg.TSN.RESIZE[1]} -> {cfg.DATA.TRAIN_CROP_SIZE}"
            if cfg.TSN.ENABLE else
            f"rate {cfg.DATA.SAMPLING_RATE}, jitter {list(cfg.DATA.TRAIN_JITTER_SCALES)} -> "
            f"{cfg.DATA.TRAIN_CROP_SIZE}"
        ),
        rounds=rounds,
    )
    for part, values in runs.items():
        if not values:
            row[f"{part}_ms"] = row[f"{part}_cpu_ms"] = None
            continue
        row[f"{part}_ms"] = round(1e3 * sum(w for w, _ in values) / len(values), 2)
        row[f"{part}_cpu_ms"] = round(1e3 * sum(c for _, c in values) / len(values), 2)
    row["items_per_s"] = round(1e3 / row["item_ms"], 2)
    row["limit_items_per_s"] = round(1e3 / row["limit_ms"], 2)
    row["ratio"] = round(row["limit_ms"] / row["item_ms"], 3)
    row["ratio_cpu"] = round(row["limit_cpu_ms"] / row["item_cpu_ms"], 3)
    return row


def benchmark_data(cfg_paths, output_dir, warmup, rounds, opts):
    """The rows of every config's training dataset, measured one after the other."""
    torch.set_num_threads(1)  # as in a DataLoader worker
    return [measure_dataset(p, output_dir, warmup, rounds, opts) for p in cfg_paths]
