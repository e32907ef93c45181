"""
Spatial transforms of a clip ``[C, T, H, W]`` (float, normalised): the paper's TSN recipe for
2D backbones, PySlowFast's scale jitter for SlowFast, and a horizontal flip that knows which
classes name a direction; and the normalisation that makes such a clip of decoded frames.

Resizes run plane by plane in OpenCV, in float32 (``resize``): bilinear with half-pixel centres
and no antialiasing, the sampling of ``torch.nn.functional.interpolate(mode="bilinear",
align_corners=False)`` that PySlowFast's transforms use; ``interpolate_resize`` is that torch call
itself (equal to float rounding, not bit for bit), for a dataset whose recipe was fixed with it.
Crops are views; the random draws are PySlowFast's own, in its order.
"""

import math
import random
import re

import cv2
import numpy as np
import torch
from slowfast.datasets import transform as sf_transform

FLIP_POLICIES = ("skip", "swap", "flip")
_DIRECTION = re.compile(r"\b(left|right)\b", re.IGNORECASE)


def normalise(frames, mean, std):
    """
    uint8 frames [T, H, W, C] as a float32 clip [C, T, H, W] of ``(x / 255 - mean) / std`` per
    channel: a table of the 256 values of each channel, computed with those float32 operations,
    looked up plane by plane (equal to computing every pixel, at a fraction of the cost).
    """
    if frames.dtype != torch.uint8 or frames.dim() != 4:
        raise ValueError(f"frames must be uint8 [T, H, W, C], got {frames.dtype} "
                         f"{list(frames.shape)}")
    table = (torch.arange(256, dtype=torch.float32)[:, None] / 255.0 - torch.tensor(mean))
    table = (table / torch.tensor(std)).t().contiguous().numpy()  # [C, 256]
    source = np.ascontiguousarray(frames.numpy())
    out = np.empty((source.shape[3],) + source.shape[:3], dtype=np.float32)
    for t, frame in enumerate(source):
        for c, plane in enumerate(cv2.split(frame)):
            cv2.LUT(plane, table[c], dst=out[c, t])
    return torch.from_numpy(out)


def resize(frames, height, width):
    """Bilinear resize of a clip [C, T, H, W] (a view or not) to ``height`` x ``width``, in
    float32."""
    if tuple(frames.shape[-2:]) == (height, width):
        return frames
    source = frames.numpy().astype(np.float32, copy=False)
    out = np.empty(source.shape[:2] + (height, width), dtype=np.float32)
    for source_planes, out_planes in zip(source, out):
        for plane, target in zip(source_planes, out_planes):
            cv2.resize(plane, (width, height), dst=target, interpolation=cv2.INTER_LINEAR)
    return torch.from_numpy(out)


def interpolate_resize(frames, height, width):
    """Bilinear resize of a clip [C, T, H, W] to ``height`` x ``width`` with
    ``torch.nn.functional.interpolate(align_corners=False)``, as PySlowFast's
    ``random_short_side_scale_jitter`` resizes."""
    return torch.nn.functional.interpolate(
        frames, size=(height, width), mode="bilinear", align_corners=False
    )


def short_side_scale_jitter(frames, min_size, max_size, inverse_uniform=False, resize=resize):
    """PySlowFast's ``random_short_side_scale_jitter`` of a clip [C, T, H, W] with this
    module's ``resize``: the short side to a size drawn uniformly in [``min_size``,
    ``max_size``] (``np.random``, as PySlowFast), or with ``inverse_uniform`` its inverse
    uniformly in [1 / max, 1 / min] (main's ``inverse_uniform_sampling``), the long side in
    proportion (floored), resized by ``resize``."""
    if inverse_uniform:
        size = int(round(1.0 / np.random.uniform(1.0 / max_size, 1.0 / min_size)))
    else:
        size = int(round(np.random.uniform(min_size, max_size)))
    height, width = frames.shape[-2:]
    if (width <= height and width == size) or (height <= width and height == size):
        return frames
    if width < height:
        return resize(frames, int(math.floor(float(height) / width * size)), size)
    return resize(frames, size, int(math.floor(float(width) / height * size)))


def crop_only(cropped):
    """The clip of a PySlowFast crop's result: (clip, boxes), or the clip alone where the
    snapshot's ``random_crop`` finds it already of the crop's size."""
    return cropped[0] if isinstance(cropped, tuple) else cropped


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


def tsn_train(frames, cfg, resize=resize):
    """The paper's training augmentation for 2D backbones: resize to ``TSN.RESIZE``, TSN
    multi-scale crop, resize to ``DATA.TRAIN_CROP_SIZE`` (each resize by ``resize``)."""
    height, width = cfg.TSN.RESIZE
    frames = resize(frames, height, width)
    size = cfg.DATA.TRAIN_CROP_SIZE
    y, x, crop_h, crop_w = multiscale_crop_box(
        height, width, cfg.TSN.SCALES, cfg.TSN.MAX_DISTORT, size
    )
    return resize(frames[..., y:y + crop_h, x:x + crop_w], size, size)


def tsn_test(frames, cfg, spatial_idx, resize=resize):
    """Test views for 2D backbones: resize to ``TSN.RESIZE`` (by ``resize``), then a
    ``DATA.TEST_CROP_SIZE`` square crop, centre (``spatial_idx`` 1) or at either end of the long
    side (0, 2)."""
    frames = resize(frames, *cfg.TSN.RESIZE)
    return crop_only(sf_transform.uniform_crop(frames, cfg.DATA.TEST_CROP_SIZE, spatial_idx))


def dense_train(frames, cfg, resize=resize):
    """PySlowFast's training augmentation (``utils.spatial_sampling``): short side jittered in
    ``DATA.TRAIN_JITTER_SCALES`` (uniformly, or with ``DATA.INV_UNIFORM_SAMPLE`` its inverse
    uniformly in [1 / max, 1 / min], as main's ``random_short_side_scale_jitter``; resized by
    ``resize``), random ``DATA.TRAIN_CROP_SIZE`` crop."""
    low, high = cfg.DATA.TRAIN_JITTER_SCALES
    frames = short_side_scale_jitter(frames, low, high, cfg.DATA.INV_UNIFORM_SAMPLE, resize)
    return crop_only(sf_transform.random_crop(frames, cfg.DATA.TRAIN_CROP_SIZE))


def dense_test(frames, cfg, spatial_idx, resize=resize):
    """PySlowFast's test views: short side to ``DATA.TEST_CROP_SIZE`` (by ``resize``), a square
    crop at ``spatial_idx`` (0, 1, 2: one end, centre, other end of the long side)."""
    size = cfg.DATA.TEST_CROP_SIZE
    frames = short_side_scale_jitter(frames, size, size, resize=resize)
    return crop_only(sf_transform.uniform_crop(frames, size, spatial_idx))


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
