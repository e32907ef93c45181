"""
Reading the frames of one video, as the releases ship them: a folder of JPEG frames
(Something-Something v1) or a video file decoded with PyAV (Something-Something v2's VP9
``.webm``, Kinetics' ``.mp4`` / ``.mkv`` / ``.webm``), whether or not the container stores a
frame count or a duration.

Both readers ask the caller which frames to keep once they know how many the video has, and
return only those, as uint8 RGB ``[T, H, W, 3]``.
"""

import os

import numpy as np
import torch

FRAME_EXTENSIONS = (".jpg", ".jpeg", ".png")


class UnreadableVideo(RuntimeError):
    """A video (file or frame folder) that cannot be read; the message names its path."""


def frame_files(folder):
    """The image files of a frame folder, in frame order (names sort as frame numbers)."""
    try:
        names = os.listdir(folder)
    except OSError as err:
        raise UnreadableVideo(f"frame folder {folder} cannot be listed: {err}") from err
    files = sorted(n for n in names if n.lower().endswith(FRAME_EXTENSIONS))
    if not files:
        raise UnreadableVideo(f"frame folder {folder} holds no {'/'.join(FRAME_EXTENSIONS)} frames")
    return [os.path.join(folder, n) for n in files]


def read_frame_folder(folder, choose):
    """
    Frames of a folder of images: ``choose(num_frames)`` gives the indices to read. Returns
    (uint8 tensor [T, H, W, 3], num_frames); frames of another size than the first are an error.
    """
    from PIL import Image

    files = frame_files(folder)
    index = choose(len(files)).tolist()
    frames = []
    for i in index:
        try:
            with Image.open(files[i]) as image:
                frames.append(np.asarray(image.convert("RGB")))
        except OSError as err:
            raise UnreadableVideo(f"frame {files[i]} cannot be read: {err}") from err
    if len({f.shape for f in frames}) > 1:
        raise UnreadableVideo(
            f"frame folder {folder}: frames of different sizes {sorted({f.shape for f in frames})}"
        )
    return torch.from_numpy(np.stack(frames)), len(files)


def _frame_count(stream):
    """The stream's frame count from its header, or None where the container keeps none."""
    if stream.frames:
        return int(stream.frames)
    rate = stream.average_rate or stream.guessed_rate
    if stream.duration and stream.time_base and rate:
        return int(round(float(stream.duration * stream.time_base) * float(rate)))
    return None


def video_fps(stream):
    """The stream's frame rate from its header (30 where it states none, as PySlowFast)."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 30.0


def read_video_file(path, choose):
    """
    Frames of a video file decoded with PyAV: ``choose(num_frames, fps)`` gives the indices to
    keep. Where the header gives a frame count, decoding stops after the last frame needed;
    where it gives none (``.mkv``, ``.webm``), or a count the stream does not reach, the whole
    video is decoded and the indices are chosen from the true count. Returns
    (uint8 tensor [T, H, W, 3], num_frames, fps).
    """
    import av

    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise UnreadableVideo(f"video {path} has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            fps = video_fps(stream)
            count = _frame_count(stream)
            index = choose(count, fps).tolist() if count else None
            last = max(index) if index else None
            decoded = []
            for frame in container.decode(stream):
                decoded.append(frame)
                if last is not None and len(decoded) > last:
                    break
    except av.error.FFmpegError as err:
        raise UnreadableVideo(f"video {path} cannot be decoded: {err}") from err
    except OSError as err:
        raise UnreadableVideo(f"video {path} cannot be read: {err}") from err
    if not decoded:
        raise UnreadableVideo(f"video {path} has no decodable frames")
    if index is None or max(index) >= len(decoded):  # no count, or the header overstated it
        count = len(decoded)
        index = choose(count, fps).tolist()
    frames = [decoded[i].to_ndarray(format="rgb24") for i in index]
    return torch.from_numpy(np.stack(frames)), count, fps


def probe_video(path):
    """Opens a video file or frame folder far enough to know it is readable; raises
    UnreadableVideo naming it otherwise."""
    if os.path.isdir(path):
        files = frame_files(path)
        read_frame_folder(path, lambda n: torch.tensor([0]))
        return len(files)
    _, count, _ = read_video_file(path, lambda n, fps: torch.tensor([0]))
    return count
