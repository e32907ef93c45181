"""
Ensemble of saved test predictions (the paper's GTA_En: the 8- and 16-frame models' scores
averaged), with top-1 / top-5.

    python -m gta_slowfast.tools.ensemble --preds out8/preds.pkl out16/preds.pkl

Each file is what PySlowFast's test saves with ``TEST.SAVE_RESULTS_PATH preds.pkl`` (under
OUTPUT_DIR): a pickle of [scores (videos x classes), labels (videos)], the scores being the
softmax summed over the views. Every file's scores are normalised to sum to 1 per video, then
averaged (with ``--weights`` if given: non-negative, not all zero). All files must list the
same videos in the same order. Prints the top-1 and top-5 of each file and of the ensemble.
The files are read without running code from them (``gta_slowfast.checkpoint.read_predictions``).
"""

import json
import math
import sys

import torch

from .. import cli
from ..checkpoint import read_predictions


def load_predictions(path):
    """(scores [V, K] float tensor, labels [V] long tensor) saved by a PySlowFast test."""
    saved = read_predictions(path)
    if not (isinstance(saved, (list, tuple)) and len(saved) == 2):
        raise ValueError(f"predictions file {path}: expected [scores, labels], got {type(saved)}")
    scores, labels = (torch.as_tensor(x) for x in saved)
    if scores.dim() != 2 or labels.dim() != 1 or scores.shape[0] != labels.shape[0]:
        raise ValueError(
            f"predictions file {path}: expected scores [videos, classes] and labels [videos], "
            f"got {list(scores.shape)} and {list(labels.shape)}"
        )
    return scores.float(), labels.long()


def topk_accuracy(scores, labels, k):
    """Percentage of videos whose label is among the ``k`` highest scores."""
    top = scores.topk(min(k, scores.shape[1]), dim=1).indices
    return top.eq(labels[:, None]).any(dim=1).float().mean().item() * 100.0


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
    ``{"top1": ..., "top5": ...}`` accuracy (%)."""
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
        singles[path] = {
            "top1": topk_accuracy(normalised, labels, 1),
            "top5": topk_accuracy(normalised, labels, 5),
        }
        total += weight * normalised
    return total / sum(weights), labels, singles


def main(argv=None):
    parser = cli.argument_parser("gta_slowfast.tools.ensemble", __doc__)
    parser.add_argument("--preds", nargs="+", required=True, help="saved test predictions")
    parser.add_argument("--weights", nargs="+", type=float, help="one weight per file")
    parser.add_argument("--json", help="also write the result to this JSON file")
    args = parser.parse_args(argv)
    with cli.reported_errors(parser, args.debug):
        scores, labels, singles = ensemble(args.preds, args.weights)
    result = {
        "videos": int(labels.shape[0]),
        "top1_acc": round(topk_accuracy(scores, labels, 1), 2),
        "top5_acc": round(topk_accuracy(scores, labels, 5), 2),
        "single_top1_acc": {p: round(v["top1"], 2) for p, v in singles.items()},
        "single_top5_acc": {p: round(v["top5"], 2) for p, v in singles.items()},
    }
    for path, single in singles.items():
        print(f"{path}: top-1 {single['top1']:.2f} %, top-5 {single['top5']:.2f} %")
    print(f"ensemble of {len(args.preds)} ({result['videos']} videos): top-1 "
          f"{result['top1_acc']:.2f} %, top-5 {result['top5_acc']:.2f} %")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
