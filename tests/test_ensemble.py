"""The ensemble tool on saved predictions."""

import json
import pickle
import re

import pytest
import torch

from gta_slowfast.evaluation import topk_accuracy
from gta_slowfast.tools import ensemble


def save(path, scores, labels):
    with open(path, "wb") as f:
        pickle.dump([torch.tensor(scores), torch.tensor(labels)], f)
    return str(path)


def test_averages_normalised_scores(tmp_path, capsys):
    labels = [0, 1, 2]
    # Model a (3 views summed) gets videos 0, 1 right; model b (1 view) gets 0, 2 right.
    a = save(tmp_path / "a.pkl", [[2.4, 0.3, 0.3], [0.3, 2.4, 0.3], [1.5, 0.0, 1.5 - 1e-3]], labels)
    b = save(tmp_path / "b.pkl", [[0.6, 0.2, 0.2], [0.5, 0.1, 0.4], [0.1, 0.1, 0.8]], labels)
    scores, got_labels, singles = ensemble.ensemble([a, b])
    assert got_labels.tolist() == labels
    torch.testing.assert_close(scores.sum(1), torch.ones(3))
    # a: videos 0, 1 right (classes 0, 1 at 100 %, class 2 at 0 %); b: videos 0, 2 right.
    assert singles == {
        a: {"top1": pytest.approx(200 / 3), "top5": 100.0, "mean_class": pytest.approx(200 / 3)},
        b: {"top1": pytest.approx(200 / 3), "top5": 100.0, "mean_class": pytest.approx(200 / 3)},
    }
    assert topk_accuracy(scores, got_labels, 1) == pytest.approx(100.0)
    ensemble.main(["--preds", a, b, "--json", str(tmp_path / "r.json")])
    assert "ensemble of 2 (3 videos): top-1 100.00 %" in capsys.readouterr().out


def test_files_of_other_videos_are_refused(tmp_path):
    a = save(tmp_path / "a.pkl", [[1.0, 0.0], [0.0, 1.0]], [0, 1])
    b = save(tmp_path / "b.pkl", [[1.0, 0.0], [0.0, 1.0]], [1, 0])
    with pytest.raises(ValueError, match=r"b.pkl does not list the same videos as .*a.pkl"):
        ensemble.ensemble([a, b])


def test_bad_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"predictions file .*none.pkl does not exist"):
        ensemble.load_predictions(str(tmp_path / "none.pkl"))
    (tmp_path / "junk.pkl").write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"junk.pkl is not a readable pickle"):
        ensemble.load_predictions(str(tmp_path / "junk.pkl"))
    with open(tmp_path / "one.pkl", "wb") as f:
        pickle.dump([torch.zeros(3, 2)], f)
    with pytest.raises(ValueError, match=r"one.pkl: expected \[scores, labels\]"):
        ensemble.load_predictions(str(tmp_path / "one.pkl"))


def test_prints_top1_and_top5_of_each_model_and_of_the_ensemble(tmp_path, capsys):
    # 6 classes, 3 videos of labels 0, 1, 5; every row sums to 21. Ranks of the true class (by
    # hand): a: 1st, 1st, 6th -> top-1 66.67 %, top-5 66.67 %; b: 3rd, 1st, 6th -> top-1
    # 33.33 %, top-5 66.67 %. Mean of the two, video 0: class 0 5, class 1 5.5 -> 2nd; so
    # 2nd, 1st, 6th -> top-1 33.33 %, top-5 66.67 %.
    a = save(tmp_path / "a.pkl", [[6, 5, 4, 3, 2, 1], [1, 6, 2, 3, 4, 5], [6, 5, 4, 3, 2, 1]],
             [0, 1, 5])
    b = save(tmp_path / "b.pkl", [[4, 6, 5, 3, 2, 1], [1, 6, 2, 3, 4, 5], [6, 5, 4, 3, 2, 1]],
             [0, 1, 5])
    ensemble.main(["--preds", a, b, "--json", str(tmp_path / "r.json")])
    out = capsys.readouterr().out.splitlines()
    # One video per class: the mean class accuracy is the top-1.
    assert out == [
        f"{a}: top-1 66.67 %, top-5 66.67 %, mean class 66.67 %",
        f"{b}: top-1 33.33 %, top-5 66.67 %, mean class 33.33 %",
        "ensemble of 2 (3 videos): top-1 33.33 %, top-5 66.67 %, mean class 33.33 %",
    ]
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["single_top5_acc"] == {a: 66.67, b: 66.67}


def test_mean_class_accuracy_weighs_every_class_alike(tmp_path, capsys):
    # Labels 0, 0, 0, 1, 2. a predicts 0, 0, 0, 0, 2: top-1 4/5 = 80 %; per class 3/3, 0/1, 1/1
    # -> mean (100 + 0 + 100) / 3 = 66.67 %. b predicts 0, 1, 1, 1, 1: top-1 2/5 = 40 %; per
    # class 1/3, 1/1, 0/1 -> mean (33.33 + 100 + 0) / 3 = 44.44 %. With weights 1 and 3 the
    # ensemble follows b wherever they differ ((0.8 + 3 * 0.2) / 4 < (0.1 + 3 * 0.6) / 4).
    labels = [0, 0, 0, 1, 2]

    def peaked(predicted, peak):
        rest = (1 - peak) / 2
        return [[peak if c == p else rest for c in range(3)] for p in predicted]

    a = save(tmp_path / "a.pkl", peaked([0, 0, 0, 0, 2], 0.8), labels)
    b = save(tmp_path / "b.pkl", peaked([0, 1, 1, 1, 1], 0.6), labels)
    assert ensemble.main(["--preds", a, b, "--weights", "1", "3",
                          "--json", str(tmp_path / "r.json")]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{a}: top-1 80.00 %, top-5 100.00 %, mean class 66.67 %",
        f"{b}: top-1 40.00 %, top-5 100.00 %, mean class 44.44 %",
        "ensemble of 2 (5 videos): top-1 40.00 %, top-5 100.00 %, mean class 44.44 %",
    ]
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["mean_class_acc"] == 44.44 and result["top1_acc"] == 40.0
    assert result["single_mean_class_acc"] == {a: 66.67, b: 44.44}


@pytest.mark.parametrize("weights,message", [
    (["1", "-1"], r"--weights must be finite and non-negative .*got -1.0 for .*b.pkl"),
    (["0", "0"], r"--weights 0.0 0.0: they sum to 0"),
    (["1", "nan"], r"--weights must be finite and non-negative .*got nan for .*b.pkl"),
])
def test_weights_that_make_no_mean_are_refused(tmp_path, capsys, weights, message):
    a = save(tmp_path / "a.pkl", [[1.0, 0.0], [0.0, 1.0]], [0, 1])
    b = save(tmp_path / "b.pkl", [[0.0, 1.0], [1.0, 0.0]], [0, 1])
    with pytest.raises(SystemExit) as exit_info:
        ensemble.main(["--preds", a, b, "--weights", *weights])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert re.match(r"python -m gta_slowfast.tools.ensemble: error: " + message, err), err
    assert err.count("\n") == 1
    with pytest.raises(ValueError, match=message):
        ensemble.main(["--debug", "--preds", a, b, "--weights", *weights])


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_predictions_that_pickle_code_are_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    with open(tmp_path / "evil.pkl", "wb") as f:
        pickle.dump([torch.zeros(2, 2), _Exploit(str(marker))], f)
    with pytest.raises(ValueError, match=r"evil.pkl is not loaded: it references \S*\.open,"):
        ensemble.load_predictions(str(tmp_path / "evil.pkl"))
    assert not marker.exists()
