"""
Small releases of realistic size in the official layouts, with generated content, for timing the
input pipeline (``python -m gta_slowfast.tools.benchmark --data``): the frame sizes, frame rates,
lengths and codecs of the real datasets, a few videos each.

- ``gta_ssv1``: JPEG frame folders, 100 px high (176 x 100), 36 frames (Something-Something v1);
- ``gta_ssv2``: VP9 ``.webm``, 240 px high (426 x 240), 45 frames at 12 fps (Something-Something
  v2);
- ``gta_kinetics``: H.264 ``.mp4``, 10 s at 30 fps, short side 320 (568 x 320), the encoder's
  default key-frame interval (Kinetics as commonly re-encoded with ffmpeg).

Each frame is a textured background panning slowly with two moving blobs and light noise, so
that the codecs work about as hard as on camera footage (a flat picture would decode far faster).
A release is written once into its folder and reused; ``COMPLETE`` marks a finished one.
"""

import json
import os

import av
import cv2
import numpy as np
from PIL import Image

CLASSES = ["Pushing something from left to right", "Putting something on a surface"]
COMPLETE = "COMPLETE"
# dataset: (videos, frames, height, width, fps)
SIZES = {
    "gta_ssv1": (8, 36, 100, 176, 12),
    "gta_ssv2": (6, 45, 240, 426, 12),
    "gta_kinetics": (4, 300, 320, 568, 30),
}


def camera_frames(num_frames, height, width, seed):
    """uint8 frames [T, H, W, 3]: a smooth random texture panning one pixel a frame, two blobs
    crossing it, and noise of about two grey levels."""
    rng = np.random.default_rng(seed)
    pad = num_frames + 1
    coarse = rng.uniform(0, 255, (height // 8 + 2, (width + pad) // 8 + 2, 3)).astype(np.float32)
    texture = cv2.resize(coarse, (coarse.shape[1] * 8, coarse.shape[0] * 8),
                         interpolation=cv2.INTER_CUBIC)
    texture += rng.normal(0, 12, texture.shape).astype(np.float32)  # fine detail
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = np.empty((num_frames, height, width, 3), dtype=np.uint8)
    for t in range(num_frames):
        frame = texture[:height, t:t + width].copy()
        for k, colour in enumerate(((250, 40, 40), (40, 60, 240))):
            cx = width * (0.2 + 0.6 * ((t / max(num_frames - 1, 1) + 0.5 * k) % 1.0))
            cy = height * (0.35 + 0.3 * k)
            blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (0.08 * height) ** 2))
            frame += blob[..., None] * (np.array(colour, np.float32) - frame)
        frame += rng.normal(0, 2, frame.shape).astype(np.float32)
        frames[t] = np.clip(frame, 0, 255)
    return frames


def write_video(path, frames, codec, fps, options=None):
    """Encodes uint8 frames [T, H, W, 3] with PyAV (yuv420p)."""
    with av.open(path, mode="w") as container:
        stream = container.add_stream(codec, rate=fps, options=options or {})
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _write_ssv1(root, videos):
    with open(os.path.join(root, "something-something-v1-labels.csv"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")
    lines = []
    for vid, name, frames in videos:
        folder = os.path.join(root, "20bn-something-something-v1", vid)
        os.makedirs(folder, exist_ok=True)
        for k, frame in enumerate(frames):
            Image.fromarray(frame).save(os.path.join(folder, f"{k + 1:05d}.jpg"), quality=90)
        lines.append(f"{vid};{name}")
    for split in ("train", "validation"):
        with open(os.path.join(root, f"something-something-v1-{split}.csv"), "w") as f:
            f.write("\n".join(lines) + "\n")
    with open(os.path.join(root, "something-something-v1-test.csv"), "w") as f:
        f.write("\n".join(vid for vid, _, _ in videos) + "\n")


def _write_ssv2(root, videos, fps):
    folder = os.path.join(root, "20bn-something-something-v2")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(root, "something-something-v2-labels.json"), "w") as f:
        json.dump({name: str(i) for i, name in enumerate(CLASSES)}, f)
    items = []
    for vid, name, frames in videos:
        write_video(os.path.join(folder, f"{vid}.webm"), frames, "libvpx-vp9", fps,
                    {"deadline": "good", "cpu-used": "4", "crf": "32", "b": "0"})
        template = name.replace("something", "[something]")
        items.append({"id": vid, "label": name, "template": template, "placeholders": []})
    for split in ("train", "validation"):
        with open(os.path.join(root, f"something-something-v2-{split}.json"), "w") as f:
            json.dump(items, f)
    with open(os.path.join(root, "something-something-v2-test.json"), "w") as f:
        json.dump([{"id": vid} for vid, _, _ in videos], f)


def _write_kinetics(root, videos, fps):
    os.makedirs(os.path.join(root, "videos"), exist_ok=True)
    rows = []
    for vid, name, frames in videos:
        path = f"videos/{vid}.mp4"
        write_video(os.path.join(root, path), frames, "libx264", fps)
        rows.append(f"{path} {CLASSES.index(name)}")
    for split in ("train", "val", "test"):
        with open(os.path.join(root, f"{split}.csv"), "w") as f:
            f.write("\n".join(rows) + "\n")


def write_release(dataset, root):
    """Writes the sample release of ``dataset`` (a key of ``SIZES``) into ``root`` unless a
    complete one is there; returns (root, config overrides that point a config at it)."""
    if dataset not in SIZES:
        raise ValueError(f"no sample release for dataset {dataset!r}; one of {sorted(SIZES)}")
    num_videos, num_frames, height, width, fps = SIZES[dataset]
    opts = ["DATA.PATH_TO_DATA_DIR", root, "MODEL.NUM_CLASSES", str(len(CLASSES))]
    if dataset == "gta_kinetics":
        opts += ["DATA.PATH_PREFIX", root]
    if os.path.isfile(os.path.join(root, COMPLETE)):
        return root, opts
    os.makedirs(root, exist_ok=True)
    videos = [
        (str(1000 + i), CLASSES[i % len(CLASSES)], camera_frames(num_frames, height, width, i))
        for i in range(num_videos)
    ]
    if dataset == "gta_ssv1":
        _write_ssv1(root, videos)
    elif dataset == "gta_ssv2":
        _write_ssv2(root, videos, fps)
    else:
        _write_kinetics(root, videos, fps)
    with open(os.path.join(root, COMPLETE), "w") as f:
        f.write(f"{num_videos} videos of {num_frames} frames, {width}x{height} at {fps} fps\n")
    return root, opts
