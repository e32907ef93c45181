"""
Tiny fake dataset releases in the official layouts (Something-Something v1 JPEG frames and CSV
lists, v2 VP9 .webm and JSON lists, Kinetics-layout CSVs of video files), written with PIL and
PyAV, for the dataset tests.

Every frame codes its own index k in its lower half, as two grey bands of level 16 + 8 d (the
upper band d = k // 30, the lower d = k % 30; k < 900), so a test can read back which frames a
clip holds; in the upper half a bright bar moves left to right, right to left, or stands still,
as the class name says.
"""

import json
import os

import numpy as np
import torch
from PIL import Image

from gta_slowfast.datasets import sample_releases

SS_CLASSES = [
    "Pushing something from left to right",
    "Pushing something from right to left",
    "Putting something on a surface",
    "Turning the camera left while filming something",
    "Tearing something into two pieces",
    "Turning the camera right while filming something",
]
HEIGHT, WIDTH = 48, 64
DIGIT = 30  # grey levels of one band of the frame-index code


def direction_of(class_name):
    """+1 for left-to-right motion, -1 for right-to-left, 0 for none."""
    name = class_name.lower()
    if "left to right" in name or "camera left" in name:
        return 1
    if "right to left" in name or "camera right" in name:
        return -1
    return 0


def frames_of(num_frames, direction, height=HEIGHT, width=WIDTH):
    """uint8 frames [T, H, W, 3]: index-coded lower half, a bar moving by ``direction``."""
    if num_frames > DIGIT * DIGIT:
        raise ValueError(f"the frame-index code holds {DIGIT * DIGIT} frames, not {num_frames}")
    frames = np.zeros((num_frames, height, width, 3), dtype=np.uint8)
    top, middle = height // 2, height * 3 // 4
    for k in range(num_frames):
        frames[k, top:middle] = 16 + 8 * (k // DIGIT)
        frames[k, middle:] = 16 + 8 * (k % DIGIT)
        frames[k, :top] = 40
        s = k / max(num_frames - 1, 1)
        pos = 0.3 + 0.4 * s if direction >= 0 else 0.7 - 0.4 * s
        x = int(pos * width) if direction else width // 4
        frames[k, :top, max(x - 3, 0):x + 3] = 250
    return frames


def decoded_frame_index(clip_frames, mean, std):
    """Frame indices read back from a normalised clip [C, T, H, W] (lower-half grey level)."""
    c, t, h, w = clip_frames.shape

    def digits(top, bottom):  # the middle of a band, clear of its blurred edges
        band = clip_frames[:, :, h * top // 16:h * bottom // 16, :].double()
        values = (band * std + mean).mean(dim=(0, 2, 3)) * 255.0
        return [int(round((v.item() - 16) / 8)) for v in values]

    return [DIGIT * high + low for high, low in zip(digits(9, 11), digits(13, 15))]


def bar_positions(clip_frames):
    """The bar's horizontal position in each frame of a clip [C, T, H, W], as a fraction of
    the width."""
    c, t, h, w = clip_frames.shape
    upper = clip_frames[:, :, : h // 3, :].double().mean(dim=(0, 2))  # [T, W]
    weights = (upper - upper.min(dim=1, keepdim=True).values) ** 4
    return (weights * torch.arange(w)).sum(dim=1) / weights.sum(dim=1) / w


def bar_motion(clip_frames):
    """Sign of the bar's horizontal motion from the first to the last frame of a clip."""
    xs = bar_positions(clip_frames)
    delta = (xs[-1] - xs[0]).item()
    return 0 if abs(delta) < 0.05 else (1 if delta > 0 else -1)


def write_video(path, frames, codec, fps=12, options=None):
    """Encodes uint8 frames [T, H, W, 3] (the sample releases' writer, at 12 fps by default)."""
    sample_releases.write_video(path, frames, codec, fps, options)


def split_videos(classes, per_class, start):
    """[(id, class name)] with ``per_class`` videos of each class, ids from ``start``."""
    videos, vid = [], start
    for _ in range(per_class):
        for name in classes:
            videos.append((str(vid), name))
            vid += 1
    return videos


def make_ssv1(root, classes=SS_CLASSES, per_class=(2, 1, 1), num_frames=(20, 23, 17)):
    """Something-Something v1 as released: frame folders, labels CSV, ``;`` split lists."""
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "something-something-v1-labels.csv"), "w") as f:
        f.write("\n".join(classes) + "\n")
    start = 1
    for split, count in zip(("train", "validation", "test"), per_class):
        videos = split_videos(classes, count, start)
        start += len(videos)
        lines = [f"{vid};{name}" if split != "test" else vid for vid, name in videos]
        with open(os.path.join(root, f"something-something-v1-{split}.csv"), "w") as f:
            f.write("\n".join(lines) + "\n")
        for i, (vid, name) in enumerate(videos):
            folder = os.path.join(root, "20bn-something-something-v1", vid)
            os.makedirs(folder, exist_ok=True)
            frames = frames_of(num_frames[i % len(num_frames)], direction_of(name), width=88)
            for k, frame in enumerate(frames):
                Image.fromarray(frame).save(os.path.join(folder, f"{k + 1:05d}.jpg"), quality=95)
    return root


def make_ssv2(root, classes=SS_CLASSES, per_class=(2, 1, 1), num_frames=(20, 23, 17)):
    """Something-Something v2 as released: VP9 .webm videos, labels JSON, split JSON lists."""
    os.makedirs(os.path.join(root, "20bn-something-something-v2"), exist_ok=True)
    with open(os.path.join(root, "something-something-v2-labels.json"), "w") as f:
        json.dump({name: str(i) for i, name in enumerate(classes)}, f)
    start = 1
    for split, count in zip(("train", "validation", "test"), per_class):
        videos = split_videos(classes, count, start)
        start += len(videos)
        items = []
        for i, (vid, name) in enumerate(videos):
            template = name.replace("something", "[something]")
            caption = name.replace("something", "a cup")
            items.append(
                {"id": vid} if split == "test"
                else {"id": vid, "label": caption, "template": template, "placeholders": ["a cup"]}
            )
            frames = frames_of(num_frames[i % len(num_frames)], direction_of(name))
            write_video(
                os.path.join(root, "20bn-something-something-v2", f"{vid}.webm"), frames,
                "libvpx-vp9",
            )
        with open(os.path.join(root, f"something-something-v2-{split}.json"), "w") as f:
            json.dump(items, f)
    return root


def make_kinetics(root, num_classes=6, per_class=1, num_frames=40,
                  containers=(("mp4", "mpeg4"), ("mkv", "mpeg4"), ("webm", "libvpx-vp9"))):
    """Kinetics layout: video files in three containers, ``train/val/test.csv`` of
    ``path label`` with paths relative to the folder."""
    os.makedirs(os.path.join(root, "videos"), exist_ok=True)
    rows, n = [], 0
    for label in range(num_classes):
        for _ in range(per_class):
            ext, codec = containers[n % len(containers)]
            name = f"videos/clip{n:03d}.{ext}"
            write_video(os.path.join(root, name), frames_of(num_frames, 0), codec, fps=30)
            rows.append(f"{name} {label}")
            n += 1
    for split in ("train", "val", "test"):
        with open(os.path.join(root, f"{split}.csv"), "w") as f:
            f.write("\n".join(rows) + "\n")
    return root
