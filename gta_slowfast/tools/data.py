"""
Checks a dataset release against a config before training on it.

    python -m gta_slowfast.tools.data --cfg configs/SSv2/R2D_R50_GTA_8x1.yaml \\
        DATA.PATH_TO_DATA_DIR /data/something-something-v2

For every split the config's dataset reads (and, for Something-Something, the unlabelled
official test list), prints the number of videos listed, the classes, the videos missing and,
unless --no-decode, those that fail to decode (every video file is opened and its first
frame decoded, every frame folder listed and its first frame read, with a progress bar). Exits
0 when everything is present and readable, 1 otherwise, 2 on a release whose files do not
match the config (the message names the file). The datasets it checks are the project's, found
in PySlowFast's DATASET_REGISTRY (each with its own reader and splits), and PySlowFast's own
Kinetics (its CSVs).
"""

import sys

from tqdm import tqdm

from .. import cli, load_config
from ..datasets import kinetics
from ..datasets.checks import PYSLOWFAST_CSV_DATASETS
from ..datasets.decoding import UnreadableVideo, probe_video
from ..datasets.video_dataset import MODES, ReleaseError, release_datasets

SHOWN = 5
KNOWN_SPLITS = ("train", "val", "test", "submission")


def split_reader(dataset):
    """(read_split, default splits) of TRAIN.DATASET ``dataset``: those of its class in
    PySlowFast's DATASET_REGISTRY for the project's datasets, the Kinetics-layout CSV reader
    for PySlowFast's own Kinetics. Raises ValueError naming the datasets it can check."""
    own = release_datasets()
    if dataset in own:
        return own[dataset].read_split, own[dataset].splits
    if dataset in PYSLOWFAST_CSV_DATASETS:
        return kinetics.read_split, MODES
    checked = sorted(set(own) | set(PYSLOWFAST_CSV_DATASETS))
    raise ValueError(f"TRAIN.DATASET={dataset!r}: this command checks {checked}")


def scan_split(cfg, read_split, split, decode, progress=True):
    """Counts of one split: {"videos", "classes", "labels used", "missing", "unreadable"}, with
    the first few missing and unreadable paths."""
    listed = read_split(cfg, split)
    missing = listed.missing()
    absent = {id(e) for e in missing}
    unreadable = []
    if decode:
        present = [e for e in listed.entries if id(e) not in absent]
        for entry in tqdm(present, desc=f"{split}: decoding", unit="video", disable=not progress,
                          file=sys.stderr):
            try:
                probe_video(entry.path)
            except UnreadableVideo as err:
                unreadable.append(str(err))
    labels = {e.label for e in listed.entries if e.label >= 0}
    return {
        "videos": len(listed.entries),
        "classes": len(listed.class_names) if listed.class_names is not None else None,
        "labels used": len(labels),
        "missing": [f"{e.video_id}: {e.path}" for e in missing],
        "unreadable": unreadable,
    }


def report_lines(split, counts, num_classes, decode):
    classes = counts["classes"]
    head = (
        f"{split}: {counts['videos']} videos, "
        + (f"{classes} classes in the label file, " if classes is not None else "")
        + f"{counts['labels used']} used, {len(counts['missing'])} missing, "
        + (f"{len(counts['unreadable'])} unreadable" if decode else "not decoded")
    )
    lines = [head]
    if classes is not None and classes != num_classes:
        lines.append(f"  MODEL.NUM_CLASSES={num_classes} differs from the label file's {classes}")
    lines += [f"  missing: {m}" for m in counts["missing"][:SHOWN]]
    lines += [f"  unreadable: {u}" for u in counts["unreadable"][:SHOWN]]
    return lines


def parser():
    """The command's arguments: the config, the splits, then KEY VALUE overrides."""
    parser = cli.argument_parser("gta_slowfast.tools.data", __doc__)
    parser.add_argument("--cfg", required=True, help="the config whose dataset to check")
    parser.add_argument(
        "--splits", nargs="+", default=None,
        help=f"splits to check, of {KNOWN_SPLITS} (default: train, val and, for "
        "Something-Something, the official unlabelled test list 'submission')",
    )
    parser.add_argument("--no-decode", action="store_true", help="only check that files exist")
    cli.add_override_arguments(parser, "KEY VALUE config overrides")
    return parser


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if args.splits:  # --splits takes split names; what follows them are KEY VALUE overrides
        names = args.splits[: next((i for i, s in enumerate(args.splits) if s not in KNOWN_SPLITS),
                                   len(args.splits))]
        args.opts = args.splits[len(names):] + (args.opts or [])
        args.splits = names or None
    with cli.reported_errors(p, args.debug):
        return check_release(args)


def check_release(args):
    """Prints what ``main`` describes for the config and splits of ``args``; returns the exit
    status (0: complete, 1: videos missing or unreadable). Raises ReleaseError (and the config
    loader's errors) on a release whose files do not match the config."""
    cfg = load_config(args.cfg, args.opts)
    dataset = cfg.TRAIN.DATASET
    read_split, default_splits = split_reader(dataset)
    decode = not args.no_decode
    problems = 0
    print(f"{dataset} at {cfg.DATA.PATH_TO_DATA_DIR}")
    for split in args.splits or default_splits:
        if split not in default_splits + ("test",):
            raise ValueError(f"{dataset} has no split {split!r}; its splits: {default_splits}")
        try:
            counts = scan_split(cfg, read_split, split, decode)
        except ReleaseError as err:
            raise ReleaseError(f"{split}: {err}") from err
        for line in report_lines(split, counts, cfg.MODEL.NUM_CLASSES, decode):
            print(line)
        problems += len(counts["missing"]) + len(counts["unreadable"])
        problems += counts["classes"] not in (None, cfg.MODEL.NUM_CLASSES)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
