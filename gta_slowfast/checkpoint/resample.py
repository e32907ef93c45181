"""
Clip-length transfer of GTA checkpoints: the learned T x T temporal attention matrices (Eq. 6)
resampled to another clip length T'.

Each matrix M maps the T input frames of a clip to its T output frames. For a clip of T'
frames, M' = R(T -> T') M R(T' -> T): the new clip is resampled onto the old time grid, M is
applied, and the result is resampled back (frames are segment centres, as in TSN sampling).
R is linear interpolation when it lengthens and overlap-weighted averaging when it shortens;
the rows of both sum to one, so each row of M' keeps the total weight of the matrix's row at
that time (the rows' totals linearly interpolated), and T' = T gives M back exactly. This is
how vision transformers carry position embeddings to another resolution, applied to a map
whose two axes are both time.

``resample_state`` is the one transfer of a checkpoint's matrices: the loader
(``GTA.RESAMPLE_CHECKPOINT``, to the model's T) and ``convert resample`` (to the T of another
DATA.NUM_FRAMES, ``resampled_frames``) both call it.
"""

from collections import OrderedDict

import torch

from .io import CheckpointError


def resampling_matrix(src, dst, dtype=torch.float64):
    """[dst, src] matrix taking a signal on ``src`` frame centres to ``dst`` frame centres;
    every row sums to one. Linear interpolation for dst >= src, area averaging for dst < src."""
    if dst == src:
        return torch.eye(src, dtype=dtype)
    if dst > src:
        centre = (torch.arange(dst, dtype=dtype) + 0.5) * src / dst - 0.5
        centre = centre.clamp(0, src - 1)
        low = centre.floor().long().clamp(max=src - 1)
        high = (low + 1).clamp(max=src - 1)
        frac = centre - low.to(dtype)
        out = torch.zeros(dst, src, dtype=dtype)
        out[torch.arange(dst), low] += 1 - frac
        out[torch.arange(dst), high] += frac
        return out
    edges_dst = torch.arange(dst + 1, dtype=dtype) * src / dst  # in units of source frames
    starts, ends = torch.arange(src, dtype=dtype), torch.arange(1, src + 1, dtype=dtype)
    overlap = (torch.minimum(edges_dst[1:, None], ends[None]) -
               torch.maximum(edges_dst[:-1, None], starts[None])).clamp_min(0)
    return overlap / overlap.sum(dim=1, keepdim=True)


def resample_temporal_attention(weight, num_frames):
    """``weight`` [..., T, T] (GTA's matrices, e.g. [G, G, T, T]) resampled to
    [..., num_frames, num_frames] as described in the module docstring."""
    t = weight.shape[-1]
    if weight.shape[-2] != t:
        raise ValueError(f"expected square T x T matrices, got shape {list(weight.shape)}")
    up = resampling_matrix(t, num_frames).to(weight.dtype)      # [T', T]
    down = resampling_matrix(num_frames, t).to(weight.dtype)    # [T, T']
    return up @ weight @ down


def resampled_frames(theirs, num_frames, from_frames):
    """The T of a matrix learned at T = ``theirs`` in a model of ``from_frames`` input frames,
    in a model of ``num_frames`` (every stage's T scales with the clip length)."""
    scaled = theirs * num_frames / from_frames
    if scaled != int(scaled) or scaled < 1:
        raise CheckpointError(
            f"a T x T matrix over {theirs} frames of a {from_frames}-frame model has no whole "
            f"length in a {num_frames}-frame model ({scaled:g})"
        )
    return int(scaled)


def resample_state(state, lengths):
    """
    A checkpoint's GTA matrices resampled to other clip lengths (``resample_temporal_attention``).

    Args:
        state (dict): tensor name -> tensor, GTA's matrices [G*G, T, T] among them.
        lengths (dict): name -> T', the matrices to resample and their new length.
    Returns:
        tuple: (``state`` with those matrices [G*G, T', T'] and every other tensor as it was,
        in its order; {name: (old shape, new shape)} of the matrices resampled).
    """
    resampled, changed = OrderedDict(), {}
    for name, value in state.items():
        if name in lengths:
            resampled[name] = resample_temporal_attention(value, lengths[name])
            changed[name] = (tuple(value.shape), tuple(resampled[name].shape))
        else:
            resampled[name] = value
    return resampled, {name: changed[name] for name in lengths if name in changed}
