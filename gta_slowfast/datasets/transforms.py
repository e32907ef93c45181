"""
Spatial transforms of a clip ``[C, T, H, W]`` (float, normalised): the paper's TSN recipe for
2D backbones, PySlowFast's scale jitter for SlowFast, and a horizontal flip that knows which
classes name a direction.
"""

import random
import re

import numpy as np
import torch
import torch.nn.functional as F
from slowfast.datasets import transform as sf_transform

FLIP_POLICIES = ("skip", "swap", "flip")
_DIRECTION = re.compile(r"\b(left|right)\b", re.IGNORECASE)


def resize(frames, height, width):
    """Bilinear resize of a clip [C, T, H, W] to ``height`` x ``width``."""
    if frames.shape[-2:] == (height, width):
        return frames
    return F.interpolate(frames, size=(height, width), mode="bilinear", align_corners=False)


def fixed_crop_offsets(image_h, image_w, crop_h, crop_w):
    """
    TSN's 13 fixed crop positions (``GroupMultiScaleCrop`` with ``more_fix_crop``): corners,
    centre, edge centres and the four quarter points, as (y, x) of the crop's top-left corner.
    """
    h_step, w_step = (image_h - crop_h) // 4, (image_w - crop_w) // 4
    grid = [
        (0, 0), (0, 4), (4, 0), (4, 4), (2, 2),
        (2, 0), (2, 4), (4, 2), (0, 2),
        (1, 1), (1, 3), (3, 1), (3, 3),
    ]
    return [(h_step * gy, w_step * gx) for gy, gx in grid]


def multiscale_crop_box(image_h, image_w, scales, max_distort, target):
    """
    TSN's multi-scale crop (``GroupMultiScaleCrop``): a crop whose height and width are taken
    from ``scales`` x the short side, at most ``max_distort`` scale steps apart (random aspect
    among them), at one of the 13 fixed positions. Sizes within 3 pixels of ``target`` snap to
    it, as in TSN. Returns (y, x, crop_h, crop_w).
    """
    base = min(image_h, image_w)
    sizes = [int(base * s) for s in scales]
    sizes = [target if abs(s - target) < 3 else s for s in sizes]
    pairs = [
        (h, w)
        for i, h in enumerate(sizes)
        for j, w in enumerate(sizes)
        if abs(i - j) <= max_distort
    ]
    crop_h, crop_w = random.choice(pairs)
    y, x = random.choice(fixed_crop_offsets(image_h, image_w, crop_h, crop_w))
    return y, x, crop_h, crop_w


def tsn_train(frames, cfg):
    """The paper's training augmentation for 2D backbones: resize to ``TSN.RESIZE``, TSN
    multi-scale crop, resize to ``DATA.TRAIN_CROP_SIZE``."""
    height, width = cfg.TSN.RESIZE
    frames = resize(frames, height, width)
    size = cfg.DATA.TRAIN_CROP_SIZE
    y, x, crop_h, crop_w = multiscale_crop_box(
        height, width, cfg.TSN.SCALES, cfg.TSN.MAX_DISTORT, size
    )
    return resize(frames[..., y:y + crop_h, x:x + crop_w], size, size)


def tsn_test(frames, cfg, spatial_idx):
    """Test views for 2D backbones: resize to ``TSN.RESIZE``, then a ``DATA.TEST_CROP_SIZE``
    square crop, centre (``spatial_idx`` 1) or at either end of the long side (0, 2)."""
    frames = resize(frames, *cfg.TSN.RESIZE)
    return sf_transform.uniform_crop(frames, cfg.DATA.TEST_CROP_SIZE, spatial_idx)[0]


def dense_train(frames, cfg):
    """PySlowFast's training augmentation (``utils.spatial_sampling``): short side jittered in
    ``DATA.TRAIN_JITTER_SCALES`` (uniformly, or with ``DATA.INV_UNIFORM_SAMPLE`` its inverse
    uniformly in [1 / max, 1 / min], as main's ``random_short_side_scale_jitter``), random
    ``DATA.TRAIN_CROP_SIZE`` crop."""
    low, high = cfg.DATA.TRAIN_JITTER_SCALES
    if cfg.DATA.INV_UNIFORM_SAMPLE:  # main's rule, which the snapshot's function lacks
        low = high = int(round(1.0 / np.random.uniform(1.0 / high, 1.0 / low)))
    frames, _ = sf_transform.random_short_side_scale_jitter(frames, low, high)
    return sf_transform.random_crop(frames, cfg.DATA.TRAIN_CROP_SIZE)[0]


def dense_test(frames, cfg, spatial_idx):
    """PySlowFast's test views: short side to ``DATA.TEST_CROP_SIZE``, a square crop at
    ``spatial_idx`` (0, 1, 2: one end, centre, other end of the long side)."""
    size = cfg.DATA.TEST_CROP_SIZE
    frames, _ = sf_transform.random_short_side_scale_jitter(frames, size, size)
    return sf_transform.uniform_crop(frames, size, spatial_idx)[0]


def is_directional(class_name):
    """True for class names that say "left" or "right" (a flip would contradict them)."""
    return bool(_DIRECTION.search(class_name))


def mirrored_name(class_name):
    """The class name with "left" and "right" exchanged (case kept)."""

    def swap(match):
        word = match.group(0)
        other = "right" if word.lower() == "left" else "left"
        return other.capitalize() if word[0].isupper() else other

    return _DIRECTION.sub(swap, class_name)


def flip_label_map(class_names, policy):
    """
    What a horizontal flip does to each label, under ``DATA.DIRECTIONAL_FLIP``:
    ``{label: label after the flip, or None if clips of that label are never flipped}``.

    - ``"skip"`` (the paper): classes whose names say left or right are never flipped;
    - ``"swap"`` (MMAction2's ``flip_label_map``): they are flipped and take the label of the
      class named with the other direction; a class without such a twin is never flipped;
    - ``"flip"`` (PySlowFast): every class is flipped and keeps its label.
    """
    if policy not in FLIP_POLICIES:
        raise ValueError(f"DATA.DIRECTIONAL_FLIP={policy!r} is not one of {FLIP_POLICIES}")
    index = {name: i for i, name in enumerate(class_names)}
    mapping = {}
    for label, name in enumerate(class_names):
        if policy == "flip" or not is_directional(name):
            mapping[label] = label
        elif policy == "swap":
            mapping[label] = index.get(mirrored_name(name))
        else:
            mapping[label] = None
    return mapping


def random_flip(frames, label, flip_map):
    """Flips the clip horizontally with probability 1/2 where ``flip_map`` allows it; returns
    (frames, label), the label changed where the flip swaps it."""
    target = flip_map.get(label, label)
    if target is None or random.random() < 0.5:
        return frames, label
    return torch.flip(frames, dims=[-1]), target
