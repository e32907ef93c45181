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
    from PIL import Image  # (b) heavy: Pillow loads when a frame folder is read, not on import

    files = frame_files(folder)
    index = choose(len(files)).tolist()
    frames = []
    for i in index:
        try:
            with Image.open(files[i]) as image:
                frames.append(np.asarray(image if image.mode == "RGB" else image.convert("RGB")))
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
    keep (frame ``i``: the ``i``-th in presentation order, as a decoder outputs them). The frame
    count is the header's where it gives one, else the number of the stream's packets (read
    without decoding: a packet is a frame in MP4, Matroska and WebM, VP9's hidden frames
    travelling inside superframes); where the header states more frames than the stream holds,
    the indices are chosen again from the true count. Decoding starts at the key frame at or
    before the first frame needed (``decode_frames``) and stops at the last one; only the kept
    frames are converted to RGB. Returns (uint8 tensor [T, H, W, 3], num_frames, fps).
    """
    import av  # (b) heavy: PyAV loads when a video is read, not on importing the package

    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise UnreadableVideo(f"video {path} has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            fps = video_fps(stream)
            packets = [p for p in container.demux(stream) if p.size]
            if not packets:
                raise UnreadableVideo(f"video {path} has no decodable frames")
            count = _frame_count(stream)
            index = choose(count, fps).tolist() if count else None
            if index is None or max(index) >= len(packets):  # no count, or the header overstated it
                count = len(packets)
                index = choose(count, fps).tolist()
            frames = decode_frames(stream, packets, index, path)
    except av.error.FFmpegError as err:
        raise UnreadableVideo(f"video {path} cannot be decoded: {err}") from err
    except OSError as err:
        raise UnreadableVideo(f"video {path} cannot be read: {err}") from err
    return torch.from_numpy(np.stack([frames[i] for i in index])), count, fps


def decode_frames(stream, packets, index, path):
    """
    {i: uint8 RGB array [H, W, 3]} of the frames ``index`` (positions in presentation order) of
    the stream whose packets, in decoding order, are ``packets``.

    Where every packet has its own timestamp, frame ``i`` is the one whose timestamp is the
    ``i``-th smallest, and decoding starts at the last key frame, in decoding order, at or before
    the first frame needed whose timestamp is not after it: that frame and every later one
    depend on no packet before the key frame, so they decode to the same pixels as from the
    start. Otherwise decoding starts at the first packet and frame ``i`` is the ``i``-th the
    decoder outputs. Either way it stops once the last frame needed is out.
    """
    timeline = [p.pts for p in packets]
    by_pts = None not in timeline and len(set(timeline)) == len(timeline)
    start, position = 0, None
    if by_pts:
        order = sorted(timeline)
        position = {pts: i for i, pts in enumerate(order)}
        first = order[min(index)]
        first_at = timeline.index(first)
        start = max(
            (k for k in range(first_at + 1) if packets[k].is_keyframe and timeline[k] <= first),
            default=0,
        )
    wanted, last = set(index), max(index)
    kept, output = {}, -1
    for packet in packets[start:] + [None]:  # None: flush the frames the decoder holds
        for frame in stream.codec_context.decode(packet):
            output += 1
            i = position.get(frame.pts) if by_pts else output
            if i in wanted:
                kept[i] = frame.to_ndarray(format="rgb24")
            if i is not None and i >= last:
                break
        else:
            continue
        break
    missing = sorted(wanted - set(kept))
    if missing:
        raise UnreadableVideo(
            f"video {path}: frames {missing[:5]} of {len(packets)} could not be decoded"
        )
    return kept


def probe_video(path):
    """Opens a video file or frame folder far enough to know it is readable; raises
    UnreadableVideo naming it otherwise."""
    if os.path.isdir(path):
        files = frame_files(path)
        read_frame_folder(path, lambda n: torch.tensor([0]))
        return len(files)
    _, count, _ = read_video_file(path, lambda n, fps: torch.tensor([0]))
    return count
