"""
Per-class results of a multi-view test: the confusion matrix, per-class top-1 and mean class
accuracy, written beside PySlowFast's metrics under OUTPUT_DIR.

Something-Something is read class by class: which twin classes ("Pushing something from left
to right" / "... right to left") a model confuses is exactly what temporal modelling changes.
"""

import csv
import json
import os

import torch

from .datasets.video_dataset import release_dataset_class

CONFUSION_PNG = "confusion_matrix.png"
PER_CLASS_CSV = "per_class_top1.csv"
SUMMARY_JSON = "per_class_summary.json"


def confusion_matrix(scores, labels, num_classes):
    """Counts [K, K]: row = true class, column = the class with the highest score."""
    predicted = scores.argmax(dim=1)
    index = labels.long() * num_classes + predicted.long()
    return torch.bincount(index, minlength=num_classes * num_classes).view(num_classes, num_classes)


def per_class_top1(confusion):
    """Top-1 accuracy (%) of each class, NaN for a class without test videos."""
    totals = confusion.sum(dim=1).double()
    return torch.where(totals > 0, confusion.diagonal().double() / totals * 100.0,
                       torch.full_like(totals, float("nan")))


def mean_class_accuracy(confusion):
    """Mean of the per-class top-1 over the classes that have test videos (%)."""
    accuracy = per_class_top1(confusion)
    present = ~torch.isnan(accuracy)
    return accuracy[present].mean().item() if present.any() else float("nan")


def most_confused_pairs(confusion, class_names, count=10):
    """The ``count`` largest off-diagonal cells: [true name, predicted name, videos]."""
    off = confusion.clone()
    off.fill_diagonal_(0)
    values, flat = off.flatten().topk(min(count, off.numel()))
    k = confusion.shape[0]
    return [
        [class_names[i // k], class_names[i % k], int(v)]
        for v, i in zip(values.tolist(), flat.tolist())
        if v > 0
    ]


def plot_confusion(confusion, class_names, path, title):
    """A PNG of the row-normalised confusion matrix, every class labelled (up to 60)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = confusion.shape[0]
    rows = confusion.double() / confusion.sum(dim=1, keepdim=True).clamp_min(1)
    size = min(max(4.0, 0.35 * k + 2.0), 40.0)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(rows.numpy(), cmap="Blues", vmin=0.0, vmax=1.0)
    if k <= 60:
        ax.set_xticks(range(k))
        ax.set_yticks(range(k))
        ax.set_xticklabels(class_names, rotation=90, fontsize=7)
        ax.set_yticklabels(class_names, fontsize=7)
        if k <= 20:
            for i in range(k):
                for j in range(k):
                    if confusion[i, j]:
                        ax.text(j, i, int(confusion[i, j]), ha="center", va="center", fontsize=7,
                                color="white" if rows[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_per_class_results(output_dir, scores, labels, class_names=None, title="test"):
    """
    Writes ``per_class_top1.csv`` (class, videos, correct, top-1 %), ``per_class_summary.json``
    (top-1, mean class accuracy, the most confused pairs) and ``confusion_matrix.png`` under
    ``output_dir``. Returns the summary dict.
    """
    num_classes = scores.shape[1]
    names = list(class_names) if class_names else [str(i) for i in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(
            f"{len(names)} class names for scores of {num_classes} classes (MODEL.NUM_CLASSES)"
        )
    confusion = confusion_matrix(scores, labels, num_classes)
    accuracy = per_class_top1(confusion)
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, PER_CLASS_CSV), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["class", "name", "videos", "correct", "top1_acc"])
        for i, name in enumerate(names):
            videos = int(confusion[i].sum())
            writer.writerow([i, name, videos, int(confusion[i, i]),
                             "" if videos == 0 else f"{accuracy[i].item():.2f}"])
    summary = {
        "videos": int(labels.shape[0]),
        "top1_acc": round(confusion.diagonal().sum().item() / max(labels.shape[0], 1) * 100, 2),
        "mean_class_acc": round(mean_class_accuracy(confusion), 2),
        "most_confused": most_confused_pairs(confusion, names),
    }
    with open(os.path.join(output_dir, SUMMARY_JSON), "w") as f:
        json.dump(summary, f, indent=2)
    plot_confusion(confusion, names, os.path.join(output_dir, CONFUSION_PNG),
                   f"{title}\ntop-1 {summary['top1_acc']:.2f} %, "
                   f"mean class {summary['mean_class_acc']:.2f} %")
    return summary


DEFAULT_PREDICTIONS = "test_predictions.pkl"
RESULT_FILES = (PER_CLASS_CSV, SUMMARY_JSON, CONFUSION_PNG)


def load_predictions(path):
    """
    (scores [videos, classes] float tensor, labels [videos] long tensor) of the test
    predictions PySlowFast saved to ``path`` (``TEST.SAVE_RESULTS_PATH``). Both trainers write
    ``pickle.dump([video_preds, video_labels])`` of their TestMeter (PySlowFast main's
    ``tools/test_net.py`` since December 2020, and gta_slowfast's fallback loop): per video the
    scores of its views summed (main's ``DATA.ENSEMBLE_METHOD max``: their maximum), and its
    label. Read without running code from the file (``checkpoint.read_predictions``); refuses
    anything else naming the file, including main's multi-label files (``DATA.MULTI_LABEL``:
    labels [videos, classes]) and those of PySlowFast between August and December 2020, whose
    ``test_net`` saved the labels twice.
    """
    from .checkpoint import read_predictions

    saved = read_predictions(path)
    if not (isinstance(saved, (list, tuple)) and len(saved) == 2):
        raise ValueError(f"predictions file {path}: expected [scores, labels], got {type(saved)}")
    scores, labels = (torch.as_tensor(x) for x in saved)
    if scores.dim() == 1 and torch.equal(scores, labels):
        raise ValueError(
            f"predictions file {path}: it holds the labels twice and no scores, as PySlowFast's "
            f"test_net saved them from August to December 2020 (fixed in its commit c0cc65e); "
            f"test the checkpoint again to save its scores"
        )
    if labels.dim() == 2 and labels.shape == scores.shape:
        raise ValueError(
            f"predictions file {path}: labels {list(labels.shape)} of a multi-label test "
            f"(DATA.MULTI_LABEL); top-1 and per-class results need one label per video"
        )
    if scores.dim() != 2 or labels.dim() != 1 or scores.shape[0] != labels.shape[0]:
        raise ValueError(
            f"predictions file {path}: expected scores [videos, classes] and labels [videos], "
            f"got {list(scores.shape)} and {list(labels.shape)}"
        )
    return scores.float(), labels.long()


def keep_test_predictions(cfg, subdir=""):
    """
    Makes a test save its per-video scores, so that per-class results can be computed from
    them with either trainer: ``TEST.SAVE_RESULTS_PATH`` (``test_predictions.pkl`` where
    unset), moved into ``subdir`` (one folder per view count of a run that tests several).
    PySlowFast saves it relative to OUTPUT_DIR; its folder is made here. Returns the file's path.
    """
    name = cfg.TEST.SAVE_RESULTS_PATH or DEFAULT_PREDICTIONS
    cfg.TEST.SAVE_RESULTS_PATH = os.path.join(os.path.dirname(name), subdir, os.path.basename(name))
    path = os.path.join(cfg.OUTPUT_DIR, cfg.TEST.SAVE_RESULTS_PATH)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def dataset_class_names(cfg):
    """The class names of ``TEST.DATASET`` where it names its classes (the synthetic set; the
    label files of gta_ssv1 and gta_ssv2: its class's ``read_class_names``), else None
    (Kinetics lists integer labels only)."""
    dataset = release_dataset_class(cfg.TEST.DATASET)
    return dataset.read_class_names(cfg) if dataset is not None else None


def write_test_results(cfg, title, output_dir=None):
    """Per-class results of the test that saved its scores to ``TEST.SAVE_RESULTS_PATH`` (under
    OUTPUT_DIR), written under ``output_dir`` (default OUTPUT_DIR); returns the summary."""
    scores, labels = load_predictions(os.path.join(cfg.OUTPUT_DIR, cfg.TEST.SAVE_RESULTS_PATH))
    return write_per_class_results(
        output_dir or cfg.OUTPUT_DIR, scores, labels, dataset_class_names(cfg), title
    )
