"""
Learning curves of training runs as one PNG: the training loss (left) and the validation top-1
(right) per epoch, one line per run.

    python -m gta_slowfast.tools.curves --runs output/synthetic/R2D_R50_GTA \\
        output/synthetic/R2D_R50_DNL output/synthetic/R2D_R50 --out curves.png

A run is an OUTPUT_DIR. Its stats are PySlowFast's JSON stats (both generations, and the
fallback loop): ``OUTPUT_DIR/json_stats.log`` (one JSON dict per line) where it exists, else
the ``json_stats: {...}`` lines of ``OUTPUT_DIR/stdout.log``. The records drawn:

- ``{"_type": "train_epoch", "epoch": "3/24", "loss": ...}``: the epoch's mean training loss;
- ``{"_type": "val_epoch", "epoch": "6/24", "top1_err": ...}``: validation top-1 =
  100 - top1_err (or ``top1_acc`` where a meter logs that), in %;
- ``{"split": "test_final", "top1_acc": ...}``: the final test top-1, shown in the legend.

A resumed run (TRAIN.AUTO_RESUME) logs some epochs again: the last record of an epoch wins.
Lines that are not JSON (an unfinished last line of a running job) are skipped with a warning.

Horizontal reference lines on the top-1 axis: ``--reference NAME=PCT`` (repeatable; given
without values, none). By default, when every run trained on the synthetic dataset
(``TRAIN.DATASET: synthetic`` in the config its last checkpoint stores), chance
(100 / MODEL.NUM_CLASSES %) and the 50 % that no model blind to frame order can pass on its
twin classes (a clip and its reversal get the same score).
"""

import glob
import json
import logging
import math
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Dict, Optional

from .. import cli
from ..checkpoint.io import read_stored_config
from ..datasets.video_dataset import release_dataset_class

logger = logging.getLogger(__name__)

STATS_FILES = ("json_stats.log", "stdout.log")
MARKER = "json_stats: "


@dataclass
class Curves:
    """One run's per-epoch numbers, epochs counted from 1."""

    run: str  # the OUTPUT_DIR
    source: str  # the stats file read
    train_loss: Dict[int, float] = field(default_factory=dict)
    val_top1: Dict[int, float] = field(default_factory=dict)  # %
    test_top1: Optional[float] = None  # %


def stats_file(run):
    """The stats file of the run folder ``run``: json_stats.log, else stdout.log."""
    if not os.path.isdir(run):
        raise FileNotFoundError(f"run folder {run!r} does not exist (expected an OUTPUT_DIR)")
    for name in STATS_FILES:
        path = os.path.join(run, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"run folder {run!r} has no stats: expected {' or '.join(STATS_FILES)} (written by "
        f"training into OUTPUT_DIR)"
    )


def read_records(path):
    """The JSON stats dicts of ``path``: whole lines that are JSON objects and the JSON after
    ``json_stats: `` in log lines; other lines are ignored, malformed JSON is warned about."""
    records = []
    with open(path, errors="replace") as f:
        for number, line in enumerate(f, start=1):
            start = line.find(MARKER)
            if start >= 0:
                text = line[start + len(MARKER):].strip()
            elif line.lstrip().startswith("{"):
                text = line.strip()
            else:
                continue
            try:
                record = json.loads(text)
            except ValueError:
                logger.warning("%s:%d: not a JSON dict, skipped: %.80s", path, number, text)
                continue
            if isinstance(record, dict):
                records.append(record)
            else:
                logger.warning("%s:%d: not a JSON dict, skipped: %.80s", path, number, text)
    return records


def epoch_of(record):
    """The epoch number of a record (``"3/24"`` -> 3, ``3`` -> 3); None if it has none."""
    value = record.get("epoch", record.get("cur_epoch"))
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+)(?:\s*/\s*\d+)?\s*", str(value)) if value is not None else None
    return int(match.group(1)) if match else None


def number(value):
    """``value`` as a float (JSON numbers and numeric strings such as "54.17"); None if not."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def val_top1(record):
    """Top-1 in % of a val_epoch record: top1_acc, else 100 - top1_err; None if neither."""
    acc = number(record.get("top1_acc"))
    if acc is not None:
        return acc
    err = number(record.get("top1_err"))
    return None if err is None else 100.0 - err


def read_curves(run):
    """The ``Curves`` of the run folder ``run``; raises naming the folder and the file when it
    has no train_epoch or val_epoch record."""
    path = stats_file(run)
    curves = Curves(run=run, source=path)
    for record in read_records(path):
        kind, epoch = record.get("_type"), epoch_of(record)
        if kind == "train_epoch" and epoch is not None:
            loss = number(record.get("loss"))
            if loss is not None:
                curves.train_loss[epoch] = loss
        elif kind == "val_epoch" and epoch is not None:
            top1 = val_top1(record)
            if top1 is not None:
                curves.val_top1[epoch] = top1
        elif record.get("split") == "test_final":
            curves.test_top1 = number(record.get("top1_acc"))
    if not (curves.train_loss or curves.val_top1):
        raise ValueError(
            f"run folder {run!r}: {path} has no epoch stats (expected json_stats records with "
            f"\"_type\": \"train_epoch\" and a \"loss\", or \"_type\": \"val_epoch\" and a "
            f"\"top1_err\"); has the run finished an epoch?"
        )
    return curves


def run_config(run):
    """The config stored in the last checkpoint of the run folder ``run``, by full key
    ({"TRAIN.DATASET": ..., ...}); None when it has no checkpoint or the checkpoint stores no
    config. Read with the package's one checkpoint reader (``checkpoint.io.read_stored_config``,
    ``weights_only``)."""
    paths = sorted(glob.glob(os.path.join(run, "checkpoints", "checkpoint_epoch_*.pyth")))
    return read_stored_config(paths[-1]) if paths else None


def default_references(runs):
    """[(name, %)]: chance and the order-blind ceiling when every run in ``runs`` trained on a
    dataset that has one (the synthetic dataset's ``order_blind_ceiling``), else none."""
    classes, ceilings = set(), set()
    for run in runs:
        cfg = run_config(run)
        dataset = release_dataset_class(str(cfg.get("TRAIN.DATASET"))) if cfg else None
        if dataset is None or dataset.order_blind_ceiling is None:
            return []
        classes.add(cfg["MODEL.NUM_CLASSES"])
        ceilings.add(dataset.order_blind_ceiling)
    references = [("order-blind ceiling", ceiling) for ceiling in sorted(ceilings)]
    if len(classes) != 1:
        return references
    (num_classes,) = classes
    return references + [(f"chance (1/{num_classes})", 100.0 / num_classes)]


def parse_reference(text):
    """``"NAME=PCT"`` -> (NAME, PCT)."""
    name, sep, value = text.rpartition("=")
    pct = number(value) if sep else None
    if not name or pct is None or not math.isfinite(pct):
        raise ValueError(f"--reference {text!r}: expected NAME=PCT, e.g. 'chance=16.67'")
    return name, pct


def plot_curves(curves, labels, references, title, path):
    """Training loss per epoch (left) and validation top-1 per epoch (right) of each run,
    reference lines on the right; writes the PNG at ``path``."""
    # (b) heavy: matplotlib loads only when a figure is drawn; pyplot after choosing Agg (c)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_top1) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100, layout="constrained")
    colours = plt.get_cmap("tab10")
    for n, (run, label) in enumerate(zip(curves, labels)):
        colour = colours(n % 10)
        if run.train_loss:
            epochs = sorted(run.train_loss)
            ax_loss.plot(epochs, [run.train_loss[e] for e in epochs], marker="o", markersize=3,
                         color=colour, label=label)
        if run.val_top1:
            epochs = sorted(run.val_top1)
            test = "" if run.test_top1 is None else f" (test {run.test_top1:.1f} %)"
            ax_top1.plot(epochs, [run.val_top1[e] for e in epochs], marker="o", markersize=3,
                         color=colour, label=label + test)
    for name, pct in references:
        ax_top1.axhline(pct, color="grey", linestyle="--", linewidth=1)
        ax_top1.annotate(f"{name} {pct:.3g} %", (0.01, pct), xycoords=("axes fraction", "data"),
                         xytext=(0, 2), textcoords="offset points", fontsize=8, color="dimgrey")
    ax_loss.set(xlabel="epoch", ylabel="training loss (epoch mean)", title="training loss")
    ax_top1.set(xlabel="epoch", ylabel="validation top-1 (%)", title="validation top-1",
                ylim=(0, 100))
    for ax in (ax_loss, ax_top1):
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        if ax.lines:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.savefig(path)
    plt.close(fig)
    return path


def parser():
    """The command's arguments: ``--runs`` and how to draw them."""
    p = cli.argument_parser("gta_slowfast.tools.curves", __doc__)
    p.add_argument("--runs", nargs="+", required=True, metavar="OUTPUT_DIR",
                   help="the runs' output folders")
    p.add_argument("--labels", nargs="+", help="one legend label per run (default: the "
                   "folder names, e.g. R2D_R50_GTA)")
    p.add_argument("--reference", nargs="*", metavar="NAME=PCT", help="horizontal lines on "
                   "the top-1 axis; given without values: none (default: chance and the "
                   "order-blind 50 %% for synthetic runs)")
    p.add_argument("--title", default="", help="figure title")
    p.add_argument("--out", default="curves.png", help="the PNG to write (default curves.png)")
    return p


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    cli.setup_logging()
    with cli.reported_errors(p, args.debug):
        labels = args.labels or [os.path.basename(os.path.normpath(run)) for run in args.runs]
        if len(labels) != len(args.runs):
            raise ValueError(f"--labels: {len(labels)} labels for {len(args.runs)} runs")
        curves = [read_curves(run) for run in args.runs]
        if args.reference is None:
            references = default_references(args.runs)
        else:
            references = [parse_reference(text) for text in args.reference]
        directory = os.path.dirname(os.path.abspath(args.out))
        os.makedirs(directory, exist_ok=True)
        path = plot_curves(curves, labels, references, args.title, args.out)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
