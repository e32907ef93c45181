"""
Which frames of a video make a clip (``DATA.TEMPORAL_SAMPLING``), each rule written after the
reference code it follows:

- ``"tsn"``: TSN segments as TSM's ``ops/dataset.py`` samples them (the paper's 2D recipe);
- ``"ssv2"``: PySlowFast's ``slowfast/datasets/ssv2.py`` ``get_seq_frames`` (its SlowFast recipe
  on Something-Something, which the paper follows for its 3D backbone);
- ``"dense"``: PySlowFast's ``decoder.get_start_end_idx`` + ``decoder.temporal_sampling`` (its
  Kinetics recipe);

and ``strided_indices``, the generated synthetic set's own rule (a window of frames taken every
``DATA.SAMPLING_RATE`` frames), which that dataset follows whatever the key says.

Every rule returns frame indices into a video of ``num_video_frames`` decoded frames, so that
the decoder reads only the frames a clip needs: ``view == -1`` is a random training clip,
``view == j`` of ``num_views`` the j-th test view.
"""

import random

import numpy as np
import torch

TEMPORAL_SAMPLINGS = ("dense", "tsn", "ssv2")


def _check_view(num_video_frames, view, num_views):
    if num_video_frames < 1:
        raise ValueError(f"a clip needs a video of at least one frame, got {num_video_frames}")
    if view != -1 and not 0 <= view < num_views:
        raise ValueError(f"view {view} is not in [0, num_views={num_views})")


def segment_indices(num_video_frames, num_segments, view=-1, num_views=1):
    """
    TSN segment sampling as TSM's ``ops/dataset.py`` (``TSNDataSet``, ``new_length`` 1):

    - training (``view == -1``), ``_sample_indices``: ``d = N // S``; if ``d > 0`` frame
      ``d * x + randint(d)`` of segment x; else, if ``N > S``, S sorted random frames; else
      frame 0 S times;
    - test, ``_get_test_indices`` with ``tick = N / S``: view 0 takes the segment centres
      ``int(tick / 2 + tick * x)``; with two views (``twice_sample``, the test of the paper's
      GTA_En) view 1 takes the segment starts ``int(tick * x)``. More views (no TSM
      counterpart) continue at equal steps: view j at ``int(tick * o_j + tick * x)`` with
      ``o_j = (1/2 + j / num_views) mod 1``, which gives TSM's two views for ``num_views = 2``.

    Returns a LongTensor of ``num_segments`` indices in ``[0, num_video_frames)``.
    """
    _check_view(num_video_frames, view, num_views)
    x = torch.arange(num_segments, dtype=torch.float64)
    if view == -1:
        duration = num_video_frames // num_segments
        if duration > 0:
            return x.long() * duration + torch.randint(duration, (num_segments,))
        if num_video_frames > num_segments:
            return torch.randint(num_video_frames, (num_segments,)).sort().values
        return torch.zeros(num_segments, dtype=torch.long)
    tick = num_video_frames / float(num_segments)
    offset = (0.5 + view / num_views) % 1.0
    return (tick * offset + tick * x).long().clamp(0, num_video_frames - 1)


def seq_frame_indices(num_video_frames, num_frames, view=-1, num_views=1):
    """
    PySlowFast's Something-Something sampling (``slowfast/datasets/ssv2.py``,
    ``Ssv2.get_seq_frames``): the whole video in ``num_frames`` segments,
    ``seg = (N - 1) / num_frames``, segment i spanning ``[round(seg * i), round(seg * (i + 1))]``
    (numpy's rounding, half to even); training takes a random frame of it (both ends
    included), a one-view test ``(start + end) // 2``. PySlowFast gives every test view that
    same clip; with ``num_views > 1``, view v takes ``start + int(seg / (views + 1) * (v + 1))``
    (the multi-view form of PySlowFast-derived SSv2 loaders), so the views differ.
    """
    _check_view(num_video_frames, view, num_views)
    seg = float(num_video_frames - 1) / num_frames
    index = []
    for i in range(num_frames):
        start, end = int(np.round(seg * i)), int(np.round(seg * (i + 1)))
        if view == -1:
            index.append(random.randint(start, end))
        elif num_views == 1:
            index.append((start + end) // 2)
        else:
            index.append(start + int(seg / (num_views + 1) * (view + 1)))
    return torch.tensor(index, dtype=torch.long)


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


def strided_indices(num_video_frames, num_frames, sampling_rate, view=-1, num_views=1):
    """
    ``num_frames`` frames taken every ``sampling_rate`` frames, from a start drawn with
    ``np.random.randint`` among every start that fits (``view == -1``, training), else the
    ``view``-th of ``num_views`` starts spaced evenly from the first start to the last (one
    view: the middle start, floored); indices past the end repeat the last frame. The
    synthetic dataset's sampling (``registration.Synthetic``).
    """
    span = num_frames * sampling_rate
    room = max(num_video_frames - span, 0)
    if view == -1:
        start = np.random.randint(0, room + 1)
    else:
        start = room * view // max(num_views - 1, 1) if num_views > 1 else room // 2
    index = torch.arange(num_frames) * sampling_rate + start
    return index.clamp(max=num_video_frames - 1)


def check_temporal_sampling(cfg):
    """Refuses a ``DATA.TEMPORAL_SAMPLING`` that is not one of ``TEMPORAL_SAMPLINGS``."""
    if cfg.DATA.TEMPORAL_SAMPLING not in TEMPORAL_SAMPLINGS:
        raise ValueError(
            f"DATA.TEMPORAL_SAMPLING={cfg.DATA.TEMPORAL_SAMPLING!r} is not one of "
            f"{TEMPORAL_SAMPLINGS}"
        )


def clip_indices(cfg, num_video_frames, video_fps, view=-1, num_views=1):
    """The frame indices of view ``view`` of ``num_views`` (-1: a random training clip) of a
    video of ``num_video_frames`` frames at ``video_fps``, by ``DATA.TEMPORAL_SAMPLING``."""
    check_temporal_sampling(cfg)
    rule = cfg.DATA.TEMPORAL_SAMPLING
    if rule == "tsn":
        return segment_indices(num_video_frames, cfg.DATA.NUM_FRAMES, view, num_views)
    if rule == "ssv2":
        return seq_frame_indices(num_video_frames, cfg.DATA.NUM_FRAMES, view, num_views)
    return dense_indices(
        num_video_frames, cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, video_fps,
        cfg.DATA.TARGET_FPS, view, num_views,
    )


def test_view(index, num_spatial_crops):
    """(temporal view, spatial crop) of the ``index``-th view of a video, PySlowFast's order:
    every crop of the first temporal view, then of the second, and so on."""
    return index // num_spatial_crops, index % num_spatial_crops
