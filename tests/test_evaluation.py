"""Per-class results: the confusion matrix against the predictions, counted by hand."""

import csv
import json
import math
import os
import pickle

import pytest
import torch

import gta_slowfast
from gta_slowfast import evaluation


def reference_counts(scores, labels, num_classes):
    counts = [[0] * num_classes for _ in range(num_classes)]
    for row, label in zip(scores.tolist(), labels.tolist()):
        counts[label][max(range(num_classes), key=lambda c: row[c])] += 1
    return counts


def test_confusion_matrix_counts_the_predictions():
    torch.manual_seed(0)
    scores, labels = torch.rand(50, 7), torch.randint(0, 6, (50,))  # class 6 has no videos
    confusion = evaluation.confusion_matrix(scores, labels, 7)
    assert confusion.tolist() == reference_counts(scores, labels, 7)
    accuracy = evaluation.per_class_top1(confusion)
    for c in range(6):
        videos = int((labels == c).sum())
        correct = int(((labels == c) & (scores.argmax(1) == c)).sum())
        assert math.isclose(accuracy[c].item(), 100.0 * correct / videos)
    assert math.isnan(accuracy[6].item())
    expected_mean = sum(accuracy[c].item() for c in range(6)) / 6
    assert math.isclose(evaluation.mean_class_accuracy(confusion), expected_mean)


def test_written_results(tmp_path):
    scores = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.7, 0.3, 0.0], [0.1, 0.2, 0.7]])
    labels = torch.tensor([0, 1, 1, 2])
    names = ["Pushing something from left to right", "Pushing something from right to left",
             "Holding something"]
    summary = evaluation.write_per_class_results(str(tmp_path), scores, labels, names)
    assert summary["top1_acc"] == 75.0
    assert summary["mean_class_acc"] == round((100 + 50 + 100) / 3, 2)
    assert summary["most_confused"] == [[names[1], names[0], 1]]
    rows = list(csv.DictReader(open(tmp_path / evaluation.PER_CLASS_CSV)))
    assert [(r["name"], r["videos"], r["correct"], r["top1_acc"]) for r in rows] == [
        (names[0], "1", "1", "100.00"), (names[1], "2", "1", "50.00"),
        (names[2], "1", "1", "100.00")]
    assert json.load(open(tmp_path / evaluation.SUMMARY_JSON))["videos"] == 4
    assert (tmp_path / evaluation.CONFUSION_PNG).stat().st_size > 1000


def save(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f)
    return str(path)


def test_predictions_as_pyslowfast_saves_them_are_read(tmp_path):
    # tools/test_net.py of PySlowFast main (and the fallback loop): pickle.dump([all_preds,
    # all_labels]) of its TestMeter's video_preds [videos, classes] and video_labels [videos].
    preds, labels = torch.rand(4, 3, dtype=torch.float64), torch.tensor([2, 0, 1, 2])
    scores, read_labels = evaluation.load_predictions(save(tmp_path / "p.pkl", [preds, labels]))
    assert scores.dtype == torch.float32 and read_labels.dtype == torch.long
    assert torch.equal(scores, preds.float()) and torch.equal(read_labels, labels)


@pytest.mark.parametrize("saved,message", [
    # PySlowFast's test_net pickled [all_labels, all_labels] for a while (fixed in c0cc65e).
    (lambda: [torch.tensor([1, 0, 2]), torch.tensor([1, 0, 2])],
     r"p.pkl: it holds the labels twice and no scores, as PySlowFast's test_net saved them"),
    (lambda: [torch.rand(3, 4), torch.zeros(3, 4)],  # DATA.MULTI_LABEL
     r"p.pkl: labels \[3, 4\] of a multi-label test \(DATA.MULTI_LABEL\)"),
    (lambda: [torch.rand(3, 4), torch.zeros(2).long()],
     r"p.pkl: expected scores \[videos, classes\] and labels \[videos\], got \[3, 4\] and \[2\]"),
])
def test_predictions_of_another_kind_are_refused_naming_the_file(tmp_path, saved, message):
    with pytest.raises(ValueError, match=message):
        evaluation.load_predictions(save(tmp_path / "p.pkl", saved()))


def test_a_test_keeps_its_scores_under_output_dir(tmp_path):
    cfg = gta_slowfast.get_cfg()
    cfg.OUTPUT_DIR = str(tmp_path / "out")
    path = evaluation.keep_test_predictions(cfg)
    assert cfg.TEST.SAVE_RESULTS_PATH == "test_predictions.pkl"
    assert path == os.path.join(cfg.OUTPUT_DIR, "test_predictions.pkl")
    cfg.TEST.SAVE_RESULTS_PATH = "preds.pkl"
    path = evaluation.keep_test_predictions(cfg, "test_3_clips")
    assert cfg.TEST.SAVE_RESULTS_PATH == os.path.join("test_3_clips", "preds.pkl")
    assert os.path.isdir(os.path.dirname(path))


def test_synthetic_class_names_name_the_results(tmp_path):
    cfg = gta_slowfast.get_cfg()
    cfg.TEST.DATASET, cfg.OUTPUT_DIR = "synthetic", str(tmp_path)
    evaluation.keep_test_predictions(cfg)
    labels = torch.arange(6)
    save(tmp_path / "test_predictions.pkl", [torch.eye(6)[[1, 1, 2, 3, 4, 5]], labels])
    summary = evaluation.write_test_results(cfg, "synthetic")
    assert summary["mean_class_acc"] == round(500 / 6, 2)
    assert summary["most_confused"] == [["sliding in", "sliding out", 1]]


def inside(box, canvas):
    return (box.x0 >= canvas.x0 - 0.5 and box.y0 >= canvas.y0 - 0.5
            and box.x1 <= canvas.x1 + 0.5 and box.y1 <= canvas.y1 + 0.5)


@pytest.mark.parametrize("num_classes", [3, 174])
def test_confusion_figure_keeps_names_title_and_colour_bar_label_inside(tmp_path, num_classes):
    # Something-Something's longest names are about 90 characters; twins differ at the end.
    names = [f"Pretending to put something underneath something else while it falls, {i:03d}"
             + (" from left to right" if i % 2 else " from right to left")
             for i in range(num_classes)]
    confusion = torch.randint(0, 5, (num_classes, num_classes))
    path = tmp_path / "confusion.png"
    fig = evaluation.plot_confusion(confusion, names, str(path), "test\ntop-1 50.00 %")
    assert path.stat().st_size > 1000
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox
    width, height = fig.get_size_inches()
    tight = fig.get_tightbbox(renderer)  # inches: every artist of the saved figure
    assert tight.x0 >= 0 and tight.y0 >= 0 and tight.x1 <= width and tight.y1 <= height
    ax, colour_bar = fig.axes
    assert ax.get_title() == "test\ntop-1 50.00 %"
    assert inside(ax.title.get_window_extent(renderer), canvas)
    assert colour_bar.get_ylabel() == "fraction of the true class"
    assert inside(colour_bar.yaxis.label.get_window_extent(renderer), canvas)
    rows = [label.get_text() for label in ax.get_yticklabels()]
    columns = [label.get_text() for label in ax.get_xticklabels()]
    assert len(rows) == len(columns) == num_classes
    for i, (row, column, name) in enumerate(zip(rows, columns, names)):
        assert row.startswith(name)  # every row named
        # Every column named, or by an index that the row of that class ends with (the key).
        assert column == name or column == str(i) and row.endswith(f" {i}")
    for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
        boxes = [label.get_window_extent(renderer) for label in labels]
        assert all(inside(box, canvas) for box in boxes)
        # Legible: the names do not overlap one another.
        assert not any(a.overlaps(b) for a, b in zip(boxes, boxes[1:]))
