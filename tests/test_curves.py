"""The learning-curves command on hand-written stats: the numbers it reads, the PNG, errors."""

import json
import os

import pytest
import torch
from PIL import Image

import gta_slowfast
from gta_slowfast.tools import curves

# As PySlowFast's logger writes them into stdout.log (the fallback loop's format).
STDOUT_LOG = """\
[INFO: fallback.py:  184]: Trainer: gta_slowfast fallback loop (PySlowFast snapshot)
[INFO: logging.py:   67]: json_stats: {"_type": "train_iter", "epoch": "1/3", "iter": "6/24", "loss": 9.0, "top1_err": 90.0}
[INFO: logging.py:   67]: json_stats: {"_type": "train_epoch", "epoch": "1/3", "loss": 1.8, "lr": 0.01, "top1_err": 80.0}
[INFO: logging.py:   67]: json_stats: {"_type": "val_epoch", "epoch": "1/3", "min_top1_err": 75.0, "top1_err": 75.0}
[INFO: logging.py:   67]: json_stats: {"_type": "train_epoch", "epoch": "2/3", "loss": 1.5, "top1_err": 60.0}
[INFO: logging.py:   67]: json_stats: {"_type": "train_epoch", "epoch": "2/3", "loss": 1.4, "top1_err": 55.0}
[INFO: logging.py:   67]: json_stats: {"_type": "val_epoch", "epoch": "2/3", "top1_err": 50.0}
[INFO: logging.py:   67]: json_stats: {"_type": "train_epoch", "epoch": "3/3", "loss": 1.1, "top1_err": 40.0}
[INFO: logging.py:   67]: json_stats: {"_type": "val_epoch", "epoch": "3/3", "top1_err": 37.5}
[INFO: logging.py:   67]: json_stats: {"split": "test_final", "top1_acc": "62.50", "top5_acc": "100.00"}
[INFO: fallback.py:  300]: test top-1 62.50 %
"""  # noqa: E501


def write_run(directory, stdout=None, json_lines=None):
    directory.mkdir(parents=True, exist_ok=True)
    if stdout is not None:
        (directory / "stdout.log").write_text(stdout)
    if json_lines is not None:
        (directory / "json_stats.log").write_text("".join(line + "\n" for line in json_lines))
    return str(directory)


def test_stdout_log_is_read_last_record_of_an_epoch_winning(tmp_path):
    run = write_run(tmp_path / "R2D_R50_GTA", stdout=STDOUT_LOG)
    c = curves.read_curves(run)
    assert c.source == os.path.join(run, "stdout.log")
    assert c.train_loss == {1: 1.8, 2: 1.4, 3: 1.1}  # epoch 2 logged twice (a resume)
    assert c.val_top1 == {1: 25.0, 2: 50.0, 3: 62.5}
    assert c.test_top1 == 62.5


def test_json_stats_log_is_preferred_and_bad_lines_are_skipped(tmp_path, caplog):
    lines = [
        json.dumps({"_type": "train_epoch", "epoch": "1/2", "loss": 2.0}),
        json.dumps({"_type": "val_epoch", "epoch": "1/2", "top1_acc": 30.0}),
        json.dumps({"_type": "train_epoch", "epoch": 2, "loss": "1.25"}),
        '{"_type": "val_epoch", "epoch": "2/2", "top1_',  # an unfinished last line
    ]
    run = write_run(tmp_path / "run", stdout=STDOUT_LOG, json_lines=lines)
    c = curves.read_curves(run)
    assert c.source == os.path.join(run, "json_stats.log")
    assert c.train_loss == {1: 2.0, 2: 1.25}
    assert c.val_top1 == {1: 30.0}
    assert c.test_top1 is None
    assert "json_stats.log:4: not a JSON dict, skipped" in caplog.text


def test_png_of_several_runs_is_written(tmp_path, capsys):
    gta = write_run(tmp_path / "R2D_R50_GTA", stdout=STDOUT_LOG)
    dnl = write_run(tmp_path / "R2D_R50_DNL", json_lines=[
        json.dumps({"_type": "train_epoch", "epoch": f"{e}/3", "loss": 1.8 - 0.1 * e})
        for e in (1, 2, 3)
    ] + [json.dumps({"_type": "val_epoch", "epoch": "3/3", "top1_err": 80.0})])
    out = tmp_path / "figs" / "curves.png"
    curves.main(["--runs", gta, dnl, "--labels", "GTA", "DNL", "--reference",
                 "chance=16.67", "order-blind ceiling=50", "--out", str(out)])
    assert capsys.readouterr().out.split() == [str(out)]
    with Image.open(out) as image:
        assert image.size == (1100, 420)


def test_synthetic_runs_get_chance_and_the_order_blind_ceiling(tmp_path):
    cfg = gta_slowfast.get_cfg()
    cfg.TRAIN.DATASET, cfg.MODEL.NUM_CLASSES = "synthetic", 6
    run = write_run(tmp_path / "run", stdout=STDOUT_LOG)
    os.makedirs(os.path.join(run, "checkpoints"))
    for epoch in (3, 6):  # the last one is read
        cfg.MODEL.NUM_CLASSES = 2 * epoch
        torch.save({"epoch": epoch, "model_state": {}, "cfg": cfg.dump()},
                   os.path.join(run, "checkpoints", f"checkpoint_epoch_{epoch:05d}.pyth"))
    assert curves.default_references([run]) == [
        ("order-blind ceiling", 50.0), ("chance (1/12)", 100.0 / 12)
    ]
    cfg.TRAIN.DATASET = "kinetics"
    torch.save({"epoch": 9, "model_state": {}, "cfg": cfg.dump()},
               os.path.join(run, "checkpoints", "checkpoint_epoch_00009.pyth"))
    assert curves.default_references([run]) == []
    assert curves.default_references([write_run(tmp_path / "no_ckpt", stdout=STDOUT_LOG)]) == []


def test_run_without_stats_is_named(tmp_path):
    empty = write_run(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match=r"run folder '.*empty' has no stats: expected "
                       r"json_stats.log or stdout.log"):
        curves.main(["--debug", "--runs", empty])
    with pytest.raises(FileNotFoundError, match=r"run folder '.*missing' does not exist"):
        curves.main(["--debug", "--runs", str(tmp_path / "missing")])
    started = write_run(tmp_path / "started", stdout=STDOUT_LOG.splitlines()[0] + "\n")
    with pytest.raises(ValueError, match=r"run folder '.*started': .*stdout.log has no epoch "
                       r"stats"):
        curves.main(["--debug", "--runs", started])


def test_bad_options_are_named(tmp_path):
    run = write_run(tmp_path / "run", stdout=STDOUT_LOG)
    with pytest.raises(ValueError, match=r"--labels: 2 labels for 1 runs"):
        curves.main(["--debug", "--runs", run, "--labels", "a", "b"])
    with pytest.raises(ValueError, match=r"--reference 'chance': expected NAME=PCT"):
        curves.main(["--debug", "--runs", run, "--reference", "chance"])
