"""Checkpoints written atomically, and resuming only the same run: a checkpoint of another
config in OUTPUT_DIR refused naming the keys, a start checkpoint that leaves nothing to train
refused, a test-only run kept out of the training run's logs and results."""

import os

import pytest
import slowfast.models.optimizer as optim
import slowfast.utils.checkpoint as cu
import torch
from test_engine import TINY

import gta_slowfast
from gta_slowfast import compat
from gta_slowfast.checkpoint import CheckpointError, read_checkpoint, saving
from gta_slowfast.checkpoint.io import config_by_key
from gta_slowfast.checkpoint.resume import run_differences
from gta_slowfast.engine import launch


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.format(data=tmp_path / "data", out=tmp_path / "out"))
    return str(path)


def small_training_state(cfg):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv3d(3, 4, 1), torch.nn.BatchNorm3d(4))
    return model, optim.construct_optimizer(model, cfg)


def last_checkpoint(out):
    task = ("",) if compat.GENERATION == "main" else ()
    return cu.get_last_checkpoint(out, *task)


def test_a_save_that_dies_midway_leaves_the_previous_checkpoint_the_last(tiny, monkeypatch):
    cfg = gta_slowfast.load_config(tiny)
    model, optimizer = small_training_state(cfg)
    first = saving.save_checkpoint(cfg, model, optimizer, 0)
    before = open(first, "rb").read()

    def dies_midway(obj, path):
        with open(path, "wb") as f:
            f.write(before[: len(before) // 2])
        raise KeyboardInterrupt  # what a kill leaves: half a file

    monkeypatch.setattr(saving.torch, "save", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        saving.save_checkpoint(cfg, model, optimizer, 1)
    folder = os.path.dirname(first)
    assert os.listdir(folder) == [os.path.basename(first)]
    assert open(first, "rb").read() == before
    assert last_checkpoint(cfg.OUTPUT_DIR) == first
    # A temporary file left by SIGKILL (no clean-up ran) is not a checkpoint to PySlowFast.
    open(os.path.join(folder, saving.TEMPORARY_PREFIX + "x.tmp"), "wb").write(before[:100])
    assert last_checkpoint(cfg.OUTPUT_DIR) == first
    assert read_checkpoint(first).epoch == 0


def test_pyslowfasts_own_saves_go_through_the_rename(tiny, monkeypatch):
    cfg = gta_slowfast.load_config(tiny)
    model, optimizer = small_training_state(cfg)
    monkeypatch.setattr(cu, "save_checkpoint", cu.save_checkpoint)  # restored afterwards
    saving.atomic_pyslowfast_saves()
    saving.atomic_pyslowfast_saves()  # once is enough
    path = cu.save_checkpoint(cfg.OUTPUT_DIR, model, optimizer, 2, cfg)
    assert path == os.path.join(cfg.OUTPUT_DIR, "checkpoints", "checkpoint_epoch_00003.pyth")
    assert read_checkpoint(path).epoch == 2
    assert sorted(os.listdir(cfg.OUTPUT_DIR)) == ["checkpoints"]  # no staging folder left


def test_only_the_keys_that_make_a_run_count():
    cfg = gta_slowfast.get_cfg()
    other = cfg.clone()
    other.RNG_SEED, other.SYNTHETIC.SEED, other.SOLVER.MAX_EPOCH = cfg.RNG_SEED + 1, 1, 9
    other.OUTPUT_DIR, other.NUM_GPUS, other.LOG_PERIOD = "/elsewhere", 8, 3
    other.TRAIN.CHECKPOINT_PERIOD, other.DATA.PATH_TO_DATA_DIR = 5, "/data/moved"
    assert sorted(run_differences(config_by_key(cfg.dump()), config_by_key(other.dump()))) == [
        ("RNG_SEED", cfg.RNG_SEED, cfg.RNG_SEED + 1), ("SOLVER.MAX_EPOCH", cfg.SOLVER.MAX_EPOCH, 9),
        ("SYNTHETIC.SEED", 0, 1)]


def test_auto_resume_refuses_another_runs_checkpoint_before_writing(tiny, capsys):
    """The README's seed-1 command in the seed-0 run's OUTPUT_DIR: one line naming the keys,
    exit status 2, and the seed-0 run's files untouched."""
    cfg = gta_slowfast.load_config(tiny, ["RNG_SEED", "0"])
    model, optimizer = small_training_state(cfg)
    saved = saving.save_checkpoint(cfg, model, optimizer, 0)
    files = sorted(os.listdir(cfg.OUTPUT_DIR))
    with pytest.raises(SystemExit) as exit_info:
        launch.main(["--cfg", tiny, "--trainer", "fallback", "RNG_SEED", "1",
                     "SYNTHETIC.SEED", "1"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"OUTPUT_DIR {cfg.OUTPUT_DIR} holds another run" in err
    assert f"would resume {saved}, trained with RNG_SEED=0 (this run: 1), SYNTHETIC.SEED=0 " \
           f"(this run: 1)" in err
    assert sorted(os.listdir(cfg.OUTPUT_DIR)) == files


def test_a_start_checkpoint_with_nothing_left_to_train_is_an_error(tiny, tmp_path):
    cfg = gta_slowfast.load_config(tiny)
    model = launch.build_cpu_model(cfg)
    start = tmp_path / "start.pyth"
    torch.save({"epoch": 4, "model_state": model.state_dict(),
                "optimizer_state": optim.construct_optimizer(model, cfg).state_dict(),
                "cfg": cfg.dump()}, start)
    cfg = gta_slowfast.load_config(tiny, ["TRAIN.CHECKPOINT_FILE_PATH", str(start)])
    with pytest.raises(CheckpointError, match=r"start.pyth resumes after epoch 5 and "
                       r"SOLVER.MAX_EPOCH is 1: nothing to train; set "
                       r"TRAIN.CHECKPOINT_EPOCH_RESET True"):
        launch.preflight(cfg)
    launch.preflight(gta_slowfast.load_config(
        tiny, ["TRAIN.CHECKPOINT_FILE_PATH", str(start), "TRAIN.CHECKPOINT_EPOCH_RESET", "True"]))


def test_a_test_only_run_keeps_out_of_the_training_runs_files(tiny):
    cfg = gta_slowfast.load_config(tiny, ["TRAIN.ENABLE", "False", "SYNTHETIC.PATH", ""])
    assert launch.test_only_folder(cfg) is cfg  # a fresh OUTPUT_DIR: its own
    model, optimizer = small_training_state(cfg)
    saved = saving.save_checkpoint(cfg, model, optimizer, 0)
    with open(os.path.join(cfg.OUTPUT_DIR, "json_stats.log"), "w") as f:
        f.write('json_stats: {"_type": "train_epoch", "epoch": "1/1"}\n')
    own = launch.test_only_folder(cfg)
    assert own.OUTPUT_DIR == os.path.join(cfg.OUTPUT_DIR, "test_only")
    assert own.TEST.CHECKPOINT_FILE_PATH == saved
    assert own.SYNTHETIC.PATH == os.path.join(cfg.OUTPUT_DIR, "synthetic_data")
