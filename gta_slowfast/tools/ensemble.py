"""
Ensemble of saved test predictions (the paper's GTA_En: the 8- and 16-frame models' scores
averaged), with top-1, top-5 and mean class accuracy.

    python -m gta_slowfast.tools.ensemble --preds out8/preds.pkl out16/preds.pkl

Each file is what PySlowFast's test saves with ``TEST.SAVE_RESULTS_PATH preds.pkl`` (under
OUTPUT_DIR): a pickle of [scores (videos x classes), labels (videos)], the scores being the
softmax summed over the views. Every file's scores are normalised to sum to 1 per video, then
averaged (with ``--weights`` if given: non-negative, not all zero). All files must list the
same videos in the same order. Prints the top-1, top-5 and mean class accuracy (the mean of the
per-class top-1) of each file and of the ensemble. The files are read without running code
from them (``gta_slowfast.evaluation.load_predictions``).
"""

import json
import math
import sys

import torch

from .. import cli
from ..evaluation import confusion_matrix, load_predictions, mean_class_accuracy, topk_accuracy


def accuracies(scores, labels):
    """{"top1", "top5", "mean_class"} (%) of per-video ``scores`` against ``labels``; the mean
    class accuracy is the mean of the per-class top-1 over the classes with videos."""
    return {
        "top1": topk_accuracy(scores, labels, 1),
        "top5": topk_accuracy(scores, labels, 5),
        "mean_class": mean_class_accuracy(confusion_matrix(scores, labels, scores.shape[1])),
    }


def summary_line(name, accuracy):
    """One printed line of a file's or the ensemble's ``accuracies``."""
    return (f"{name}: top-1 {accuracy['top1']:.2f} %, top-5 {accuracy['top5']:.2f} %, "
            f"mean class {accuracy['mean_class']:.2f} %")


def check_weights(weights, paths):
    """Refuses weights that do not make a weighted mean: one per file, finite, non-negative,
    not all zero."""
    if len(weights) != len(paths):
        raise ValueError(f"--weights: {len(weights)} weights for {len(paths)} files")
    bad = [(p, w) for p, w in zip(paths, weights) if not math.isfinite(w) or w < 0]
    if bad:
        raise ValueError(
            "--weights must be finite and non-negative (a weighted mean of the files' scores), "
            "got " + ", ".join(f"{w} for {p}" for p, w in bad)
        )
    if sum(weights) <= 0:
        raise ValueError(
            f"--weights {' '.join(str(w) for w in weights)}: they sum to 0, so there is no "
            f"mean; give at least one file a positive weight"
        )


def ensemble(paths, weights=None):
    """Averaged normalised scores of the files at ``paths``, their labels, and per file its
    ``accuracies``: top-1, top-5 and mean class accuracy (%)."""
    weights = [1.0] * len(paths) if weights is None else list(weights)
    check_weights(weights, paths)
    total, labels, singles = None, None, {}
    for path, weight in zip(paths, weights):
        scores, file_labels = load_predictions(path)
        if labels is None:
            labels, total = file_labels, torch.zeros_like(scores)
        elif scores.shape != total.shape or not torch.equal(file_labels, labels):
            raise ValueError(
                f"predictions file {path} does not list the same videos as {paths[0]}: "
                f"scores {list(scores.shape)} vs {list(total.shape)}, labels "
                f"{'equal' if torch.equal(file_labels, labels) else 'differ'}"
            )
        normalised = scores / scores.sum(dim=1, keepdim=True).clamp_min(1e-12)
        singles[path] = accuracies(normalised, labels)
        total += weight * normalised
    return total / sum(weights), labels, singles


def parser():
    """The command's arguments: ``--preds`` files, ``--weights``, ``--json``."""
    p = cli.argument_parser("gta_slowfast.tools.ensemble", __doc__)
    p.add_argument("--preds", nargs="+", required=True, help="saved test predictions")
    p.add_argument("--weights", nargs="+", type=float, help="one weight per file")
    p.add_argument("--json", help="also write the result to this JSON file")
    return p


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    with cli.reported_errors(p, args.debug):
        scores, labels, singles = ensemble(args.preds, args.weights)
    combined = accuracies(scores, labels)
    result = {
        "videos": int(labels.shape[0]),
        "top1_acc": round(combined["top1"], 2),
        "top5_acc": round(combined["top5"], 2),
        "mean_class_acc": round(combined["mean_class"], 2),
        "single_top1_acc": {p: round(v["top1"], 2) for p, v in singles.items()},
        "single_top5_acc": {p: round(v["top5"], 2) for p, v in singles.items()},
        "single_mean_class_acc": {p: round(v["mean_class"], 2) for p, v in singles.items()},
    }
    for path, single in singles.items():
        print(summary_line(path, single))
    print(summary_line(f"ensemble of {len(args.preds)} ({result['videos']} videos)", combined))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
