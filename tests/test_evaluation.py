"""Per-class results: the confusion matrix against the predictions, counted by hand."""

import csv
import json
import math

import torch

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
    assert summary["top1_acc"] == 75.0 and summary["mean_class_acc"] == round((100 + 50 + 100) / 3, 2)
    assert summary["most_confused"] == [[names[1], names[0], 1]]
    rows = list(csv.DictReader(open(tmp_path / evaluation.PER_CLASS_CSV)))
    assert [(r["name"], r["videos"], r["correct"], r["top1_acc"]) for r in rows] == [
        (names[0], "1", "1", "100.00"), (names[1], "2", "1", "50.00"), (names[2], "1", "1", "100.00")]
    assert json.load(open(tmp_path / evaluation.SUMMARY_JSON))["videos"] == 4
    assert (tmp_path / evaluation.CONFUSION_PNG).stat().st_size > 1000
