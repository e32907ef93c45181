"""
Figures of what a GTA or DNL model attends to, for one clip, as PNG files.

    python -m gta_slowfast.tools.visualize --cfg configs/SSv1/R2D_R50_GTA_8x1.yaml \\
        --checkpoint gta.pyth --video clip.webm \\
        --compare-cfg configs/SSv1/R2D_R50_DNL_8x1.yaml --compare-checkpoint dnl.pyth

- matrices: the learned global T x T matrices of every GTA block (``pixel_attention``,
  ``region_attention``, drawn as [G heads, G groups, T, T]) as heatmaps, one PNG per block and
  branch; rows are output frames, columns input frames.
- regions: Region GTA's soft assignment of the clip's pixels to the R regions: the clip's
  frames (top row) and, below each, every pixel in the colour of its most likely region, from
  white at the uniform probability 1/R to the full colour at probability 1 (bottom row), under
  each frame the region most of its pixels are in and their share; one PNG per GTA block
  (paper Fig. 2.7 / 4).
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

The clip is ``--video`` read as the config's test reads it (``gta_slowfast.load_clip``: its
decoding, DATA.TEMPORAL_SAMPLING, DATA.TEST_CROP_SIZE centre crop, DATA.MEAN / DATA.STD) or
``--random-clip``. Blocks are read through forward hooks (``gta_slowfast.visualization``); the
models run on the CPU. A model drawn without a checkpoint says "untrained weights" in its
figures. The PNGs go to ``--output-dir`` (default ``<OUTPUT_DIR>/visualize``). KEY VALUE
overrides apply to both configs.
"""

import logging
import os
import sys

from .. import cli
from ..config import load_config
from ..visualization import analysis, figures

logger = logging.getLogger(__name__)

MODULE = "gta_slowfast.tools.visualize"
FIGURES = ("matrices", "regions", "temporal")


def parse_position(text):
    """``"y,x"`` -> (y, x) ints; None stays None (the mean over positions)."""
    if text is None:
        return None
    try:
        y, x = (int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--position: expected 'y,x' (two integers), got {text!r}") from None
    return y, x


def draw_matrices(subject, places, out_dir):
    """One PNG per GTA block and branch of GTA's matrices M[head, group]; returns the paths."""
    paths = []
    for place, (block, _) in subject.gta.items():
        for branch in analysis.GTA_BRANCHES:
            if (not places or place in places) and getattr(block, branch):
                title = (f"{subject.label} {place}\n{branch} GTA: M[head, group], rows: output "
                         f"frame, columns: input frame")
                path = os.path.join(out_dir, f"{subject.tag}_{place}_{branch}_matrices.png")
                weight = block.head_matrices(branch).detach().float().numpy()
                paths.append(figures.plot_matrices(weight, title, path))
    return paths


def draw_regions(subject, places, out_dir):
    """One PNG per Region GTA block of its regions on the frames; returns the paths."""
    paths = []
    for place, (block, _) in subject.gta.items():
        if block.region and (not places or place in places):
            assign, frames = subject.regions(place)
            title = (f"{subject.label} {place}: Region GTA's soft assignment of each frame's "
                     f"pixels to {block.num_regions} regions")
            path = os.path.join(out_dir, f"{subject.tag}_{place}_regions.png")
            paths.append(figures.plot_regions(assign, frames, title, path))
    return paths


def draw_temporal(subjects, position, places, out_dir):
    """One PNG per block place of either model: the clip and its reversal; returns the paths."""
    all_places = []
    for subject in subjects:
        for place in list(subject.temporal) + list(subject.gta):
            if place not in all_places and (not places or place in places):
                all_places.append(place)
    paths = []
    for place in all_places:
        owners = [s for s in subjects if place in s.temporal or place in s.gta]
        rows = [s.temporal_rows(place, position) for s in owners]
        # Self-attention (computed from the clip) first, then the learned matrices.
        map_rows = sorted((r for m, _ in rows for r in m), key=lambda r: r.learned)
        head_rows = [r for _, h in rows for r in h]
        thumbs = owners[0].block_frames(place, owners[0].block_input(place).shape[2])
        title = f"{place}: temporal attention for a clip and for the same clip reversed"
        path = os.path.join(out_dir, f"temporal_{place}.png")
        paths.append(figures.plot_temporal(map_rows, head_rows, thumbs, title, path))
    return paths


def check_comparable(args):
    """Refuses a --compare-cfg whose test takes a clip of another size than --cfg's."""
    first, other = (load_config(path, args.opts) for path in (args.cfg, args.compare_cfg))
    keys = ("NUM_FRAMES", "TEST_CROP_SIZE")
    if [first.DATA[k] for k in keys] != [other.DATA[k] for k in keys]:
        raise ValueError(
            f"--cfg {args.cfg} takes {first.DATA.NUM_FRAMES} frames of "
            f"{first.DATA.TEST_CROP_SIZE} pixels but --compare-cfg {args.compare_cfg} takes "
            f"{other.DATA.NUM_FRAMES} frames of {other.DATA.TEST_CROP_SIZE} pixels "
            f"(DATA.NUM_FRAMES, DATA.TEST_CROP_SIZE); the figures need one clip for both"
        )


def subject(cfg_path, checkpoint, args):
    """The model of ``cfg_path`` on the clip of ``args`` (read as its config's test reads
    it)."""
    cfg, model, trained = analysis.load_model(cfg_path, checkpoint, args.opts)
    clip = analysis.clip_for(cfg, args.video, args.seed)
    tag = os.path.splitext(os.path.basename(cfg_path))[0]
    return analysis.Subject(tag, cfg, model, clip, trained)


def visualize(args):
    """Writes the figures ``args`` asks for; returns their paths."""
    position = parse_position(args.position)
    if args.compare_cfg:
        check_comparable(args)
    subjects = [subject(args.cfg, args.checkpoint, args)]
    if position is not None:
        analysis.check_position(position, subjects[0].clip)
    if args.compare_cfg:
        subjects.append(subject(args.compare_cfg, args.compare_checkpoint, args))
        if subjects[1].tag == subjects[0].tag:
            subjects[1].tag += "_compare"
    if not any(s.gta or s.temporal for s in subjects):
        configs = [args.cfg, args.compare_cfg][: len(subjects)]
        raise ValueError(
            f"no GTA or temporal self-attention block in {configs} "
            f"(NONLOCAL.TYPE={[s.cfg.NONLOCAL.TYPE for s in subjects]}); nothing to draw"
        )
    places = set(args.blocks or [])
    known = {place for s in subjects for place in list(s.gta) + list(s.temporal)}
    if places - known:
        raise ValueError(
            f"--blocks {sorted(places - known)}: no GTA or temporal self-attention block there; "
            f"the models have them at {sorted(known)}"
        )
    out_dir = args.output_dir or os.path.join(subjects[0].cfg.OUTPUT_DIR, "visualize")
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for s in subjects:
        if "matrices" in args.figures:
            paths += draw_matrices(s, places, out_dir)
        if "regions" in args.figures:
            paths += draw_regions(s, places, out_dir)
    if "temporal" in args.figures:
        paths += draw_temporal(subjects, position, places, out_dir)
    if not paths:
        logger.warning("none of the figures %s applies to these models", args.figures)
    return paths


def parser():
    p = cli.argument_parser(MODULE, __doc__)
    cli.add_config_arguments(p, "config of the model (GTA, DNL, ...)",
                             "KEY VALUE config overrides, for both configs")
    p.add_argument("--checkpoint", help="PySlowFast checkpoint of --cfg (default: what its "
                   "test loads: TEST.CHECKPOINT_FILE_PATH, else the last checkpoint of "
                   "OUTPUT_DIR; none: initial weights)")
    p.add_argument("--compare-cfg", help="config of a second model drawn beside the first, "
                   "e.g. DNL beside GTA")
    p.add_argument("--compare-checkpoint", help="PySlowFast checkpoint of --compare-cfg "
                   "(default: as --checkpoint)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--video", help="video file (or frame folder) to read the clip from")
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
    return p


def main(argv=None):
    p = parser()
    args = cli.parse_config_arguments(p, argv)
    if len(args.cfg_files) != 1:
        p.error(f"--cfg takes one config file, got {args.cfg_files} (the second model: "
                f"--compare-cfg)")
    args.cfg = args.cfg_files[0]
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
