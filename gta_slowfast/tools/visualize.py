"""
Figures of what a GTA or DNL model attends to, for one clip, as PNG files.

    python -m gta_slowfast.tools.visualize --cfg configs/SSv1/R2D_R50_GTA_8x1.yaml \\
        --checkpoint gta.pyth --video clip.webm \\
        --compare-cfg configs/SSv1/R2D_R50_DNL_8x1.yaml --compare-checkpoint dnl.pyth

- matrices: the learned global T x T matrices of every GTA block (``pixel_attention``,
  ``region_attention``, [G heads, G groups, T, T]) as heatmaps, one PNG per block and branch;
  rows are output frames, columns input frames.
- regions: Region GTA's soft assignment of the clip's pixels to the R regions, overlaid on the
  frames (colour of the most likely region, opacity growing with its probability above the
  uniform 1/R), one PNG per GTA block (paper Fig. 2.7 / 4).
- temporal: at the query position (``--query t,y,x``, input frame and pixel), the temporal
  attention weights that a DNL block's temporal self-attention computes for this clip, beside
  GTA's temporal mixing at that position. GTA's is input-independent: for output frame t, row t
  of the matrix M, summed over the G groups (the weight input frame s gets in a head when all
  groups carry the same signal) and averaged over the G heads. One PNG per block place
  (paper Fig. 1 / 3).

The clip is ``--video`` (decoded with PyAV, DATA.NUM_FRAMES frames sampled uniformly at the
centres of equal segments, short side scaled to DATA.TRAIN_CROP_SIZE, centre crop, normalised
with DATA.MEAN / DATA.STD as PySlowFast does) or ``--random-clip``. Blocks are read through
forward hooks; the models run on the CPU. KEY VALUE overrides apply to both configs.
"""

import argparse
import logging
import os
import re
import sys

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
REGION_ALPHA = 0.65  # opacity of a region colour at probability 1


def figure_size(rows, cols, extra_width=0.0):
    """Figure size in inches of ``rows`` x ``cols`` panels plus room for titles and legends."""
    return PANEL * cols + 1.0 + extra_width, PANEL * rows + 0.9


# ------------------------------------------------------------------------------------------------
# Models and checkpoints


def load_weights(model, path, cfg_path):
    """Loads the PyTorch checkpoint at ``path`` into ``model`` with the package's one checkpoint
    reader (``weights_only``), every tensor of the model and of the checkpoint; a mismatch
    names the tensors and the config."""
    from ..checkpoint import CheckpointError, load_checkpoint

    try:
        load_checkpoint(path, model, mode="exact")
    except CheckpointError as error:
        raise CheckpointError(f"config {cfg_path}: {error}") from error


def build(cfg_path, checkpoint, opts):
    """(cfg, model in eval mode on the CPU) of the config at ``cfg_path`` with its weights."""
    from .. import build_model, load_config

    cfg = load_config(cfg_path, opts)
    cfg.NUM_GPUS = 0
    model = build_model(cfg).eval()
    checkpoint = checkpoint or cfg.TEST.CHECKPOINT_FILE_PATH
    if checkpoint:
        load_weights(model, checkpoint, cfg_path)
    else:
        logger.warning(
            "%s: no --checkpoint and no TEST.CHECKPOINT_FILE_PATH; the figures show the "
            "initial weights",
            cfg_path,
        )
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


def self_attention_row(block, x, t, i, j):
    """
    Softmax(q_t k_s^T * scale) over the frames s of a TemporalSelfAttention block at pixel
    (i, j) and frame t of its input ``x`` [1, C, T, H, W], recomputed from its projections.
    """
    x = x[:, :, :, i : i + 1, j : j + 1]
    if block.positional_encoding:
        x = x + block.encoding.to(x.dtype)
    q = block.conv_q(x)[0, :, t, 0, 0]  # [C']
    k = block.conv_k(x)[0, :, :, 0, 0]  # [C', T]
    return torch.softmax((q * block.scale) @ k, dim=-1)


def gta_mixing_row(weight, t):
    """GTA's weights on the input frames for output frame t: row t of M, summed over groups and
    averaged over heads. ``weight``: [G heads, G groups, T, T]."""
    return weight[:, :, t, :].sum(dim=1).mean(dim=0)


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
    plt = _pyplot()
    cmap = plt.get_cmap("tab10" if num_regions <= 10 else "tab20" if num_regions <= 20 else "hsv")
    return np.array([cmap(r % cmap.N if num_regions <= 20 else r / num_regions)[:3]
                     for r in range(num_regions)])


def region_overlay(frame, assign, colours):
    """``frame`` [H, W, 3] uint8 under the colour of each pixel's most likely region, with an
    opacity growing from 0 (uniform assignment) to REGION_ALPHA (certain). ``assign``: [R, H, W]."""
    r = assign.shape[0]
    region = assign.argmax(axis=0)
    confidence = (assign.max(axis=0) - 1.0 / r) / (1.0 - 1.0 / r) if r > 1 else np.ones_like(region)
    alpha = REGION_ALPHA * np.clip(confidence, 0.0, 1.0)[..., None]
    return np.clip((frame / 255.0) * (1 - alpha) + colours[region] * alpha, 0.0, 1.0)


def plot_regions(assign, frames, title, path):
    """Frames (top row) and their region overlay (bottom row). ``assign``: [R, T, H, W] at the
    frames' resolution; ``frames``: uint8 [T, H, W, 3]."""
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
        axes[1, i].imshow(region_overlay(frames[i], assign[:, i], colours))
    for ax in axes.flat:
        ax.set_axis_off()
    handles = [Patch(color=colours[k], label=f"region {k}") for k in range(r)]
    fig.legend(handles=handles, loc="outside right center", fontsize=7)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def plot_temporal(frames, query, panels, title, path):
    """
    Frames with the query marked (top) and one bar chart of weights over the frames per entry
    of ``panels`` [(label, {series name: [T] weights})]. ``query``: (t, y, x) in frame pixels.
    """
    plt = _pyplot()
    t = len(frames)
    fig = plt.figure(figsize=figure_size(1 + len(panels), t), dpi=DPI, layout="constrained")
    grid = fig.add_gridspec(1 + len(panels), t)
    for i in range(t):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(frames[i])
        ax.plot(query[2], query[1], marker="+", markersize=12, markeredgewidth=2,
                color="lime" if i == query[0] else "white")
        ax.set_title(f"frame {i}" + (" (query)" if i == query[0] else ""), fontsize=7)
        ax.set_axis_off()
    for row, (label, series) in enumerate(panels, start=1):
        ax = fig.add_subplot(grid[row, :])
        width = 0.8 / len(series)
        for n, (name, weights) in enumerate(series.items()):
            positions = np.arange(t) + (n - (len(series) - 1) / 2) * width
            ax.bar(positions, weights, width=width, label=name)
        ax.axvline(query[0], color="lime", linewidth=1)
        ax.axhline(0.0, color="black", linewidth=0.5)
        ax.set_xticks(range(t))
        ax.set_xlabel("input frame")
        ax.set_title(label, fontsize=8)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


# ------------------------------------------------------------------------------------------------
# The command


def parse_query(text, num_frames, crop):
    """``"t,y,x"`` -> (t, y, x) ints within the clip; None -> middle frame, centre pixel."""
    if text is None:
        return num_frames // 2, crop // 2, crop // 2
    try:
        t, y, x = (int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--query: expected 't,y,x' (three integers), got {text!r}") from None
    if not (0 <= t < num_frames and 0 <= y < crop and 0 <= x < crop):
        raise ValueError(
            f"--query {text}: t must be in [0, {num_frames}) (DATA.NUM_FRAMES) and y, x in "
            f"[0, {crop}) (DATA.TRAIN_CROP_SIZE)"
        )
    return t, y, x


class Subject:
    """One model with the clip run through it: its blocks' inputs and the displayed frames."""

    def __init__(self, cfg_path, checkpoint, opts, frames):
        from ..blocks import GlobalTemporalAttention, TemporalSelfAttention

        self.cfg_path = cfg_path
        self.tag = os.path.splitext(os.path.basename(cfg_path))[0]
        self.cfg, model = build(cfg_path, checkpoint, opts)
        inputs, self.frame_indices = model_inputs(self.cfg, frames)
        self.frames = frames
        captured = capture_block_inputs(
            model, inputs, (GlobalTemporalAttention, TemporalSelfAttention)
        )
        self.gta = {place_of(n): v for n, v in captured.items()
                    if isinstance(v[0], GlobalTemporalAttention)}
        self.temporal = {place_of(n): v for n, v in captured.items()
                         if isinstance(v[0], TemporalSelfAttention)}

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
                weight = getattr(block, f"{branch}_attention")
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
        title = (f"{subject.tag} {place}: Region GTA, most likely of {block.num_regions} regions "
                 f"(opacity: probability above uniform)")
        path = os.path.join(out_dir, f"{subject.tag}_{place}_regions.png")
        paths.append(plot_regions(assign.numpy(), frames, title, path))
    return paths


def feature_query(subject, place, query):
    """The input-pixel query (t, y, x) mapped to the (T, H, W) grid of the block at ``place``."""
    grid = subject.block_input(place).shape[2:]
    sizes = (subject.cfg.DATA.NUM_FRAMES,) + (subject.cfg.DATA.TRAIN_CROP_SIZE,) * 2
    return tuple(q * g // s for q, g, s in zip(query, grid, sizes))


def temporal_panels(subject, place, query):
    """Bar-chart panels of ``subject`` at ``place`` for the input-pixel ``query``."""
    panels = []
    t, i, j = feature_query(subject, place, query)
    if place in subject.temporal:
        block, x = subject.temporal[place]
        with torch.no_grad():
            row = self_attention_row(block, x, t, i, j)
        panels.append((f"{subject.tag}: temporal self-attention of frame {t} at the query "
                       f"(this clip)", {"softmax(q_t k_s)": row.numpy()}))
    if place in subject.gta:
        block = subject.gta[place][0]
        series = {
            f"{branch} M": gta_mixing_row(getattr(block, f"{branch}_attention"), t).detach().numpy()
            for branch in ("pixel", "region") if getattr(block, branch)
        }
        panels.append((f"{subject.tag}: GTA mixing of frame {t} (row {t} of M, summed over "
                       f"groups, mean over heads; any clip)", series))
    return panels


def draw_temporal(subjects, query, places, out_dir):
    """Figure (c), one PNG per block place of either model; returns the paths."""
    paths = []
    all_places = []
    for subject in subjects:
        for place in list(subject.temporal) + list(subject.gta):
            if place not in all_places and (not places or place in places):
                all_places.append(place)
    for place in all_places:
        owners = [s for s in subjects if place in s.temporal or place in s.gta]
        t_f, y_f, x_f = feature_query(owners[0], place, query)
        num_steps = owners[0].block_input(place).shape[2]
        panels = [p for s in owners for p in temporal_panels(s, place, query)]
        title = (f"{place}: temporal attention at frame {query[0]}, pixel ({query[1]}, "
                 f"{query[2]}) = block position (t={t_f}, y={y_f}, x={x_f})")
        path = os.path.join(out_dir, f"temporal_{place}.png")
        frames = owners[0].block_frames(place, num_steps)
        paths.append(plot_temporal(frames, (t_f, query[1], query[2]), panels, title, path))
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
    query = parse_query(args.query, num_frames, crop)
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
        paths += draw_temporal(subjects, query, places, out_dir)
    if not paths:
        logger.warning("none of the figures %s applies to these models", args.figures)
    return paths


def parser():
    p = cli.argument_parser("gta_slowfast.tools.visualize", __doc__)
    p.add_argument("--cfg", required=True, help="config of the model (GTA, DNL, ...)")
    p.add_argument("--checkpoint", help="PySlowFast checkpoint of --cfg (default: "
                   "TEST.CHECKPOINT_FILE_PATH; none: initial weights)")
    p.add_argument("--compare-cfg", help="config of a second model drawn beside the first, "
                   "e.g. DNL beside GTA")
    p.add_argument("--compare-checkpoint", help="PySlowFast checkpoint of --compare-cfg")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--video", help="video file to sample the clip from")
    source.add_argument("--random-clip", action="store_true", help="a synthetic random clip")
    p.add_argument("--seed", type=int, default=0, help="seed of --random-clip (default 0)")
    p.add_argument("--query", help="t,y,x: input frame and pixel of the query of the temporal "
                   "figure (default: middle frame, centre pixel)")
    p.add_argument("--figures", nargs="+", choices=FIGURES, default=list(FIGURES),
                   help="figures to draw (default: all)")
    p.add_argument("--blocks", nargs="+", metavar="PLACE",
                   help="only these block places, e.g. s4.pathway0_nonlocal5 (default: all)")
    p.add_argument("--output-dir", help="where the PNG files go (default: "
                   "<OUTPUT_DIR>/visualize of --cfg)")
    p.add_argument("opts", nargs=argparse.REMAINDER, default=None,
                   help="KEY VALUE config overrides, for both configs")
    return p


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if args.compare_checkpoint and not args.compare_cfg:
        p.error("--compare-checkpoint needs --compare-cfg")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with cli.reported_errors(p, args.debug):
        paths = visualize(args)
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
