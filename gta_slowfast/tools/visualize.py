"""
Figures of what a GTA or DNL model attends to, for one clip, as PNG files.

    python -m gta_slowfast.tools.visualize --cfg configs/SSv1/R2D_R50_GTA_8x1.yaml \\
        --checkpoint gta.pyth --video clip.webm \\
        --compare-cfg configs/SSv1/R2D_R50_DNL_8x1.yaml --compare-checkpoint dnl.pyth

- matrices: the learned global T x T matrices of every GTA block (``pixel_attention``,
  ``region_attention``, drawn as [G heads, G groups, T, T]) as heatmaps, one PNG per block and branch;
  rows are output frames, columns input frames.
- regions: Region GTA's soft assignment of the clip's pixels to the R regions: the clip's
  frames (top row) and, below each, every pixel in the colour of its most likely region, from
  white at the uniform probability 1/R to the full colour at probability 1 (bottom row); one
  PNG per GTA block (paper Fig. 2.7 / 4).
- temporal: the paper's Fig. 1 argument on this clip, one PNG per block place. Columns: the
  clip, the clip reversed, and the reversed clip's map with both axes flipped (back in the
  clip's frame order); every map is T x T, rows output frames, columns input frames, with the
  frames drawn along both axes. Rows: DNL's temporal self-attention softmax(q_t k_s) (the mean
  over the block's positions, or at ``--position y,x``), which the input computes: for the
  reversed clip it is the clip's map with both axes flipped (permutation equivariance), so the
  flipped-back map equals the clip's and a temporal average cannot tell the two apart; and
  GTA's learned M of each branch (the mean over its G heads and G groups), the same for every
  clip, whose flipped-back map differs from M wherever M is ordered. Below, each GTA branch's
  heads (each the mean over its groups), sorted by their reversal asymmetry
  r = ||M - flip(M)|| / (2 ||M||) (0: the head treats a clip and its reversal alike), since
  heads of opposite structure cancel in the mean.

The clip is ``--video`` (decoded with PyAV, DATA.NUM_FRAMES frames sampled uniformly at the
centres of equal segments, short side scaled to DATA.TRAIN_CROP_SIZE, centre crop, normalised
with DATA.MEAN / DATA.STD as PySlowFast does) or ``--random-clip``. Blocks are read through
forward hooks; the models run on the CPU. KEY VALUE overrides apply to both configs.
"""

import logging
import os
import re
import sys
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .. import cli

logger = logging.getLogger(__name__)

FIGURES = ("matrices", "regions", "temporal")
DPI = 100
PANEL = 1.6  # inches per heatmap or frame
MATRIX_EXTRA = 2.0  # inches of the matrices figure for the colour bar and the title
REGION_EXTRA = 0.8  # inches of the regions figure for the legend
MAP_PANEL = 2.6  # inches per map of the temporal figure, frames along its axes included
HEAD_PANEL = 1.7  # inches of a row of heads of the temporal figure
HEADS_PER_ROW = 8  # the width of a row of heads, in heads, when there are fewer


def figure_size(rows, cols, extra_width=0.0):
    """Figure size in inches of ``rows`` x ``cols`` panels plus room for titles and legends."""
    return PANEL * cols + 1.0 + extra_width, PANEL * rows + 0.9


# ------------------------------------------------------------------------------------------------
# Models and checkpoints


def build(cfg_path, checkpoint, opts):
    """
    (cfg, model in eval mode on the CPU) of the config at ``cfg_path``, with the weights of
    ``checkpoint`` or, without one, those its test loads (TEST.CHECKPOINT_FILE_PATH, else the
    last checkpoint of OUTPUT_DIR, else TRAIN.CHECKPOINT_FILE_PATH). Every tensor of the model
    and of the checkpoint is loaded, through the package's one checkpoint reader
    (``weights_only``); a mismatch names the tensors and the config.
    """
    from .. import build_model, load_config
    from ..checkpoint import CheckpointError, LoadPlan, test_plan
    from ..models import cpu_cfg

    cfg = cpu_cfg(load_config(cfg_path, opts))
    model = build_model(cfg).eval()
    plan = LoadPlan("--checkpoint", checkpoint, "test", cfg=cfg) if checkpoint else test_plan(cfg)
    if plan is None:
        logger.warning(
            "%s: no --checkpoint, no TEST.CHECKPOINT_FILE_PATH and no checkpoint in %s; the "
            "figures show the initial weights", cfg_path, cfg.OUTPUT_DIR,
        )
        return cfg, model
    try:
        plan.load(model)
    except CheckpointError as error:
        raise CheckpointError(f"config {cfg_path}: {error}") from error
    return cfg, model


# ------------------------------------------------------------------------------------------------
# The clip


def _scale_short_side(width, height, size):
    if width <= height:
        return size, max(size, round(height * size / width))
    return max(size, round(width * size / height)), size


def _center_crop(frame, size):
    height, width = frame.shape[:2]
    top, left = (height - size) // 2, (width - size) // 2
    return frame[top : top + size, left : left + size]


def read_video(path, num_frames, crop):
    """``num_frames`` RGB frames of the video at ``path``, uint8 [T, crop, crop, 3]."""
    import av

    if not os.path.isfile(path):
        raise FileNotFoundError(f"video {path!r} does not exist")
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise ValueError(f"video {path!r} has no video stream")
            frames = []
            for frame in container.decode(video=0):
                width, height = _scale_short_side(frame.width, frame.height, crop)
                rgb = frame.reformat(width=width, height=height, format="rgb24").to_ndarray()
                frames.append(_center_crop(rgb, crop))
    except av.FFmpegError as error:
        raise ValueError(f"video {path!r} could not be decoded: {error}") from error
    if not frames:
        raise ValueError(f"video {path!r} has no frames")
    # Uniform sampling: the centre frame of each of num_frames equal segments.
    index = ((np.arange(num_frames) + 0.5) * len(frames) / num_frames).astype(int)
    return np.stack([frames[i] for i in index])


def random_frames(num_frames, crop, seed=0):
    """A synthetic clip: uint8 [T, crop, crop, 3] drawn from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (num_frames, crop, crop, 3), generator=generator).to(
        torch.uint8
    ).numpy()


def model_inputs(cfg, frames):
    """
    The model's input list for uint8 frames [T, H, W, 3], as PySlowFast builds it: frames / 255,
    minus DATA.MEAN, over DATA.STD, as [1, 3, T, H, W]; SlowFast's Slow pathway takes
    T / SLOWFAST.ALPHA evenly spaced frames. Also returns each pathway's frame indices.
    """
    from .. import compat

    clip = torch.from_numpy(frames).float() / 255.0
    clip = (clip - torch.tensor(cfg.DATA.MEAN)) / torch.tensor(cfg.DATA.STD)
    clip = clip.permute(3, 0, 1, 2).unsqueeze(0)  # [1, 3, T, H, W]
    num = clip.shape[2]
    indices = [torch.arange(num)]
    if compat.model_class_name(cfg) == "SlowFast":
        indices = [torch.linspace(0, num - 1, num // cfg.SLOWFAST.ALPHA).long(), indices[0]]
    return [clip[:, :, index] for index in indices], [index.tolist() for index in indices]


# ------------------------------------------------------------------------------------------------
# Reading the blocks


def place_of(name):
    """Block place of a module name: 's4.pathway0_nonlocal5.temporal' -> 's4.pathway0_nonlocal5'."""
    return name[: -len(".temporal")] if name.endswith(".temporal") else name


def pathway_of(name):
    match = re.search(r"pathway(\d+)_", name)
    return int(match.group(1)) if match else 0


def capture_block_inputs(model, inputs, types):
    """Runs ``model`` once; returns {module name: (module, its input)} for modules of ``types``."""
    captured, handles = {}, []
    for name, module in model.named_modules():
        if isinstance(module, types):

            def hook(module, args, name=name):
                captured[name] = (module, args[0].detach())

            handles.append(module.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            model(list(inputs))
    finally:
        for handle in handles:
            handle.remove()
    return captured


def temporal_self_attention(block, x, position=None):
    """
    The T x T temporal attention of a TemporalSelfAttention block (DNL's temporal part) for its
    input ``x`` [1, C, T, H, W], recomputed from its projections: softmax over the input frames
    s of q_t k_s^T * scale (rows: output frame t, columns: input frame s), at the block
    position ``position`` (i, j), or the mean over all H x W positions when it is None.
    """
    if position is not None:
        i, j = position
        x = x[:, :, :, i : i + 1, j : j + 1]
    from ..blocks.temporal import sinusoidal_encoding

    if block.positional_encoding:
        x = x + sinusoidal_encoding(x.shape[2], x.shape[1], x.dtype, x.device)
    g = block.groups
    # [P, G, T, d]: position, head (or group), frame, channel in the head.
    q, k = (
        conv(x)[0].flatten(2).permute(2, 1, 0).reshape(-1, x.shape[2], g, block.dim_inner // g)
        .transpose(1, 2)
        for conv in (block.conv_q, block.conv_k)
    )
    # Every (head k, group g) map softmax(Q_k K_g^T * scale); with G = 1 the one map.
    maps = torch.softmax((q[:, :, None] * block.scale) @ k[:, None].transpose(-1, -2), dim=-1)
    return maps.mean(dim=(0, 1, 2))


def gta_head_matrices(weight):
    """Each head's T x T matrix: the mean of M_g^k over its G groups g. ``weight``:
    [G heads, G groups, T, T] -> [G heads, T, T]."""
    return weight.mean(dim=1)


def gta_mean_matrix(weight):
    """GTA's T x T matrix averaged over the G heads and the G groups of ``weight``
    [G, G, T, T]; G times it is the mixing, averaged over the heads, of a signal that all
    groups carry."""
    return weight.mean(dim=(0, 1))


def flip_time(matrix):
    """A T x T map with both axes reversed: a map of the reversed clip in the clip's frame
    order (P M P, P the reversal permutation)."""
    return matrix[..., ::-1, ::-1] if isinstance(matrix, np.ndarray) else matrix.flip(-1, -2)


def reversal_asymmetry(matrix):
    """||M - flip(M)|| / (2 ||M||) (Frobenius), in [0, 1]: 0 when M commutes with the reversal
    of the frames, so that a clip and its reversal give outputs that are each other's reversal
    and a temporal average cannot tell them apart; larger the more M depends on frame order
    (a matrix of i.i.d. random entries: about 1/sqrt(2); 1: flip(M) = -M)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    norm = np.linalg.norm(matrix)
    return float(np.linalg.norm(matrix - flip_time(matrix)) / (2 * norm)) if norm else 0.0


# ------------------------------------------------------------------------------------------------
# Figures


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    fig.savefig(path, dpi=DPI)
    _pyplot().close(fig)
    return path


def plot_matrices(weight, title, path):
    """Heatmaps of ``weight`` [G, G, T, T]: row = head, column = group, one colour scale."""
    plt = _pyplot()
    weight = weight.detach().float().cpu().numpy()
    heads, groups, t, _ = weight.shape
    limit = float(np.abs(weight).max()) or 1.0
    fig, axes = plt.subplots(
        heads, groups, figsize=figure_size(heads, groups, extra_width=MATRIX_EXTRA), dpi=DPI,
        squeeze=False, layout="constrained",
    )
    for k in range(heads):
        for g in range(groups):
            ax = axes[k, g]
            image = ax.imshow(weight[k, g], cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(f"head {k}, group {g}", fontsize=7)
            ticks = range(0, t, max(1, t // 4))
            ax.set_xticks(ticks)
            ax.set_yticks(ticks)
            ax.tick_params(labelsize=6)
            if k == heads - 1:
                ax.set_xlabel("input frame", fontsize=7)
            if g == 0:
                ax.set_ylabel("output frame", fontsize=7)
    fig.colorbar(image, ax=axes, shrink=0.6)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def region_colours(num_regions):
    """One RGB colour per region; tab10 without its grey (a grey tint would read as no
    region), tab20 or hsv for more regions."""
    plt = _pyplot()
    if num_regions <= 9:
        palette = [plt.get_cmap("tab10")(i) for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)]
    elif num_regions <= 20:
        palette = [plt.get_cmap("tab20")(i) for i in range(20)]
    else:
        palette = [plt.get_cmap("hsv")(r / num_regions) for r in range(num_regions)]
    return np.array([colour[:3] for colour in palette[:num_regions]])


def region_map(assign, colours):
    """Each pixel in the colour of its most likely region on white, the colour's opacity
    growing from 0 at the uniform probability 1/R to 1 at probability 1. ``assign``: [R, H, W]
    soft assignment; returns RGB floats [H, W, 3]."""
    r = assign.shape[0]
    region = assign.argmax(axis=0)
    if r > 1:
        confidence = (assign.max(axis=0) - 1.0 / r) / (1.0 - 1.0 / r)
    else:
        confidence = np.ones(region.shape)
    alpha = np.clip(confidence, 0.0, 1.0)[..., None]
    return (1 - alpha) + colours[region] * alpha


def _bare(ax):
    """No ticks and no frame, but room for a row label (unlike ``set_axis_off``)."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def plot_regions(assign, frames, title, path):
    """The clip's frames (top row) and, below each, its pixels' most likely region
    (``region_map``; bottom row), each row labelled. ``assign``: [R, T, H, W] at the frames' resolution;
    ``frames``: uint8 [T, H, W, 3]."""
    plt = _pyplot()
    from matplotlib.patches import Patch

    r, t = assign.shape[:2]
    colours = region_colours(r)
    fig, axes = plt.subplots(
        2, t, figsize=figure_size(2, t, extra_width=REGION_EXTRA), dpi=DPI, squeeze=False,
        layout="constrained",
    )
    for i in range(t):
        axes[0, i].imshow(frames[i])
        axes[0, i].set_title(f"frame {i}", fontsize=7)
        axes[1, i].imshow(region_map(assign[:, i], colours))
    for ax in axes.flat:
        _bare(ax)
    axes[0, 0].set_ylabel("clip", fontsize=7)
    axes[1, 0].set_ylabel(f"each pixel's most likely\nregion (white: uniform 1/{r},\nfull colour: "
                          f"certain)", fontsize=7)
    handles = [Patch(color=colours[k], label=f"region {k}") for k in range(r)]
    fig.legend(handles=handles, loc="outside right center", fontsize=7)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


@dataclass
class MapRow:
    """
    One row of the temporal figure: a block's T x T map for the clip and for the reversed clip
    (rows output frame, columns input frame, each in its own clip's order). ``learned``: a
    signed learned matrix (GTA) rather than softmax weights (DNL).
    """

    title: str
    clip: np.ndarray
    reversed: np.ndarray
    learned: bool

    @property
    def flipped(self):
        """The reversed clip's map with both axes flipped: in the clip's frame order."""
        return np.ascontiguousarray(flip_time(self.reversed))

    @property
    def max_difference(self):
        """max |flipped - clip|: 0 when the block treats the clip's reversal as the clip in
        reverse order."""
        return float(np.abs(self.flipped - self.clip).max())


@dataclass
class HeadRow:
    """One GTA branch's heads, each [T, T] (the mean over its groups), most asymmetric
    first."""

    title: str
    heads: np.ndarray  # [G, T, T], sorted
    order: list  # the head index of each
    asymmetry: list  # reversal_asymmetry of each


def head_row(title, weight):
    """The ``HeadRow`` of a GTA weight [G, G, T, T], heads sorted by reversal asymmetry."""
    heads = gta_head_matrices(weight.detach().double()).numpy()
    asymmetry = [reversal_asymmetry(m) for m in heads]
    order = sorted(range(len(heads)), key=lambda k: -asymmetry[k])
    return HeadRow(title, heads[order], order, [asymmetry[k] for k in order])


def temporal_figure_size(map_rows, head_rows):
    """Figure size in inches of ``map_rows`` rows of three maps and ``head_rows`` rows of
    heads."""
    return 3 * MAP_PANEL + 1.4, map_rows * (MAP_PANEL + 0.9) + head_rows * HEAD_PANEL + 0.5


def _map_with_frames(ax, matrix, thumbs, ticks, image_kw):
    """``matrix`` [T, T] with the frames ``thumbs`` [T, h, w, 3] along the top (input frames)
    and the left (output frames), one per row and column, and ``ticks`` as frame numbers."""
    t = len(matrix)
    image = ax.imshow(matrix, extent=(-0.5, t - 0.5, t - 0.5, -0.5), **image_kw)
    for s in range(t):
        ax.imshow(thumbs[s], extent=(s - 0.45, s + 0.45, -0.6, -1.5))
        ax.imshow(thumbs[s], extent=(-1.5, -0.6, s + 0.45, s - 0.45))
    ax.set_xlim(-1.6, t - 0.5)
    ax.set_ylim(t - 0.5, -1.6)
    ax.set_xticks(range(t), ticks, fontsize=6)
    ax.set_yticks(range(t), ticks, fontsize=6)
    ax.tick_params(length=2, pad=1)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("input frame", fontsize=7, labelpad=1)
    ax.set_ylabel("output frame", fontsize=7, labelpad=1)
    return image


def plot_temporal(map_rows, head_rows, thumbs, title, path):
    """
    The temporal figure: per ``MapRow`` the clip's map, the reversed clip's map and the latter
    flipped back to the clip's order, the frames along the axes; then per ``HeadRow`` its heads.
    ``thumbs``: the clip's frames [T, h, w, 3] at the blocks' time steps. Tick labels are the
    clip's frame numbers, so the reversed clip's axes run T-1 ... 0.
    """
    plt = _pyplot()
    t = len(thumbs)
    forward, backward = list(range(t)), list(range(t - 1, -1, -1))
    fig = plt.figure(figsize=temporal_figure_size(len(map_rows), len(head_rows)), dpi=DPI,
                     layout="constrained")
    heights = [MAP_PANEL + 0.9] * len(map_rows) + [HEAD_PANEL] * len(head_rows)
    subfigs = np.atleast_1d(fig.subfigures(len(heights), 1, height_ratios=heights))
    for subfig, row in zip(subfigs, map_rows):
        axes = subfig.subplots(1, 3)
        if row.learned:
            limit = float(np.abs(row.clip).max()) or 1.0
            image_kw = dict(cmap="RdBu_r", vmin=-limit, vmax=limit)
        else:
            top = max(float(row.clip.max()), float(row.reversed.max()))
            image_kw = dict(cmap="viridis", vmin=0.0, vmax=top)
        same = row.max_difference <= 1e-5 * (float(np.abs(row.clip).max()) or 1.0)
        columns = [
            (row.clip, thumbs, forward, "clip"),
            (row.reversed, thumbs[::-1], backward, f"reversed clip (frames {t - 1}...0)"),
            (row.flipped, thumbs, forward,
             "reversed clip's map, axes flipped:\n"
             + ("= the clip's map" if same else "differs from the clip's map")
             + f" (max |diff| {row.max_difference:.2g})"),
        ]
        for ax, (matrix, frames, ticks, label) in zip(axes, columns):
            image = _map_with_frames(ax, matrix, frames, ticks, image_kw)
            ax.set_title(label, fontsize=7)
        subfig.colorbar(image, ax=axes, shrink=0.8,
                        label="learned weight" if row.learned else "attention weight")
        subfig.suptitle(row.title, fontsize=8)
    for subfig, row in zip(subfigs[len(map_rows):], head_rows):
        axes = np.atleast_1d(subfig.subplots(1, max(len(row.heads), HEADS_PER_ROW)))
        for ax in axes[len(row.heads):]:
            ax.set_visible(False)
        axes = axes[: len(row.heads)]
        limit = float(np.abs(row.heads).max()) or 1.0
        for ax, matrix, k, r in zip(axes, row.heads, row.order, row.asymmetry):
            image = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(f"head {k}, r = {r:.2f}", fontsize=6)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0].set_ylabel("output frame", fontsize=6)
        axes[0].set_xlabel("input frame", fontsize=6)
        subfig.colorbar(image, ax=axes, shrink=0.8)
        subfig.suptitle(row.title, fontsize=8)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


# ------------------------------------------------------------------------------------------------
# The command


def parse_position(text, crop):
    """``"y,x"`` -> (y, x) ints within the crop; None stays None (the mean over positions)."""
    if text is None:
        return None
    try:
        y, x = (int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--position: expected 'y,x' (two integers), got {text!r}") from None
    if not (0 <= y < crop and 0 <= x < crop):
        raise ValueError(
            f"--position {text}: y and x must be in [0, {crop}) (DATA.TRAIN_CROP_SIZE)"
        )
    return y, x


class Subject:
    """One model with the clip run through it: its blocks' inputs and the displayed frames."""

    def __init__(self, cfg_path, checkpoint, opts, frames):
        self.cfg_path = cfg_path
        self.tag = os.path.splitext(os.path.basename(cfg_path))[0]
        self.cfg, self.model = build(cfg_path, checkpoint, opts)
        self.frames = frames
        self.gta, self.temporal, self.frame_indices = self.blocks(frames)
        self._reversed = None

    def blocks(self, frames):
        """({place: (GTA block, its input)}, {place: (temporal self-attention block, its
        input)}, each pathway's frame indices) with the clip ``frames`` run through the model."""
        from ..blocks import GlobalTemporalAttention, TemporalSelfAttention

        inputs, frame_indices = model_inputs(self.cfg, frames)
        captured = capture_block_inputs(
            self.model, inputs, (GlobalTemporalAttention, TemporalSelfAttention)
        )
        gta = {place_of(n): v for n, v in captured.items()
               if isinstance(v[0], GlobalTemporalAttention)}
        temporal = {place_of(n): v for n, v in captured.items()
                    if isinstance(v[0], TemporalSelfAttention)}
        return gta, temporal, frame_indices

    def reversed_temporal(self):
        """{place: (temporal self-attention block, its input)} for the clip reversed."""
        if self._reversed is None:
            self._reversed = self.blocks(np.ascontiguousarray(self.frames[::-1]))[1]
        return self._reversed

    def block_input(self, place):
        """The input [1, C, T, H, W] the temporal block (TSA or GTA) at ``place`` got."""
        return (self.temporal.get(place) or self.gta[place])[1]

    def block_frames(self, place, num_frames):
        """The displayed frame of each of a block's ``num_frames`` time steps."""
        index = self.frame_indices[pathway_of(place)]
        return self.frames[[index[t * len(index) // num_frames] for t in range(num_frames)]]


def draw_matrices(subject, places, out_dir):
    """Figure (a), one PNG per GTA block and branch; returns the paths."""
    paths = []
    for place, (block, _) in subject.gta.items():
        if places and place not in places:
            continue
        for branch in ("pixel", "region"):
            if getattr(block, branch):
                weight = block.head_matrices(branch)
                title = (f"{subject.tag} {place}\n{branch} GTA: M[head, group], rows: output "
                         f"frame, columns: input frame")
                path = os.path.join(out_dir, f"{subject.tag}_{place}_{branch}_matrices.png")
                paths.append(plot_matrices(weight, title, path))
    return paths


def draw_regions(subject, places, out_dir):
    """Figure (b), one PNG per Region GTA block; returns the paths."""
    paths = []
    for place, (block, x) in subject.gta.items():
        if not block.region or (places and place not in places):
            continue
        with torch.no_grad():
            assign = block.region_assignment(x)[0]  # [R, T, H', W']
        frames = subject.block_frames(place, assign.shape[1])
        size = frames.shape[1:3]
        assign = F.interpolate(assign, size=size, mode="bilinear", align_corners=False)
        title = (f"{subject.tag} {place}: Region GTA's soft assignment of each frame's pixels "
                 f"to {block.num_regions} regions")
        path = os.path.join(out_dir, f"{subject.tag}_{place}_regions.png")
        paths.append(plot_regions(assign.numpy(), frames, title, path))
    return paths


def block_position(subject, place, position):
    """The clip pixel ``position`` (y, x) on the spatial grid of the block at ``place``; None
    stays None."""
    if position is None:
        return None
    grid = subject.block_input(place).shape[3:]
    crop = subject.cfg.DATA.TRAIN_CROP_SIZE
    return tuple(p * g // crop for p, g in zip(position, grid))


def temporal_rows(subject, place, position):
    """([MapRow], [HeadRow]) of ``subject`` at ``place``: DNL's temporal self-attention for the
    clip and its reversal, and per GTA branch its mean matrix and its heads."""
    map_rows, head_rows = [], []
    if place in subject.temporal:
        block, x = subject.temporal[place]
        x_reversed = subject.reversed_temporal()[place][1]
        grid = block_position(subject, place, position)
        with torch.no_grad():
            clip = temporal_self_attention(block, x, grid)
            reversed_clip = temporal_self_attention(block, x_reversed, grid)
        h, w = x.shape[3:]
        where = (f"mean over the block's {h}x{w} positions" if grid is None else
                 f"at pixel {position} = block position {grid}")
        map_rows.append(MapRow(
            f"{subject.tag}: temporal self-attention softmax(q_t k_s), {where}; computed from "
            f"each clip", clip.double().numpy(), reversed_clip.double().numpy(), learned=False,
        ))
    if place in subject.gta:
        block = subject.gta[place][0]
        for branch in ("pixel", "region"):
            if not getattr(block, branch):
                continue
            weight = block.head_matrices(branch).detach()
            g = weight.shape[0]
            matrix = gta_mean_matrix(weight.double()).numpy()
            map_rows.append(MapRow(
                f"{subject.tag}: {branch} GTA's learned M, mean over its {g} heads and {g} "
                f"groups; the same for every clip", matrix, matrix, learned=True,
            ))
            head_rows.append(head_row(
                f"{subject.tag}: {branch} GTA per head (mean over its groups), most "
                f"order-dependent first\nr = |M - flip(M)| / 2|M| (0: blind to frame order; "
                f"unstructured, i.i.d. entries: about 0.71)",
                weight,
            ))
    return map_rows, head_rows


def draw_temporal(subjects, position, places, out_dir):
    """Figure (c), one PNG per block place of either model; returns the paths."""
    paths = []
    all_places = []
    for subject in subjects:
        for place in list(subject.temporal) + list(subject.gta):
            if place not in all_places and (not places or place in places):
                all_places.append(place)
    for place in all_places:
        owners = [s for s in subjects if place in s.temporal or place in s.gta]
        rows = [temporal_rows(s, place, position) for s in owners]
        # Self-attention (computed from the clip) first, then the learned matrices.
        map_rows = sorted((r for m, _ in rows for r in m), key=lambda r: r.learned)
        head_rows = [r for _, h in rows for r in h]
        thumbs = owners[0].block_frames(place, owners[0].block_input(place).shape[2])
        title = f"{place}: temporal attention for a clip and for the same clip reversed"
        path = os.path.join(out_dir, f"temporal_{place}.png")
        paths.append(plot_temporal(map_rows, head_rows, thumbs, title, path))
    return paths


def visualize(args):
    """Writes the figures ``args`` asks for; returns their paths."""
    from .. import load_config

    cfg = load_config(args.cfg, args.opts)
    num_frames, crop = cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE
    if args.compare_cfg:
        other = load_config(args.compare_cfg, args.opts)
        if (other.DATA.NUM_FRAMES, other.DATA.TRAIN_CROP_SIZE) != (num_frames, crop):
            raise ValueError(
                f"--cfg {args.cfg} takes {num_frames} frames of {crop} pixels but --compare-cfg "
                f"{args.compare_cfg} takes {other.DATA.NUM_FRAMES} frames of "
                f"{other.DATA.TRAIN_CROP_SIZE} pixels (DATA.NUM_FRAMES, DATA.TRAIN_CROP_SIZE); "
                f"the figures need one clip for both"
            )
    position = parse_position(args.position, crop)
    if args.video:
        frames = read_video(args.video, num_frames, crop)
    else:
        frames = random_frames(num_frames, crop, args.seed)
    subjects = [Subject(args.cfg, args.checkpoint, args.opts, frames)]
    if args.compare_cfg:
        subjects.append(Subject(args.compare_cfg, args.compare_checkpoint, args.opts, frames))
        if subjects[1].tag == subjects[0].tag:
            subjects[1].tag += "_compare"
    if not any(s.gta or s.temporal for s in subjects):
        raise ValueError(
            f"no GTA or temporal self-attention block in {[s.cfg_path for s in subjects]} "
            f"(NONLOCAL.TYPE={[s.cfg.NONLOCAL.TYPE for s in subjects]}); nothing to draw"
        )
    places = set(args.blocks or [])
    known = {place for s in subjects for place in list(s.gta) + list(s.temporal)}
    if places - known:
        raise ValueError(
            f"--blocks {sorted(places - known)}: no GTA or temporal self-attention block there; "
            f"the models have them at {sorted(known)}"
        )
    out_dir = args.output_dir or os.path.join(cfg.OUTPUT_DIR, "visualize")
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for subject in subjects:
        if "matrices" in args.figures:
            paths += draw_matrices(subject, places, out_dir)
        if "regions" in args.figures:
            paths += draw_regions(subject, places, out_dir)
    if "temporal" in args.figures:
        paths += draw_temporal(subjects, position, places, out_dir)
    if not paths:
        logger.warning("none of the figures %s applies to these models", args.figures)
    return paths


def parser():
    p = cli.argument_parser("gta_slowfast.tools.visualize", __doc__)
    p.add_argument("--cfg", required=True, help="config of the model (GTA, DNL, ...)")
    p.add_argument("--checkpoint", help="PySlowFast checkpoint of --cfg (default: what its "
                   "test loads: TEST.CHECKPOINT_FILE_PATH, else the last checkpoint of "
                   "OUTPUT_DIR; none: initial weights)")
    p.add_argument("--compare-cfg", help="config of a second model drawn beside the first, "
                   "e.g. DNL beside GTA")
    p.add_argument("--compare-checkpoint", help="PySlowFast checkpoint of --compare-cfg "
                   "(default: as --checkpoint)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--video", help="video file to sample the clip from")
    source.add_argument("--random-clip", action="store_true", help="a synthetic random clip")
    p.add_argument("--seed", type=int, default=0, help="seed of --random-clip (default 0)")
    p.add_argument("--position", help="y,x: the pixel at which the temporal figure shows "
                   "DNL's attention (default: the mean over all positions)")
    p.add_argument("--figures", nargs="+", choices=FIGURES, default=list(FIGURES),
                   help="figures to draw (default: all)")
    p.add_argument("--blocks", nargs="+", metavar="PLACE",
                   help="only these block places, e.g. s4.pathway0_nonlocal5 (default: all)")
    p.add_argument("--output-dir", help="where the PNG files go (default: "
                   "<OUTPUT_DIR>/visualize of --cfg)")
    cli.add_override_arguments(p, "KEY VALUE config overrides, for both configs")
    return p


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if args.compare_checkpoint and not args.compare_cfg:
        p.error("--compare-checkpoint needs --compare-cfg")
    cli.setup_logging()
    with cli.reported_errors(p, args.debug):
        paths = visualize(args)
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
