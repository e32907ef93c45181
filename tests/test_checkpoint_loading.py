"""
What a training run and a test load, as PySlowFast's trainers decide
(gta_slowfast/checkpoint/loading.py): the epoch and optimizer state, a test's fallback
checkpoint loaded exactly, the epoch named as the file names it, and run_net.py end to end
(synthetic data; subprocesses).
"""

import os
import pickle
import re
import subprocess
import sys

import pytest
import slowfast.models.optimizer as optim
import slowfast.utils.checkpoint as cu
import torch
from checkpoint_files import (
    HEAD_REFUSED,
    cfg_of,
    cfg_of_a_test_only_run,
    final_norm_scales_of,
    model_zoo_files,
    plain_cfg,
    save_caffe2,
    save_pyslowfast,
    seven_class_checkpoint,
    trained,
)
from conftest import REPO, build, requires_main
from slowfast.utils.c2_model_loading import get_name_convert_func

import gta_slowfast
from gta_slowfast import checkpoint as ck
from gta_slowfast.engine import upstream


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return model_zoo_files(tmp_path_factory)


# ---------------------------------------------------------------------------------------------
# Epoch and optimizer state


def test_fine_tuning_a_training_state_needs_epoch_reset(files, tmp_path):
    path, _ = files["plain_slowfast"]
    cfg = cfg_of("gta", arch="slowfast")
    cfg.OUTPUT_DIR = str(tmp_path)
    cfg.TRAIN.CHECKPOINT_FILE_PATH = path
    model = build(cfg)
    with pytest.raises(ValueError, match=r"plain_slowfast.*stores the training state of epoch "
                       r"40 .*240 new block tensors.*TRAIN.CHECKPOINT_EPOCH_RESET True"):
        ck.resume_or_initialize(cfg, model, optim.construct_optimizer(model, cfg))


def test_epoch_without_optimizer_state_is_named(files, tmp_path):
    _, pretrained = files["plain_2d"]
    path = tmp_path / "no_optimizer.pyth"
    torch.save({"epoch": 4, "model_state": pretrained.state_dict()}, path)
    model = build(plain_cfg())
    with pytest.raises(ValueError, match=r"no_optimizer.pyth stores epoch 5 but no "
                       r"'optimizer_state'.*CHECKPOINT_EPOCH_RESET"):
        ck.load_checkpoint(str(path), model,
                           optimizer=optim.construct_optimizer(model, plain_cfg()))


def test_the_epoch_is_named_as_the_file_names_it(tmp_path):
    """PySlowFast's save_checkpoint after the 6th epoch (its 0-based cur_epoch 5) writes
    checkpoint_epoch_00006.pyth: the report, the start check and the error messages call it
    epoch 6, as the file and PySlowFast's log lines do, and training resumes at the 7th."""
    cfg = plain_cfg()
    cfg.OUTPUT_DIR = str(tmp_path)
    cfg.SOLVER.MAX_EPOCH = 6
    model = build(cfg)
    path = save_pyslowfast(model, cfg, tmp_path, 5)
    number = int(re.fullmatch(r"checkpoint_epoch_(\d+)\.pyth", os.path.basename(path))[1])
    assert number == 6
    fresh = build(cfg)
    report = ck.load_checkpoint(path, fresh, optimizer=optim.construct_optimizer(fresh, cfg))
    assert f"  epoch: {number}, optimizer state restored" in report.summary().splitlines()
    # TRAIN.AUTO_RESUME: 0-based start index 6, which PySlowFast's log calls "Start epoch: 7"
    assert ck.resume_or_initialize(cfg, fresh, optim.construct_optimizer(fresh, cfg)) == number
    # The same file to fine-tune from, with SOLVER.MAX_EPOCH 6: nothing left to train.
    cfg.OUTPUT_DIR = str(tmp_path / "new_run")
    cfg.TRAIN.CHECKPOINT_FILE_PATH = path
    with pytest.raises(ck.CheckpointError, match=rf"{re.escape(path)} resumes after epoch "
                       rf"{number} and SOLVER.MAX_EPOCH is 6: nothing to train"):
        ck.resume_or_initialize(cfg, fresh, optim.construct_optimizer(fresh, cfg))
    without_optimizer = tmp_path / "no_optimizer.pyth"
    data = torch.load(path, weights_only=True)
    del data["optimizer_state"]
    torch.save(data, without_optimizer)
    with pytest.raises(ck.CheckpointError, match=rf"stores epoch {number} but no "):
        ck.load_checkpoint(str(without_optimizer), fresh,
                           optimizer=optim.construct_optimizer(fresh, cfg))


def test_a_test_loads_every_tensor_of_its_fallback_checkpoint(tmp_path):
    cfg = cfg_of("gta")
    cfg.MODEL.NUM_CLASSES = 6  # the synthetic set's, as the test-only run's model
    source = build(cfg, seed=3)
    path = tmp_path / "six.pyth"
    torch.save({"model_state": source.state_dict()}, path)
    cfg = cfg_of_a_test_only_run(tmp_path, path)
    model = build(cfg, seed=4)
    report = ck.load_for_test(cfg, model)
    assert report.mode == "exact" and not report.head_reinitialized
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in model.state_dict().items())


def test_a_test_refuses_a_fallback_checkpoint_of_another_class_count(tmp_path):
    cfg = cfg_of_a_test_only_run(tmp_path, seven_class_checkpoint(tmp_path))
    with pytest.raises(ck.CheckpointError, match=HEAD_REFUSED):
        ck.load_for_test(cfg, build(cfg))


@requires_main
def test_pyslowfast_test_loader_keeps_a_head_of_another_class_count_silently(tmp_path):
    """Why the pre-flight refuses the run above before PySlowFast's trainer starts: its
    load_test_checkpoint loads the 7-class checkpoint into the 6-class model without an error
    and keeps the head as initialised."""
    cfg = cfg_of_a_test_only_run(tmp_path, seven_class_checkpoint(tmp_path))
    model = build(cfg, seed=4)
    head = model.state_dict()["head.projection.weight"].clone()
    cu.load_test_checkpoint(cfg, model)
    assert torch.equal(model.state_dict()["head.projection.weight"], head)


# ---------------------------------------------------------------------------------------------
# run_net.py end to end (synthetic data; subprocesses)

TINY = """
TRAIN: {{ENABLE: True, DATASET: synthetic, BATCH_SIZE: 3, EVAL_PERIOD: 1, CHECKPOINT_PERIOD: 1,
        AUTO_RESUME: True}}
DATA: {{NUM_FRAMES: 4, SAMPLING_RATE: 2, TRAIN_JITTER_SCALES: [36, 44], TRAIN_CROP_SIZE: 32,
       TEST_CROP_SIZE: 32, INPUT_CHANNEL_NUM: [3], DECODING_BACKEND: pyav}}
SYNTHETIC: {{NUM_TRAIN: 6, NUM_TEST: 6, SIZE: 40, VIDEO_FRAMES: 8, PATH: {data}}}
RESNET: {{WIDTH_PER_GROUP: 8, DEPTH: 50, NUM_BLOCK_TEMP_KERNEL: [[3], [4], [6], [3]]}}
NONLOCAL: {{LOCATION: [[[]], [[1]], [[1]], [[]]], GROUP: [[1], [1], [1], [1]],
           POOL: [[[1, 2, 2]], [[1, 2, 2]], [[1, 2, 2]], [[1, 2, 2]]], TYPE: gta}}
GTA: {{GROUPS: 2, NUM_REGIONS: 2}}
SOLVER: {{BASE_LR: 0.01, LR_POLICY: cosine, MAX_EPOCH: 1, WARMUP_EPOCHS: 0.0,
         OPTIMIZING_METHOD: sgd}}
MODEL: {{NUM_CLASSES: 6, ARCH: 2d, MODEL_NAME: ResNet, DROPOUT_RATE: 0.0}}
TEST: {{ENABLE: True, DATASET: synthetic, BATCH_SIZE: 6, NUM_ENSEMBLE_VIEWS: 1,
       NUM_SPATIAL_CROPS: 1}}
DATA_LOADER: {{NUM_WORKERS: 0, PIN_MEMORY: False}}
NUM_GPUS: 0
LOG_PERIOD: 1
OUTPUT_DIR: {out}
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny synthetic GTA config and a Caffe2 checkpoint of its backbone with stock NL blocks
    and a 10-class head."""
    root = tmp_path_factory.mktemp("tiny")
    path = root / "tiny.yaml"
    path.write_text(TINY.format(data=root / "data", out=root / "out"))
    cfg = gta_slowfast.load_config(str(path), ["NONLOCAL.TYPE", "nonlocal",
                                               "MODEL.NUM_CLASSES", "10"])
    nl = trained(build(cfg, seed=21), cfg)
    return str(path), save_caffe2(nl, root / "nl.pkl"), root


def run_net(*args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "projects", "gta", "run_net.py"), *args],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


TRAINERS = [
    "fallback",
    pytest.param("upstream", marks=pytest.mark.skipif(
        upstream.find_checkout() is None,
        reason="no PySlowFast checkout with tools/ is installed (PyPI snapshot in use)")),
]


@pytest.mark.parametrize("trainer", TRAINERS)
def test_run_net_fine_tunes_gta_from_a_caffe2_checkpoint_with_stock_nonlocal(tiny, tmp_path,
                                                                            trainer):
    """The launcher's pre-flight prints the report, then the trainer (gta_slowfast's loop, or
    PySlowFast's with its own loader) loads the checkpoint, trains an epoch (at LR 0, so that
    what was loaded can be read back from the checkpoint it writes) and tests."""
    config, caffe2, _ = tiny
    out = tmp_path / "out"
    stdout = run_net("--cfg", config, "--trainer", trainer, "OUTPUT_DIR", str(out),
                     "TRAIN.CHECKPOINT_FILE_PATH", caffe2, "TRAIN.CHECKPOINT_TYPE", "caffe2",
                     "SOLVER.LR_POLICY", "steps_with_relative_lrs", "SOLVER.STEPS", "[0]",
                     "SOLVER.LRS", "[0.0]")
    assert re.search(r"Checkpoint .*nl.pkl \(caffe2, mode finetune\):", stdout)
    assert "in the checkpoint but unused: 24 tensors: s3.pathway0_nonlocal1.* (12), " \
           "s4.pathway0_nonlocal1.* (12)" in stdout
    assert "head re-initialised: head.projection.weight (checkpoint [10, 256])" in stdout
    log = (out / "stdout.log").read_text()
    assert "Start epoch: 1" in log and '"split": "test_final"' in log

    state = torch.load(out / "checkpoints" / "checkpoint_epoch_00001.pyth",
                       weights_only=True)["model_state"]
    convert_name = get_name_convert_func()
    with open(caffe2, "rb") as f:
        blobs = {convert_name(k): v for k, v in pickle.load(f)["blobs"].items()}
    weights = [k for k in state if k in blobs and not k.startswith("head.")
               and not k.endswith(("running_mean", "running_var"))]  # these move in training
    assert len(weights) == 53 + 2 * 53  # the conv kernels, their BNs' scales and shifts
    assert all(torch.equal(state[k], torch.from_numpy(blobs[k])) for k in weights)
    assert not any(v.any() for v in final_norm_scales_of(state).values())  # still the identity


@pytest.mark.parametrize("trainer", TRAINERS)
def test_run_net_multi_view_test_of_a_gta_checkpoint(tiny, tmp_path, trainer):
    """TEST.CHECKPOINT_FILE_PATH: 2 clips x 3 crops per video, scores summed. The checkpoint's
    head ignores the features and favours class 2, so every video's summed score is known."""
    config, _, _ = tiny
    cfg = gta_slowfast.load_config(config)
    model = trained(build(cfg, seed=31), cfg)
    bias = torch.tensor([0.0, 1.0, 4.0, 0.5, 0.0, -1.0])
    with torch.no_grad():
        model.head.projection.weight.zero_()
        model.head.projection.bias.copy_(bias)
    path = tmp_path / "gta.pyth"
    torch.save({"epoch": 11, "model_state": model.state_dict()}, path)
    run_net("--cfg", config, "--trainer", trainer, "OUTPUT_DIR", str(tmp_path),
            "TRAIN.ENABLE", "False", "TEST.CHECKPOINT_FILE_PATH", str(path),
            "TEST.NUM_ENSEMBLE_VIEWS", "2", "TEST.NUM_SPATIAL_CROPS", "3",
            "TEST.SAVE_RESULTS_PATH", "preds.pkl")
    # 1 video of 6 is of class 2 (top-1); all but class 5 are in the top 5.
    assert re.search(r'"split": "test_final".*"top1_acc": "16.67".*"top5_acc": "83.33"',
                     (tmp_path / "stdout.log").read_text())
    with open(tmp_path / "preds.pkl", "rb") as f:
        video_preds, video_labels = pickle.load(f)
    expected = 6 * torch.softmax(bias, dim=0)  # 6 views, scores summed
    assert video_preds.shape == (6, 6) and sorted(video_labels.tolist()) == list(range(6))
    torch.testing.assert_close(video_preds, expected.expand(6, 6), rtol=1e-5, atol=1e-6)
