"""
A generated, order-sensitive video dataset: the embedded default that needs no download.

Every class has a twin made of the same clips played backwards ("sliding in" / "sliding out",
"growing" / "shrinking", "appearing" / "disappearing", the way Something-Something pairs
"covering" with "uncovering"). A model that is blind to frame order gives a clip and its
reversal the same score, so it cannot tell the twins apart. Every split holds each clip in both
directions, one under each twin's label, so that cap is exact, not only expected: an order-blind
model is right on at most one of the two, and is capped at 50 % top-1 whatever it learns about
appearance. The videos are deterministic from ``SYNTHETIC.SEED``, written as intra-only MPEG-4
files at a fixed quantiser (every frame coded alone, so a reversed video decodes to exactly the
reversed frames and no coding artefact tells the directions apart), with a ``{split}.csv`` per
split (``path label``, Kinetics layout), and read back through the clip pipeline the release
datasets share (``registration.Synthetic``).
"""

import contextlib
import fcntl
import json
import logging
import os
import shutil
import tempfile

import numpy as np

CLASS_NAMES = (
    "sliding in",
    "sliding out",
    "growing",
    "shrinking",
    "appearing",
    "disappearing",
)
SPLITS = ("train", "val", "test")
MANIFEST = "manifest.json"
# Recorded in the manifest: a dataset written by an earlier layout is regenerated.
FORMAT = "paired-intra-q2"

logger = logging.getLogger(__name__)


def _background(rng, size):
    """A plain background of a random colour."""
    return np.ones((size, size, 3)) * rng.uniform(40, 200, size=3)


def _square(frame, cy, cx, half, colour, alpha=1.0):
    size = frame.shape[0]
    y0, y1 = int(max(cy - half, 0)), int(min(cy + half, size))
    x0, x1 = int(max(cx - half, 0)), int(min(cx + half, size))
    frame[y0:y1, x0:x1] = (1 - alpha) * frame[y0:y1, x0:x1] + alpha * colour


def forward_clip(kind, rng, size, num_frames):
    """
    The frames [T, H, W, 3] (uint8) of one clip of motion ``kind`` (0 sliding in: a square
    enters from above the frame and stops inside it, 1 growing, 2 appearing) played forward; its
    twin class is the same clip reversed. In each forward clip how much of the frame the square
    covers rises over time: the direction of a clip is the sign of that rise, which no frame
    alone shows.
    """
    background = _background(rng, size)
    colour = rng.uniform(0, 255, size=3)
    steps = np.linspace(0.0, 1.0, num_frames)
    half = rng.uniform(0.12, 0.18) * size
    cx = rng.uniform(0.3, 0.7) * size
    cy = rng.uniform(0.3, 0.7) * size
    frames = []
    for s in steps:
        frame = background.copy()
        if kind == 0:
            _square(frame, -half + s * (cy + half), cx, half, colour)
        elif kind == 1:
            _square(frame, cy, cx, (0.04 + 0.20 * s) * size, colour)
        else:
            _square(frame, cy, cx, 1.5 * half, colour, alpha=s)
        frame += rng.normal(0.0, 4.0, size=frame.shape)  # sensor noise, fresh every frame
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return np.stack(frames)


def make_clip(label, seed, size, num_frames):
    """Frames of a clip of class ``label``: odd labels are their even twin reversed."""
    rng = np.random.RandomState(seed)
    frames = forward_clip(label // 2, rng, size, num_frames)
    return frames[::-1] if label % 2 else frames


def write_video(path, frames, fps=30):
    """
    Encodes frames [T, H, W, 3] (uint8 RGB) as an MPEG-4 file with PyAV: every frame an
    intra frame (``g`` 1) at the quantiser pinned to 2 (``qmin`` = ``qmax``: no rate control), so
    how a frame is coded does not depend on its place in the video (a reversed video decodes
    to the reversed frames, bit for bit).
    """
    import av  # (b) heavy: PyAV loads when a video is written, not on importing the package

    with av.open(path, mode="w") as container:
        stream = container.add_stream(
            "mpeg4", rate=fps, options={"g": "1", "qmin": "2", "qmax": "2"}
        )
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.thread_count = 1
        for array in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _manifest_matches(root, params):
    """True if ``root`` holds a complete dataset of ``params`` (its manifest is written last)."""
    manifest = os.path.join(root, MANIFEST)
    if not os.path.isfile(manifest):
        return False
    with open(manifest) as f:
        return json.load(f) == params


@contextlib.contextmanager
def _generation_lock(root):
    """
    An exclusive ``fcntl.flock`` on ``<root>.lock`` beside ``root``, so that of all the
    processes that build the dataset at once (DDP ranks, loader workers) one generates and the
    others wait. The kernel releases the lock if its holder dies.
    """
    parent = os.path.dirname(os.path.abspath(root))
    os.makedirs(parent, exist_ok=True)
    path = os.path.abspath(root) + ".lock"
    with open(path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("Waiting for another process to finish the synthetic dataset at %s", root)
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def generate(root, seed, num_train, num_test, size, num_frames):
    """
    Writes the dataset under ``root`` (``videos/``, ``train.csv``, ``val.csv``, ``test.csv`` and
    a manifest of the parameters) unless a dataset with the same parameters is already there.
    Videos take the classes in turn; in each run of six, the two twins of a pair are one clip
    played both ways (``clip_seed``). Train and test clips come from disjoint seeds;
    ``val.csv`` equals ``test.csv``. Returns ``root``.

    Safe to call from many processes at once: one generates, under ``_generation_lock``, into a
    staging folder that is renamed to ``root`` once complete (manifest last); the others wait
    for the lock and then find the complete manifest. A failure is raised, never taken for a
    finished dataset.
    """
    params = dict(
        seed=seed, num_train=num_train, num_test=num_test, size=size, num_frames=num_frames,
        classes=list(CLASS_NAMES), format=FORMAT,
    )
    if _manifest_matches(root, params):
        return root
    with _generation_lock(root):
        if _manifest_matches(root, params):  # generated while this process waited
            return root
        if os.path.isdir(root):
            logger.info("Synthetic dataset at %s has other parameters; regenerating it", root)
        parent = os.path.dirname(os.path.abspath(root))
        staging = tempfile.mkdtemp(prefix=".synthetic-", dir=parent)
        try:
            _write(staging, root, params)
            if os.path.isdir(root):
                shutil.rmtree(root)
            os.replace(staging, root)
        finally:
            # what a failure left; nothing after the rename
            shutil.rmtree(staging, ignore_errors=True)
    return root


def clip_seed(seed, split, index):
    """Seed of the clip of video ``index`` of ``split``: videos ``index`` and ``index ^ 1`` (the
    two twins of a pair in the same run of six) share it, so one is the other reversed."""
    pair = (index // len(CLASS_NAMES)) * (len(CLASS_NAMES) // 2) + (index % len(CLASS_NAMES)) // 2
    return seed * 1_000_003 + (0 if split == "train" else 500_000) + pair


def _write(staging, root, params):
    """Writes the dataset of ``params`` into ``staging``, its CSV files naming its videos under
    ``root``; the manifest last."""
    seed, num_train, num_test = params["seed"], params["num_train"], params["num_test"]
    size, num_frames = params["size"], params["num_frames"]
    counts = {"train": num_train, "test": num_test}
    logger.info("Generating the synthetic dataset (%s) in %s", params, root)
    for split, count in counts.items():
        rows = []
        for index in range(count):
            label = index % len(CLASS_NAMES)
            name = f"{split}_{index:05d}.mp4"
            os.makedirs(os.path.join(staging, "videos"), exist_ok=True)
            write_video(
                os.path.join(staging, "videos", name),
                make_clip(label, clip_seed(seed, split, index), size, num_frames),
            )
            rows.append(f"{os.path.join(os.path.abspath(root), 'videos', name)} {label}")
        with open(os.path.join(staging, f"{split}.csv"), "w") as f:
            f.write("\n".join(rows) + "\n")
    shutil.copy(os.path.join(staging, "test.csv"), os.path.join(staging, "val.csv"))
    with open(os.path.join(staging, MANIFEST), "w") as f:
        json.dump(params, f, indent=2)
