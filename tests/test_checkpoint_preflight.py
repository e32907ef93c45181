"""
The launcher's pre-flight check (gta_slowfast/checkpoint/preflight.py): every checkpoint a
run loads, loaded into a CPU copy of its model before a job starts, and, where PySlowFast's own
trainer will load it, PySlowFast's loader giving the same weights and epoch.
"""

import pytest
from checkpoint_files import (
    HEAD_REFUSED,
    cfg_of,
    cfg_of_a_test_only_run,
    model_zoo_files,
    save_caffe2,
    seven_class_checkpoint,
)
from conftest import requires_main

from gta_slowfast import checkpoint as ck
from gta_slowfast.engine import launch


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return model_zoo_files(tmp_path_factory)


@pytest.mark.parametrize("pyslowfast_loader", [False, True])
def test_preflight_refuses_a_test_only_run_of_another_class_count(tmp_path, pyslowfast_loader):
    cfg = cfg_of_a_test_only_run(tmp_path, seven_class_checkpoint(tmp_path))
    with pytest.raises(ck.CheckpointError, match=HEAD_REFUSED):
        launch.preflight(cfg, pyslowfast_loader=pyslowfast_loader)


# ---------------------------------------------------------------------------------------------
# The launcher's pre-flight check


def preflight_cfg(tmp_path, arch="2d", **train):
    cfg = cfg_of("gta", arch=arch)
    cfg.OUTPUT_DIR = str(tmp_path)
    cfg.TRAIN.DATASET = cfg.TEST.DATASET = "synthetic"
    cfg.MODEL.NUM_CLASSES = 6
    cfg.TEST.ENABLE = False
    for key, value in train.items():
        cfg.TRAIN[key] = value
    return cfg


def test_preflight_refuses_a_checkpoint_of_another_architecture(files, tmp_path):
    cfg = preflight_cfg(tmp_path, CHECKPOINT_FILE_PATH=files["plain_slowfast"][0],
                        CHECKPOINT_EPOCH_RESET=True)
    with pytest.raises(ValueError, match=r"(?s)checkpoint_epoch_00040.pyth does not fit the model.*"
                       r"15 tensors have another shape"):
        launch.preflight(cfg)


def test_preflight_refuses_resuming_a_training_state_into_a_gta_model(files, tmp_path):
    cfg = preflight_cfg(tmp_path, arch="slowfast", CHECKPOINT_FILE_PATH=files["plain_slowfast"][0])
    with pytest.raises(ValueError, match=r"stores the training state of epoch 40.*"
                       r"TRAIN.CHECKPOINT_EPOCH_RESET True"):
        launch.preflight(cfg)


@pytest.mark.parametrize("name,kind,reset", [
    ("plain_slowfast", "pytorch", True), ("c2_slowfast", "caffe2", False),
])
def test_preflight_accepts_model_zoo_checkpoints(files, tmp_path, name, kind, reset):
    cfg = preflight_cfg(tmp_path, arch="slowfast", CHECKPOINT_FILE_PATH=files[name][0],
                        CHECKPOINT_TYPE=kind, CHECKPOINT_EPOCH_RESET=reset)
    (report,) = launch.preflight(cfg)
    assert report.new_blocks and report.head_reinitialized  # 10 -> 6 classes
    assert report.epoch == -1 and not report.optimizer_restored


@requires_main
@pytest.mark.parametrize("name,kind", [("plain_slowfast", "pytorch"), ("c2_slowfast", "caffe2")])
def test_pyslowfast_loader_agrees_after_preflight(files, tmp_path, name, kind):
    """What PySlowFast's trainer will load equals what gta_slowfast's loader loads."""
    cfg = preflight_cfg(tmp_path, arch="slowfast", CHECKPOINT_FILE_PATH=files[name][0],
                        CHECKPOINT_TYPE=kind, CHECKPOINT_EPOCH_RESET=True)
    (report,) = launch.preflight(cfg, pyslowfast_loader=True)
    assert report.loaded


@requires_main
def test_preflight_refuses_what_pyslowfast_inflation_cannot_load(files, tmp_path):
    cfg = preflight_cfg(tmp_path, CHECKPOINT_FILE_PATH=files["nl_2d"][0],
                        CHECKPOINT_INFLATE=True)
    launch.preflight(cfg)  # gta_slowfast's loader: the NL tensors are unused
    with pytest.raises(ValueError, match=r"nl_2d.pyth \(TRAIN.CHECKPOINT_FILE_PATH\): PySlowFast's "
                       r"loader, which its trainer runs, fails on it \(AssertionError: \)\. With "
                       r"TRAIN.CHECKPOINT_INFLATE True it needs every tensor of the checkpoint in "
                       r"the model, and 65 are not: s3.pathway0_nonlocal1.\* \(13\).*"
                       r"gta_slowfast.tools.convert nonlocal"):
        launch.preflight(cfg, pyslowfast_loader=True)


@requires_main
def test_preflight_refuses_2d_caffe2_kernels_pyslowfast_would_skip(files, tmp_path):
    path = save_caffe2(files["plain_2d"][1], tmp_path / "imagenet_like.pkl", two_d=True)
    cfg = preflight_cfg(tmp_path, CHECKPOINT_FILE_PATH=path, CHECKPOINT_TYPE="caffe2")
    launch.preflight(cfg)
    with pytest.raises(ValueError, match=r"would load 17 tensors otherwise than gta_slowfast's "
                       r"loader \(PySlowFast's Caffe2 loader neither inflates kernels nor gives 2D "
                       r"kernels a time axis\): \['s1.pathway0_stem.conv.weight', "
                       r"'s2.pathway0_res0.branch2.b.weight'"):
        launch.preflight(cfg, pyslowfast_loader=True)
