"""The ensemble tool on saved predictions."""

import pickle

import pytest
import torch

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
    assert singles == {a: pytest.approx(200 / 3), b: pytest.approx(200 / 3)}
    assert ensemble.topk_accuracy(scores, got_labels, 1) == pytest.approx(100.0)
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
