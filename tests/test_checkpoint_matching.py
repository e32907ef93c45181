"""
Which of a checkpoint's tensors go into which of a model's (gta_slowfast/checkpoint/
matching.py): fine-tuning a pretrained network into GTA / DNL models (identity-initialised
blocks, heads of another class count, inflation, PySlowFast's clear-name pattern), exact loads,
GTA matrices of another clip length, and the config keys that change what a network computes
but none of its tensors.
"""

import re

import pytest
import slowfast.models.optimizer as optim
import torch
import yaml
from checkpoint_files import (
    CROP,
    block_tensors,
    cfg_of,
    final_norm_scales,
    logits,
    model_zoo_files,
    plain_cfg,
    save_caffe2,
    save_pyslowfast,
    train_step,
    without_blocks,
)
from conftest import build, clip, small_cfg

from gta_slowfast import checkpoint as ck


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return model_zoo_files(tmp_path_factory)


# ---------------------------------------------------------------------------------------------
# Fine-tuning


@pytest.mark.parametrize("arch", ["slowfast", "2d"])
def test_pretrained_network_into_gta_keeps_its_logits_then_trains(files, arch, tmp_path):
    path, pretrained = files[f"plain_{arch}"]
    cfg = cfg_of("gta", arch=arch)
    cfg.OUTPUT_DIR = str(tmp_path)
    cfg.TRAIN.CHECKPOINT_FILE_PATH = path
    cfg.TRAIN.CHECKPOINT_EPOCH_RESET = True
    model = build(cfg, seed=3)
    optimizer = optim.construct_optimizer(model, cfg)
    assert ck.resume_or_initialize(cfg, model, optimizer) == 0  # fine-tuning starts at epoch 0

    x = clip(cfg)
    torch.testing.assert_close(logits(model, x), logits(pretrained, x), rtol=0, atol=0)
    scales = final_norm_scales(model)
    assert len(scales) == 2 * 5 * len(cfg.DATA.INPUT_CHANNEL_NUM)
    assert all(not s.any() for s in scales.values())  # identity: final scale 0
    train_step(model, cfg, x)
    assert all(s.abs().min() > 0 for s in final_norm_scales(model).values())


def test_report_says_what_loaded_what_is_new_and_what_was_unused(files):
    path, nl = files["c2_slowfast"]
    model = build(cfg_of("gta", arch="slowfast"))
    report = ck.load_checkpoint(path, model, kind="caffe2")
    nl_tensors = [k for k in nl.state_dict() if ck.BLOCK_KEY.match(k)
                  and not k.endswith("num_batches_tracked")]
    assert report.unused == nl_tensors and len(nl_tensors) == 5 * 12
    assert report.new_blocks == [k for k in block_tensors(model)
                                 if not k.endswith("num_batches_tracked")]
    assert not report.head_reinitialized and report.epoch == -1
    assert len(report.loaded) == len([k for k in model.state_dict()
                                      if not ck.BLOCK_KEY.match(k)
                                      and not k.endswith("num_batches_tracked")])
    summary = report.summary()
    assert "in the checkpoint but unused: 60 tensors: s3.pathway0_nonlocal1.* (12)" in summary
    assert "newly initialised (added blocks, kept as built): 240 tensors" in summary


@pytest.mark.parametrize("arch", ["slowfast", "2d"])
def test_caffe2_network_with_stock_nonlocal_into_gta(files, arch):
    """The NL blocks are left out (unused); the GTA model computes the backbone without them."""
    path, nl = files[f"c2_{arch}"]
    cfg = cfg_of("gta", arch=arch)
    model = build(cfg, seed=4)
    ck.load_checkpoint(path, model, kind="caffe2")
    x = clip(cfg)
    expected = logits(without_blocks(nl, arch), x)
    torch.testing.assert_close(logits(model, x), expected, rtol=0, atol=0)
    assert (logits(nl, x) - expected).abs().max() > 1e-3  # the NL blocks did compute something


def test_head_of_another_class_count_is_reinitialised(files):
    path, pretrained = files["plain_2d"]
    cfg = cfg_of("gta")
    cfg.MODEL.NUM_CLASSES = 7
    model = build(cfg, seed=8)
    head = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("head.")}
    report = ck.load_checkpoint(path, model, epoch_reset=True)
    assert report.head_reinitialized == {
        "head.projection.weight": (10, 256), "head.projection.bias": (10,)
    }
    assert "head.projection.weight (checkpoint [10, 256])" in report.summary()
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in head.items())
    stem = "s1.pathway0_stem.conv.weight"
    assert torch.equal(state[stem], pretrained.state_dict()[stem])


def test_2d_kernels_are_inflated_on_request(files, tmp_path):
    _, pretrained = files["plain_2d"]
    two_d = save_caffe2(pretrained, tmp_path / "imagenet_like.pkl", two_d=True)
    # Into R2D, a 2D kernel is a kernel of time size 1: no inflation needed.
    r2d = build(cfg_of("gta"))
    assert not ck.load_checkpoint(two_d, r2d, kind="caffe2").inflated
    stem = "s1.pathway0_stem.conv.weight"
    assert torch.equal(r2d.state_dict()[stem], pretrained.state_dict()[stem])

    i3d = build(cfg_of("gta", arch="i3d"))
    with pytest.raises(ValueError, match=r"(?s)imagenet_like.pkl does not fit the model.*"
                       r"s1.pathway0_stem.conv.weight: checkpoint \[8, 3, 7, 7\], model "
                       r"\[8, 3, 5, 7, 7\].*set TRAIN.CHECKPOINT_INFLATE True"):
        ck.load_checkpoint(two_d, i3d, kind="caffe2")
    report = ck.load_checkpoint(two_d, i3d, kind="caffe2", inflate=True)
    assert set(report.inflated) == {  # the stem and the branch2.a kernels with time size > 1
        k for k, v in i3d.state_dict().items() if v.dim() == 5 and v.shape[2] > 1
    } and stem in report.inflated
    expected = pretrained.state_dict()[stem].repeat(1, 1, 5, 1, 1) / 5
    assert torch.equal(i3d.state_dict()[stem], expected)


def test_clear_name_pattern_as_pyslowfast(files, tmp_path):
    _, pretrained = files["plain_2d"]
    path = tmp_path / "prefixed.pyth"
    torch.save({"model_state": {f"backbone.{k}": v for k, v in pretrained.state_dict().items()}},
               path)
    model = build(cfg_of("gta"))
    with pytest.raises(ValueError, match="tensors of the model are not in it"):
        ck.load_checkpoint(str(path), model)
    report = ck.load_checkpoint(str(path), model, clear_name_pattern=("backbone.",))
    assert not report.unused and not report.head_reinitialized


def test_exact_mode_refuses_a_checkpoint_without_the_blocks(files, tmp_path):
    cfg = cfg_of("gta")
    cfg.OUTPUT_DIR = str(tmp_path)
    cfg.TEST.CHECKPOINT_FILE_PATH = files["plain_2d"][0]
    with pytest.raises(ValueError, match=r"(?s)testing and resuming take every tensor.*"
                       r"120 tensors of the model are not in it: s3.pathway0_nonlocal1.\* \(24\).*"
                       r"fine-tune from it \(TRAIN.CHECKPOINT_FILE_PATH\)"):
        ck.load_for_test(cfg, build(cfg))


@pytest.mark.parametrize("mode", ["finetune", "exact"])
def test_gta_matrices_of_another_clip_length_name_num_frames(tmp_path, mode):
    path = tmp_path / "t4.pyth"
    torch.save({"model_state": build(small_cfg("gta", frames=4, crop=CROP)).state_dict()}, path)
    model = build(cfg_of("gta"))  # DATA.NUM_FRAMES 8
    with pytest.raises(ck.CheckpointError, match=r"(?s)pixel_attention: checkpoint \[4, 4, 4\], "
                       r"model \[4, 8, 8\].*10 of GTA's temporal matrices are T x T over "
                       r"another clip length \(e.g. "
                       r"s3.pathway0_nonlocal1.temporal.pixel_attention: "
                       r"T=4 in the checkpoint, T=8 in the model; all: 4 vs 8; it stores no "
                       r"config\): set DATA.NUM_FRAMES"):
        ck.load_checkpoint(str(path), model, mode=mode)


# ---------------------------------------------------------------------------------------------
# Keys that change what the network computes but none of its tensors


def _with(cfg, **keys):
    for key, value in keys.items():
        node, name = key.rsplit("__", 1) if "__" in key else (None, key)
        (cfg[node] if node else cfg)[name] = value
    return cfg


def _stock(path):
    """The checkpoint at ``path`` as stock PySlowFast would have saved it: its stored config
    without the TSM node, which PySlowFast does not have."""
    data = torch.load(path, map_location="cpu", weights_only=True)
    stored = yaml.safe_load(data["cfg"])
    del stored["TSM"]
    data["cfg"] = yaml.safe_dump(stored)
    torch.save(data, path)
    return path


@pytest.mark.parametrize("saved, loaded, stock, key, theirs, ours", [
    (dict(TSM__ENABLE=True), {}, False, "TSM.ENABLE", True, False),
    ({}, dict(TSM__ENABLE=True), True, "TSM.ENABLE", False, True),
    (dict(TSM__ENABLE=True, TSM__FRACTION=0.25), dict(TSM__ENABLE=True), False,
     "TSM.FRACTION", 0.25, 0.125),
    (dict(NONLOCAL__TYPE="dnl"), dict(NONLOCAL__TYPE="sa_tape"), False,
     "NONLOCAL.TYPE", "dnl", "sa_tape"),
])
def test_a_checkpoint_of_another_function_is_refused_naming_the_key(
    tmp_path, saved, loaded, stock, key, theirs, ours, caplog
):
    saved_cfg = _with(cfg_of("gta"), **saved)
    path = save_pyslowfast(build(saved_cfg), saved_cfg, tmp_path / "saved", 3)
    if stock:
        path = _stock(path)
    cfg = _with(cfg_of("gta"), **loaded)
    model = build(cfg, seed=1)
    with pytest.raises(ck.CheckpointError) as refusal:
        ck.load_checkpoint(path, model, mode="exact", cfg=cfg)
    message = str(refusal.value)
    assert "\n" not in message
    assert f"{key} {theirs} in the checkpoint, {ours} in this config" in message
    assert f"Set {key} {theirs} " in message and "GTA.CHECK_CHECKPOINT_CONFIG False" in message
    # the same through the test plan that every tool uses (run_net's pre-flight here)
    cfg.OUTPUT_DIR = str(tmp_path / "out")
    cfg.TRAIN.ENABLE, cfg.TEST.CHECKPOINT_FILE_PATH = False, path
    with pytest.raises(ck.CheckpointError, match=re.escape(f"{key} {theirs} in the checkpoint")):
        ck.preflight(cfg)
    # the flag loads it anyway, and a fine-tune starts from it; both say so
    cfg.GTA.CHECK_CHECKPOINT_CONFIG = False
    caplog.clear()
    report = ck.load_checkpoint(path, model, mode="exact", cfg=cfg)
    assert report.loaded and f"{key} {theirs} in the checkpoint" in caplog.text
    cfg.GTA.CHECK_CHECKPOINT_CONFIG = True
    caplog.clear()
    ck.load_checkpoint(path, model, mode="finetune", cfg=cfg)
    assert f"{key} {theirs} in the checkpoint" in caplog.text


def test_keys_that_do_not_matter_are_not_compared(tmp_path):
    """TSM's fraction without TSM, and the block type where the blocks are new, change
    nothing the checkpoint computed."""
    saved_cfg = _with(plain_cfg(), TSM__FRACTION=0.25)
    path = save_pyslowfast(build(saved_cfg), saved_cfg, tmp_path / "saved", 3)
    ck.load_checkpoint(path, build(plain_cfg()), mode="exact", cfg=plain_cfg())
    report = ck.load_checkpoint(path, build(cfg_of("gta")), mode="finetune", cfg=cfg_of("gta"))
    assert report.new_blocks
