"""
Which frames of a video make a clip: TSN's segment sampling (the paper's 2D recipe) and
PySlowFast's dense sampling (its SlowFast recipe).

Both return frame indices into a video of ``num_video_frames`` decoded frames, so that the
decoder reads only the frames a clip needs.
"""

import random

import torch


def segment_indices(num_video_frames, num_segments, view=-1, num_views=1):
    """
    TSN segment sampling (Wang et al., ECCV 2016; TSM's test protocol): the video's frames are
    split into ``num_segments`` equal segments, segment ``i`` covering
    ``[i * N / S, (i + 1) * N / S)``, and one frame is taken from each.

    - ``view == -1`` (training): a uniformly random frame of each segment.
    - ``view == j`` of ``num_views`` (test): the frame at offset ``(j + 1/2) / num_views`` of a
      segment in every segment. One view takes the segment centres; two views take offsets 1/4
      and 3/4, the second half a segment after the first (the paper's 2-clip GTA_En test).

    A video shorter than ``num_segments`` frames repeats frames. Returns a LongTensor of
    ``num_segments`` indices in ``[0, num_video_frames)``.
    """
    if num_video_frames < 1:
        raise ValueError(f"a clip needs a video of at least one frame, got {num_video_frames}")
    segment = num_video_frames / num_segments
    if view == -1:
        offsets = torch.rand(num_segments, dtype=torch.float64)
    else:
        if not 0 <= view < num_views:
            raise ValueError(f"view {view} is not in [0, num_views={num_views})")
        offsets = torch.full((num_segments,), (view + 0.5) / num_views, dtype=torch.float64)
    index = torch.floor((torch.arange(num_segments, dtype=torch.float64) + offsets) * segment)
    return index.long().clamp(0, num_video_frames - 1)


def dense_indices(
    num_video_frames, num_frames, sampling_rate, video_fps, target_fps, clip_idx=-1, num_clips=1
):
    """
    PySlowFast's dense sampling (``decoder.get_start_end_idx`` + ``decoder.temporal_sampling``):
    a clip covering ``num_frames * sampling_rate`` frames at ``target_fps``, i.e.
    ``num_frames * sampling_rate * video_fps / target_fps`` frames of this video, starting at a
    random point (``clip_idx == -1``, training) or at the ``clip_idx``-th of ``num_clips``
    uniformly spaced starts (test), from which ``num_frames`` frames are taken at equal
    intervals. Indices past the end repeat the last frame, as in PySlowFast.
    """
    clip_size = sampling_rate * num_frames / target_fps * video_fps
    delta = max(num_video_frames - clip_size, 0)
    if clip_idx == -1:
        start = random.uniform(0, delta)
    else:
        start = delta * clip_idx / num_clips
    index = torch.linspace(start, start + clip_size - 1, num_frames)
    return index.clamp(0, num_video_frames - 1).long()


def test_view(index, num_spatial_crops):
    """(temporal view, spatial crop) of the ``index``-th view of a video, PySlowFast's order:
    every crop of the first temporal view, then of the second, and so on."""
    return index // num_spatial_crops, index % num_spatial_crops
