"""
Accuracy of video scores: the one top-k of the package (top-k correct counts as PySlowFast's
``metrics.topks_correct``, top-k accuracy, the top classes of one video) and the per-class
results of a multi-view test: the confusion matrix, per-class top-1 and mean class accuracy,
written beside PySlowFast's metrics under OUTPUT_DIR.

Something-Something is read class by class: which twin classes ("Pushing something from left
to right" / "... right to left") a model confuses is exactly what temporal modelling changes.
"""

import csv
import json
import os

import torch

from .checkpoint import read_predictions
from .datasets.video_dataset import release_dataset_class

CONFUSION_PNG = "confusion_matrix.png"
PER_CLASS_CSV = "per_class_top1.csv"
SUMMARY_JSON = "per_class_summary.json"


def top_scores(scores, k):
    """The ``k`` highest ``scores`` along the last dimension, highest first (``values``,
    ``indices``), ``k`` capped at that dimension's size."""
    return scores.topk(min(k, scores.shape[-1]), dim=-1)


def topks_correct(preds, labels, ks):
    """Number of samples of ``preds`` [N, K] whose label is among the top-k scores, for each k
    in ``ks``, as PySlowFast's ``metrics.topks_correct`` counts them (its PyPI snapshot's copy
    fails on current PyTorch: it views a non-contiguous slice)."""
    top = top_scores(preds, max(ks)).indices
    hits = top.eq(labels.reshape(-1, 1))
    return [hits[:, :k].any(dim=1).float().sum() for k in ks]


def topk_accuracy(scores, labels, k):
    """Percentage of videos whose label is among the ``k`` highest of their ``scores``."""
    (correct,) = topks_correct(scores, labels, (k,))
    return (correct / scores.shape[0]).item() * 100.0


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
    values, flat = top_scores(off.flatten(), count)
    k = confusion.shape[0]
    return [
        [class_names[i // k], class_names[i % k], int(v)]
        for v, i in zip(values.tolist(), flat.tolist())
        if v > 0
    ]


CONFUSION_FONT = 7  # points: class names and counts of the confusion matrix
CONFUSION_ROW = 0.16  # inches a class gets on each axis (at least; a row of 7-point text)
CONFUSION_DPI = 110
CONFUSION_NAMED_COLUMNS = 60  # above: columns by class index, named once by the rows


def plot_confusion(confusion, class_names, path, title):
    """
    A PNG of the row-normalised confusion matrix, every class named (counts in the cells up to
    20 classes). Up to ``CONFUSION_NAMED_COLUMNS`` classes the names label both axes; with more
    (174 in Something-Something) the columns carry the class index and each row's label ends
    with it, ``name  index``, the key to the columns. The figure grows with the class count and
    with the longest name, and its layout is constrained, so that names, the title and the
    colour bar's label stay inside the picture. Returns the saved ``matplotlib`` Figure.
    """
    # (b) heavy: matplotlib loads only when a figure is drawn, never on importing the package
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    k = confusion.shape[0]
    rows = confusion.double() / confusion.sum(dim=1, keepdim=True).clamp_min(1)
    named_columns = k <= CONFUSION_NAMED_COLUMNS
    row_labels = list(class_names) if named_columns else [
        f"{name}  {i}" for i, name in enumerate(class_names)]
    column_labels = list(class_names) if named_columns else [str(i) for i in range(k)]
    # Room for the labels (about 0.6 em a character) and the axis label, beside and below.
    def room(labels):
        return max(len(label) for label in labels) * CONFUSION_FONT * 0.6 / 72 + 0.6

    side = max(3.0, CONFUSION_ROW * k)
    fig = Figure(figsize=(side + room(row_labels) + 1.6, side + room(column_labels) + 1.0),
                 layout="constrained")
    FigureCanvasAgg(fig)  # drawn off screen, without pyplot's global state
    ax = fig.subplots()
    image = ax.imshow(rows.numpy(), cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(k), column_labels, rotation=90, fontsize=CONFUSION_FONT)
    ax.set_yticks(range(k), row_labels, fontsize=CONFUSION_FONT)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                if confusion[i, j]:
                    ax.text(j, i, int(confusion[i, j]), ha="center", va="center",
                            fontsize=CONFUSION_FONT, color="white" if rows[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted class" if named_columns else
                  "predicted class (index; the rows name each index)")
    ax.set_ylabel("true class")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, shrink=min(1.0, 4.0 / side + 0.3),
                 label="fraction of the true class")
    fig.savefig(path, dpi=CONFUSION_DPI)
    return fig


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
    ``tools/test_net.py`` and gta_slowfast's fallback loop): per video the scores of its views
    summed (main's ``DATA.ENSEMBLE_METHOD max``: their maximum), and its label. Read without
    running code from the file (``checkpoint.read_predictions``); refuses anything else naming
    the file, including main's multi-label files (``DATA.MULTI_LABEL``: labels [videos,
    classes]) and the files of checkouts whose ``test_net`` saved the labels twice instead of
    the scores (INSTALL.md, "Known problems of PySlowFast main").
    """
    saved = read_predictions(path)
    if not (isinstance(saved, (list, tuple)) and len(saved) == 2):
        raise ValueError(f"predictions file {path}: expected [scores, labels], got {type(saved)}")
    scores, labels = (torch.as_tensor(x) for x in saved)
    if scores.dim() == 1 and torch.equal(scores, labels):
        raise ValueError(
            f"predictions file {path}: it holds the labels twice and no scores, as PySlowFast's "
            f"test_net saved them for a while (fixed in its commit c0cc65e); test the checkpoint "
            f"again (with a checkout from c0cc65e on, or the snapshot) to save its scores"
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
