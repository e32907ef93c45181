"""
Figures of the visualisation, drawn from arrays (no model inside): GTA's learned matrices per
head and group, Region GTA's regions on the frames, and the temporal figure of a clip and its
reversal (paper Fig. 1). Each ``plot_*`` writes one PNG of a fixed size and returns its path.
"""

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

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


def _save(fig, path):
    """Writes ``fig`` (a pyplot-free ``Figure``: no backend or global state is touched)."""
    fig.savefig(path, dpi=DPI)
    return path


def plot_matrices(weight, title, path):
    """Heatmaps of ``weight`` [G, G, T, T]: row = head, column = group, one colour scale."""
    weight = np.asarray(weight, dtype=np.float32)
    heads, groups, t, _ = weight.shape
    limit = float(np.abs(weight).max()) or 1.0
    fig = Figure(figsize=figure_size(heads, groups, extra_width=MATRIX_EXTRA), dpi=DPI,
                 layout="constrained")
    axes = fig.subplots(heads, groups, squeeze=False)
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
    if num_regions <= 9:
        palette = [matplotlib.colormaps["tab10"](i) for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)]
    elif num_regions <= 20:
        palette = [matplotlib.colormaps["tab20"](i) for i in range(20)]
    else:
        palette = [matplotlib.colormaps["hsv"](r / num_regions) for r in range(num_regions)]
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


def dominant_regions(assign):
    """Per frame of a soft assignment [R, T, H, W]: (the region most of its pixels are most
    likely in, the fraction of its pixels that are)."""
    r, t = assign.shape[:2]
    region = assign.argmax(axis=0).reshape(t, -1)  # [T, H*W]
    counts = np.stack([np.bincount(frame, minlength=r) for frame in region])
    top = counts.argmax(axis=1)
    return [(int(k), float(counts[i, k]) / region.shape[1]) for i, k in enumerate(top)]


def plot_regions(assign, frames, title, path):
    """The clip's frames (top row) and, below each, its pixels' most likely region
    (``region_map``; bottom row, under each frame the region most of its pixels are in and
    their share, ``dominant_regions``), each row labelled. ``assign``: [R, T, H, W] at the
    frames' resolution; ``frames``: uint8 [T, H, W, 3]."""
    r, t = assign.shape[:2]
    colours = region_colours(r)
    fig = Figure(figsize=figure_size(2, t, extra_width=REGION_EXTRA), dpi=DPI,
                 layout="constrained")
    axes = fig.subplots(2, t, squeeze=False)
    for i in range(t):
        axes[0, i].imshow(frames[i])
        axes[0, i].set_title(f"frame {i}", fontsize=7)
        axes[1, i].imshow(region_map(assign[:, i], colours))
    for ax in axes.flat:
        _bare(ax)
    for ax, (k, share) in zip(axes[1], dominant_regions(assign)):
        ax.set_xlabel(f"region {k}: {share:.0%} of pixels", fontsize=7)
    axes[0, 0].set_ylabel("clip", fontsize=7)
    axes[1, 0].set_ylabel(f"each pixel's most likely\nregion (white: uniform 1/{r},\nfull colour: "
                          f"certain)", fontsize=7)
    handles = [Patch(color=colours[k], label=f"region {k}") for k in range(r)]
    fig.legend(handles=handles, loc="outside right center", fontsize=7)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


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
    t = len(thumbs)
    forward, backward = list(range(t)), list(range(t - 1, -1, -1))
    fig = Figure(figsize=temporal_figure_size(len(map_rows), len(head_rows)), dpi=DPI,
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


