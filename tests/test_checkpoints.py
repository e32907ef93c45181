"""
PySlowFast checkpoints into GTA models: model-zoo formats (PyTorch, Caffe2), fine-tuning with
identity-initialised blocks, testing, resuming, both PySlowFast generations' files, clear errors,
the launcher's pre-flight check, and the ``convert nonlocal`` tool.
"""

import os
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest
import slowfast.models.optimizer as optim
import slowfast.utils.checkpoint as cu
import torch
import yaml
from conftest import REPO, build, clip, requires_main, small_cfg
from slowfast.utils.c2_model_loading import get_name_convert_func

import gta_slowfast
from gta_slowfast import checkpoint as ck
from gta_slowfast import compat
from gta_slowfast.engine import launch, upstream
from gta_slowfast.tools import convert

# ---------------------------------------------------------------------------------------------
# Helpers

CROP = 32  # pixels; the tests here are about weights, not resolution


def cfg_of(variant="gta", arch="2d", **kwargs):
    """conftest's small_cfg at CROP pixels."""
    return small_cfg(variant, arch=arch, crop=CROP, **kwargs)



def plain_cfg(arch="2d", **kwargs):
    """cfg_of without blocks: the backbone a model-zoo checkpoint was trained as."""
    cfg = cfg_of("nonlocal", arch=arch, **kwargs)
    paths = len(cfg.DATA.INPUT_CHANNEL_NUM)
    cfg.NONLOCAL.LOCATION = [[[]] * paths] * 4
    return cfg


def nonlocal_cfg(arch="2d"):
    """cfg_of with PySlowFast's stock non-local blocks at the GTA places, on pathway 0 only
    (Caffe2 names exist for the slow pathway's blocks only)."""
    cfg = cfg_of("nonlocal", arch=arch)
    if arch == "slowfast":
        cfg.NONLOCAL.LOCATION = [[[], []], [[1, 3], []], [[1, 3, 5], []], [[], []]]
    return cfg


def trained(model, cfg, seed=5):
    """Gives every BN random affine parameters, as after training (so that every stock
    non-local block, whose final BN scale starts at 0, computes something), and the running
    statistics of a batch of random clips."""
    gen = torch.Generator().manual_seed(seed)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for norm in norms:
            norm.weight.copy_(torch.rand(norm.num_features, generator=gen) * 0.5 + 0.5)
            norm.bias.copy_(torch.randn(norm.num_features, generator=gen) * 0.1)
            norm.reset_running_stats()
            norm.momentum = None  # cumulative average: the statistics of the batch
        model.train()
        model(list(clip(cfg, seed=seed)))
    for norm in norms:
        norm.momentum = 0.1
    return model.eval()


def logits(model, inputs):
    """The head's projection output (before the test-time softmax), in eval mode."""
    out = []
    handle = model.head.projection.register_forward_hook(lambda m, i, o: out.append(o))
    model.eval()
    with torch.no_grad():
        model(list(inputs))
    handle.remove()
    return out[0]


def save_pyslowfast(model, cfg, directory, epoch):
    """A checkpoint as the installed PySlowFast's save_checkpoint writes it (with the epoch,
    optimizer state and config of a training run); returns its path."""
    cfg = cfg.clone()
    cfg.OUTPUT_DIR = str(directory)
    optimizer = optim.construct_optimizer(model, cfg)
    return cu.save_checkpoint(str(directory), model, optimizer, epoch, cfg)


def block_tensors(model):
    return [k for k in model.state_dict() if ck.BLOCK_KEY.match(k)]


def final_norm_scales_of(state):
    """The final BN scale of every residual part of every added block in ``state``."""
    return {k: v for k, v in state.items()
            if re.search(r"_nonlocal\d+\.(spatial|temporal)\.bn\.weight$", k)}


def final_norm_scales(model):
    return final_norm_scales_of(model.state_dict())


BN_C2 = {"weight": "s", "bias": "b", "running_mean": "rm", "running_var": "riv"}
CONV_C2 = {"weight": "w", "bias": "b"}
LAST_BLOCK = {"2": 2, "3": 3, "4": 5}  # ResNet-50: res2_2, res3_3, res4_5 feed the fusions


def _t(pathway):
    return "t_" if pathway == "1" else ""


C2_MODULES = [
    (r"s1\.pathway(\d)_stem\.conv", lambda m: f"{_t(m[1])}conv1", CONV_C2),
    (r"s1\.pathway(\d)_stem\.bn", lambda m: f"{_t(m[1])}res_conv1_bn", BN_C2),
    (r"s(\d)\.pathway(\d)_res(\d+)\.branch2\.([abc])",
     lambda m: f"{_t(m[2])}res{m[1]}_{m[3]}_branch2{m[4]}", CONV_C2),
    (r"s(\d)\.pathway(\d)_res(\d+)\.branch2\.([abc])_bn",
     lambda m: f"{_t(m[2])}res{m[1]}_{m[3]}_branch2{m[4]}_bn", BN_C2),
    (r"s(\d)\.pathway(\d)_res(\d+)\.branch1", lambda m: f"{_t(m[2])}res{m[1]}_{m[3]}_branch1",
     CONV_C2),
    (r"s(\d)\.pathway(\d)_res(\d+)\.branch1_bn",
     lambda m: f"{_t(m[2])}res{m[1]}_{m[3]}_branch1_bn", BN_C2),
    (r"s1_fuse\.conv_f2s", lambda m: "t_pool1_subsample", CONV_C2),
    (r"s1_fuse\.bn", lambda m: "t_pool1_subsample_bn", BN_C2),
    (r"s(\d)_fuse\.conv_f2s", lambda m: f"t_res{m[1]}_{LAST_BLOCK[m[1]]}_branch2c_bn_subsample",
     CONV_C2),
    (r"s(\d)_fuse\.bn", lambda m: f"t_res{m[1]}_{LAST_BLOCK[m[1]]}_branch2c_bn_subsample_bn",
     BN_C2),
    (r"s(\d)\.pathway0_nonlocal(\d+)\.conv_(theta|phi|g|out)",
     lambda m: f"nonlocal_conv{m[1]}_{m[2]}_{m[3]}", CONV_C2),
    (r"s(\d)\.pathway0_nonlocal(\d+)\.bn", lambda m: f"nonlocal_conv{m[1]}_{m[2]}_bn", BN_C2),
    (r"head\.projection", lambda m: "pred", CONV_C2),
]


def caffe2_name(name):
    """The Caffe2 blob name of a PySlowFast tensor: slowfast/utils/c2_model_loading.py's rules,
    read backwards."""
    module, leaf = name.rsplit(".", 1)
    for pattern, base, leaves in C2_MODULES:
        match = re.fullmatch(pattern, module)
        if match:
            return f"{base(match)}_{leaves[leaf]}"
    raise KeyError(f"no Caffe2 name for {name}")


def save_caffe2(model, path, two_d=False):
    """``model`` as a Caffe2 checkpoint ({"blobs": {name: array}}, with the solver blobs a
    Caffe2 checkpoint also holds); ``two_d``: kernels of time size 1 stored 2D, as ImageNet
    models. Checks the names against PySlowFast's converter."""
    convert_name = get_name_convert_func()
    blobs = {}
    for name, tensor in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue  # no Caffe2 counterpart
        blob = caffe2_name(name)
        assert convert_name(blob) == name, (blob, convert_name(blob), name)
        array = tensor.numpy().copy()
        if two_d and array.ndim == 5 and array.shape[2] == 1:
            array = array[:, :, 0]
        blobs[blob] = array
        blobs[blob + "_momentum"] = np.zeros_like(array)
    blobs["lr"] = np.array([0.1], dtype=np.float32)
    blobs["model_iter"] = np.array([1000], dtype=np.int64)
    with open(path, "wb") as f:
        pickle.dump({"blobs": blobs}, f, protocol=2)
    return str(path)


def train_step(model, cfg, inputs):
    """One SGD step (PySlowFast's optimizer and cross-entropy) on ``inputs``."""
    optimizer = optim.construct_optimizer(model, cfg)
    model.train()
    labels = torch.arange(inputs[0].shape[0]) % cfg.MODEL.NUM_CLASSES
    loss = torch.nn.functional.cross_entropy(model(list(inputs)), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def write_config(cfg, path):
    """``cfg`` as a YAML file that load_config reads on either generation."""
    data = yaml.safe_load(cfg.dump())
    if compat.GENERATION == "main":
        data["DATA"].pop("CROP_SIZE")  # set by small_cfg for the snapshot, unknown to main
    path.write_text(yaml.safe_dump(data))
    return str(path)


# ---------------------------------------------------------------------------------------------
# Checkpoint files, made once


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Pretrained-format checkpoints: plain SlowFast and R2D (PyTorch), stock-NL SlowFast and
    R2D (Caffe2 and PyTorch), and the models they hold."""
    root = tmp_path_factory.mktemp("ckpt")
    out = {}
    for arch in ("slowfast", "2d"):
        cfg = plain_cfg(arch)
        model = trained(build(cfg, seed=11), cfg)
        out[f"plain_{arch}"] = (save_pyslowfast(model, cfg, root / f"plain_{arch}", 39), model)
        nl_cfg = nonlocal_cfg(arch)
        nl = trained(build(nl_cfg, seed=12), nl_cfg)
        out[f"c2_{arch}"] = (save_caffe2(nl, root / f"nl_{arch}.pkl"), nl)
    nl = out["c2_2d"][1]
    path = root / "nl_2d.pyth"
    torch.save({"model_state": nl.state_dict()}, path)
    out["nl_2d"] = (str(path), nl)
    return out


def without_blocks(nl_model, arch):
    """The stock-NL ``nl_model``'s network with its non-local blocks removed (strict load)."""
    model = build(plain_cfg(arch))
    state = {k: v for k, v in nl_model.state_dict().items() if not ck.BLOCK_KEY.match(k)}
    model.load_state_dict(state, strict=True)
    return model


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


# ---------------------------------------------------------------------------------------------
# Epoch and optimizer state


def test_fine_tuning_a_training_state_needs_epoch_reset(files, tmp_path):
    path, _ = files["plain_slowfast"]
    cfg = cfg_of("gta", arch="slowfast")
    cfg.OUTPUT_DIR = str(tmp_path)
    cfg.TRAIN.CHECKPOINT_FILE_PATH = path
    model = build(cfg)
    with pytest.raises(ValueError, match=r"plain_slowfast.*stores the training state of epoch "
                       r"39 .*240 new block tensors.*TRAIN.CHECKPOINT_EPOCH_RESET True"):
        ck.resume_or_initialize(cfg, model, optim.construct_optimizer(model, cfg))


def test_epoch_without_optimizer_state_is_named(files, tmp_path):
    _, pretrained = files["plain_2d"]
    path = tmp_path / "no_optimizer.pyth"
    torch.save({"epoch": 4, "model_state": pretrained.state_dict()}, path)
    model = build(plain_cfg())
    with pytest.raises(ValueError, match=r"no_optimizer.pyth stores epoch 4 but no "
                       r"'optimizer_state'.*CHECKPOINT_EPOCH_RESET"):
        ck.load_checkpoint(str(path), model,
                           optimizer=optim.construct_optimizer(model, plain_cfg()))


def test_exact_mode_refuses_a_checkpoint_without_the_blocks(files, tmp_path):
    cfg = cfg_of("gta")
    cfg.OUTPUT_DIR = str(tmp_path)
    cfg.TEST.CHECKPOINT_FILE_PATH = files["plain_2d"][0]
    with pytest.raises(ValueError, match=r"(?s)testing and resuming take every tensor.*"
                       r"120 tensors of the model are not in it: s3.pathway0_nonlocal1.\* \(24\).*"
                       r"fine-tune from it \(TRAIN.CHECKPOINT_FILE_PATH\)"):
        ck.load_for_test(cfg, build(cfg))


def cfg_of_a_test_only_run(tmp_path, train_checkpoint):
    """A test-only run (TRAIN.ENABLE False) of the 10-class GTA model with no
    TEST.CHECKPOINT_FILE_PATH and no checkpoint in OUTPUT_DIR: PySlowFast's test then loads
    TRAIN.CHECKPOINT_FILE_PATH."""
    cfg = cfg_of("gta")
    cfg.OUTPUT_DIR = str(tmp_path / "out")
    cfg.TRAIN.DATASET = cfg.TEST.DATASET = "synthetic"
    cfg.TRAIN.ENABLE, cfg.TEST.ENABLE = False, True
    cfg.TRAIN.CHECKPOINT_FILE_PATH = str(train_checkpoint)
    return cfg


def seven_class_checkpoint(tmp_path):
    cfg = cfg_of("gta")
    cfg.MODEL.NUM_CLASSES = 7
    path = tmp_path / "seven.pyth"
    torch.save({"model_state": build(cfg, seed=3).state_dict()}, path)
    return path


HEAD_REFUSED = (r"(?s)seven.pyth does not fit the model \(testing and resuming take every "
                r"tensor of the model from it, head included.*head.projection.weight: checkpoint "
                r"\[7, 256\], model \[10, 256\].*head.projection.bias: checkpoint \[7\], "
                r"model \[10\].*MODEL.NUM_CLASSES")


def test_a_test_loads_every_tensor_of_its_fallback_checkpoint(tmp_path):
    cfg = cfg_of("gta")
    source = build(cfg, seed=3)
    path = tmp_path / "ten.pyth"
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


@pytest.mark.parametrize("pyslowfast_loader", [False, True])
def test_preflight_refuses_a_test_only_run_of_another_class_count(tmp_path, pyslowfast_loader):
    cfg = cfg_of_a_test_only_run(tmp_path, seven_class_checkpoint(tmp_path))
    with pytest.raises(ck.CheckpointError, match=HEAD_REFUSED):
        launch.preflight(cfg, pyslowfast_loader=pyslowfast_loader)


@requires_main
def test_pyslowfast_test_loader_keeps_a_head_of_another_class_count_silently(tmp_path):
    """Why the pre-flight refuses the run above before PySlowFast's trainer starts: its
    load_test_checkpoint loads the 7-class checkpoint into the 10-class model without an error
    and keeps the head as initialised."""
    cfg = cfg_of_a_test_only_run(tmp_path, seven_class_checkpoint(tmp_path))
    model = build(cfg, seed=4)
    head = model.state_dict()["head.projection.weight"].clone()
    cu.load_test_checkpoint(cfg, model)
    assert torch.equal(model.state_dict()["head.projection.weight"], head)


@pytest.mark.parametrize("mode", ["finetune", "exact"])
def test_gta_matrices_of_another_clip_length_name_num_frames(tmp_path, mode):
    path = tmp_path / "t4.pyth"
    torch.save({"model_state": build(small_cfg("gta", frames=4, crop=CROP)).state_dict()}, path)
    model = build(cfg_of("gta"))  # DATA.NUM_FRAMES 8
    with pytest.raises(ck.CheckpointError, match=r"(?s)pixel_attention: checkpoint \[4, 4, 4\], "
                       r"model \[4, 8, 8\].*10 of GTA's temporal matrices are T x T over "
                       r"another clip length \(e.g. s3.pathway0_nonlocal1.temporal.pixel_attention: "
                       r"T=4 in the checkpoint, T=8 in the model; all: 4 vs 8; it stores no "
                       r"config\): set DATA.NUM_FRAMES"):
        ck.load_checkpoint(str(path), model, mode=mode)


def test_gta_matrices_in_the_earlier_layout_load_exactly(tmp_path):
    """A checkpoint that stores GTA's matrices as [G, G, T, T] (the layout before [G*G, T, T])
    loads exactly, every matrix in its place."""
    model = build(cfg_of("gta"))
    state = model.state_dict()
    groups = int(round(state["s3.pathway0_nonlocal1.temporal.pixel_attention"].shape[0] ** 0.5))
    old = {k: v.reshape(groups, groups, *v.shape[-2:]) if k.endswith("_attention") else v
           for k, v in state.items()}
    path = tmp_path / "old_layout.pyth"
    torch.save({"model_state": old}, path)
    fresh = build(cfg_of("gta"), seed=5)
    ck.load_checkpoint(str(path), fresh, mode="exact")
    for name, value in fresh.state_dict().items():
        assert torch.equal(value, state[name]), name


ROUND_TRIP = f"""
import sys, torch
from conftest import build, small_cfg
from gta_slowfast.checkpoint import load_checkpoint
model = build(small_cfg("gta", identity_init=False, crop={CROP}), seed=99)
report = load_checkpoint(sys.argv[1], model, mode="exact")
model.eval()
with torch.no_grad():
    y = model(list(torch.load(sys.argv[2])))
torch.save({{"y": y, "epoch": report.epoch}}, sys.argv[3])
"""


def test_round_trip_through_pyslowfast_save_checkpoint_in_a_fresh_process(tmp_path):
    cfg = cfg_of("gta", identity_init=False)
    cfg.OUTPUT_DIR = str(tmp_path)
    cfg.SOLVER.BASE_LR = 1e-4  # small steps: the random BN of trained() gives large gradients
    model = trained(build(cfg, seed=1), cfg)  # BN statistics that keep eval mode finite
    optimizer = optim.construct_optimizer(model, cfg)
    model.train()
    for step in range(2):
        x = clip(cfg, seed=10 + step)
        loss = torch.nn.functional.cross_entropy(model(list(x)), torch.tensor([1, 2]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    path = cu.save_checkpoint(str(tmp_path), model, optimizer, 2, cfg)  # after epoch 2
    x = clip(cfg, seed=20)
    torch.save(x, tmp_path / "x.pt")
    model.eval()
    with torch.no_grad():
        expected = model(list(x))
    assert torch.isfinite(expected).all()

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    result = subprocess.run([sys.executable, "-c", ROUND_TRIP, path, str(tmp_path / "x.pt"),
                             str(tmp_path / "y.pt")], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    got = torch.load(tmp_path / "y.pt")
    assert torch.equal(got["y"], expected) and got["epoch"] == 2

    # Resuming (TRAIN.AUTO_RESUME) restores the optimizer too.
    fresh = build(cfg, seed=2)
    fresh_optimizer = optim.construct_optimizer(fresh, cfg)
    assert ck.resume_or_initialize(cfg, fresh, fresh_optimizer) == 3
    restored, saved = fresh_optimizer.state_dict()["state"], optimizer.state_dict()["state"]
    assert restored.keys() == saved.keys() and len(saved) > 0
    assert all(torch.equal(restored[i]["momentum_buffer"], saved[i]["momentum_buffer"])
               for i in saved)


def _save_as(generation, model, cfg, path):
    """The dict each generation's save_checkpoint writes (main also normalises Sub-BN
    tensors, a no-op for BatchNorm3d, and adds the mixed-precision scaler's state)."""
    optimizer = optim.construct_optimizer(model, cfg)
    checkpoint = {
        "epoch": 7,
        "model_state": model.state_dict(),
        "optimizer_state": optimizer.state_dict(),
        "cfg": cfg.dump(),
    }
    if generation == "main":
        checkpoint["scaler_state"] = {"scale": 65536.0, "growth_factor": 2.0,
                                      "backoff_factor": 0.5, "growth_interval": 2000,
                                      "_growth_tracker": 0}
    torch.save(checkpoint, path)
    return str(path)


@pytest.mark.parametrize("generation", ["main", "snapshot"])
def test_checkpoints_of_either_generation_load(generation, tmp_path):
    cfg = cfg_of("gta", identity_init=False)
    model = trained(build(cfg, seed=1), cfg)
    path = _save_as(generation, model, cfg, tmp_path / f"{generation}.pyth")
    if generation == compat.GENERATION:  # the format written by hand is the installed one's
        written = save_pyslowfast(model, cfg, tmp_path / "installed", 7)
        assert set(torch.load(written, weights_only=True)) == set(
            torch.load(path, weights_only=True)) - {"scaler_state"}
    x = clip(cfg)
    expected = logits(model, x)
    ours = build(cfg, seed=2)
    assert ck.load_checkpoint(path, ours, mode="exact").epoch == 7
    assert torch.equal(logits(ours, x), expected)
    installed = build(cfg, seed=3)  # the installed PySlowFast's own loader reads it too
    assert cu.load_checkpoint(path, installed, data_parallel=False) == 7
    assert torch.equal(logits(installed, x), expected)


# ---------------------------------------------------------------------------------------------
# Clear errors


def _truncated(files, tmp_path):
    data = open(files["plain_2d"][0], "rb").read()
    path = tmp_path / "half.pyth"
    path.write_bytes(data[: len(data) // 2])
    return str(path), "pytorch"


def _truncated_caffe2(files, tmp_path):
    data = open(files["c2_2d"][0], "rb").read()
    path = tmp_path / "half.pkl"
    path.write_bytes(data[: len(data) // 2])
    return str(path), "caffe2"


def _corrupt(files, tmp_path):
    path = tmp_path / "corrupt.pyth"
    path.write_bytes(b"\x00garbage, not a checkpoint\n" * 64)
    return str(path), "pytorch"


def _empty(files, tmp_path):
    path = tmp_path / "empty.pyth"
    path.write_bytes(b"")
    return str(path), "pytorch"


def _pytorch_as_caffe2(files, tmp_path):
    return files["plain_2d"][0], "caffe2"


def _caffe2_as_pytorch(files, tmp_path):
    return files["c2_2d"][0], "pytorch"


def _bare_state_dict(files, tmp_path):
    path = tmp_path / "bare.pth"
    torch.save(files["plain_2d"][1].state_dict(), path)
    return str(path), "pytorch"


class _Exploit:
    def __reduce__(self):
        return (os.getcwd, ())


def _code_in_caffe2(files, tmp_path):
    path = tmp_path / "exploit.pkl"
    with open(path, "wb") as f:
        pickle.dump({"blobs": {"conv1_w": _Exploit()}}, f, protocol=2)
    return str(path), "caffe2"


def _numpy_epoch(files, tmp_path):
    path = tmp_path / "numpy_epoch.pyth"
    torch.save({"epoch": np.int64(3), "model_state": files["plain_2d"][1].state_dict()}, path)
    return str(path), "pytorch"


def _missing(files, tmp_path):
    return str(tmp_path / "nope.pyth"), "pytorch"


def _slowfast_into_r2d(files, tmp_path):
    return files["plain_slowfast"][0], "pytorch"


@pytest.mark.parametrize("make,error,message", [
    (_missing, FileNotFoundError, r"checkpoint .*nope.pyth does not exist"),
    (_corrupt, ValueError, r"corrupt.pyth could not be read as a pytorch checkpoint: it is not a "
     r"PyTorch zip archive: truncated or corrupt"),
    (_truncated, ValueError, r"half.pyth could not be read as a pytorch checkpoint: the zip "
     r"archive ends without its directory \(\d+ bytes\): truncated"),
    (_truncated_caffe2, ValueError, r"half.pkl could not be read as a caffe2 checkpoint: "
     r"truncated or corrupt \("),
    (_empty, ValueError, r"empty.pyth could not be read .*: the file is empty"),
    (_pytorch_as_caffe2, ValueError, r"could not be read as a caffe2 checkpoint: it is a PyTorch "
     r"checkpoint \(a zip archive\); set its CHECKPOINT_TYPE to pytorch"),
    (_caffe2_as_pytorch, ValueError, r"nl_2d.pkl could not be read as a pytorch checkpoint: .*"
     r"a Caffe2 checkpoint \(set its CHECKPOINT_TYPE to caffe2\)"),
    (_bare_state_dict, ValueError, r"bare.pth is not a PySlowFast checkpoint: expected a dict with"
     r" a 'model_state' dict .*found a dict with keys \['s1.pathway0_stem.conv.weight'"),
    (_numpy_epoch, ValueError, r"numpy_epoch.pyth could not be read as a pytorch checkpoint: it "
     r"holds Python objects other than tensors and plain values.*Unsupported global: GLOBAL "
     r"numpy.*scalar"),
    (_code_in_caffe2, ValueError, r"exploit.pkl is not loaded: it references \w+\.getcwd, and a "
     r"Caffe2 checkpoint holds numpy arrays only"),
    (_slowfast_into_r2d, ValueError, r"plain_slowfast.*checkpoint_epoch_00040.pyth does not fit "
     r"the model \(fine-tuning takes every tensor from it but those of the added blocks and the "
     r"head\):\n  15 tensors have another shape:\n    s2.pathway0_res0.branch1.weight: checkpoint "
     r"\[32, 10, 1, 1, 1\], model \[32, 8, 1, 1, 1\]"),
])
def test_bad_checkpoints_are_named_with_the_problem(files, tmp_path, make, error, message):
    path, kind = make(files, tmp_path)
    model = build(cfg_of("gta"))
    with pytest.raises(error, match=message):
        ck.load_checkpoint(path, model, kind=kind, epoch_reset=True)


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
    with pytest.raises(ValueError, match=r"stores the training state of epoch 39.*"
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


# ---------------------------------------------------------------------------------------------
# convert nonlocal


def test_convert_nonlocal_writes_a_complete_starting_point(files, tmp_path, capsys):
    src, nl = files["nl_2d"]
    target = cfg_of("gta")
    config = write_config(target, tmp_path / "gta.yaml")
    dst = tmp_path / "start.pyth"
    assert convert.main(["nonlocal", "--src", src, "--dst", str(dst), "--cfg", config]) == 0
    out = capsys.readouterr().out
    assert f"nl_2d.pyth (pytorch) -> {dst}" in out
    assert "not reused: 65 tensors of the source's non-local blocks: s3.pathway0_nonlocal1.* (13)" \
        in out
    assert "added blocks, as initialised (the identity: GTA.ZERO_INIT_FINAL_NORM True)" in out
    assert f"use: TRAIN.CHECKPOINT_FILE_PATH {dst} TRAIN.CHECKPOINT_TYPE pytorch" in out

    checkpoint = torch.load(dst, weights_only=True)
    assert set(checkpoint) == {"model_state", "cfg"}  # no epoch: training starts at epoch 0
    model = build(target, seed=6)
    report = ck.load_checkpoint(str(dst), model, mode="exact")  # the complete target model
    assert not report.unused and report.epoch == -1
    x = clip(target)
    torch.testing.assert_close(logits(model, x), logits(without_blocks(nl, "2d"), x),
                               rtol=0, atol=0)
    installed = build(target, seed=7)  # PySlowFast's loader, strict on the snapshot
    cu.load_checkpoint(str(dst), installed, data_parallel=False)
    assert torch.equal(logits(installed, x), logits(model, x))


def test_convert_nonlocal_to_dnl_with_another_class_count_from_caffe2(files, tmp_path, capsys):
    config = write_config(cfg_of("dnl"), tmp_path / "dnl.yaml")
    dst = tmp_path / "start.pyth"
    convert.main(["nonlocal", "--src", files["c2_2d"][0], "--type", "caffe2", "--dst", str(dst),
                  "--cfg", config, "MODEL.NUM_CLASSES", "174"])
    out = capsys.readouterr().out
    assert "(NONLOCAL.TYPE dnl)" in out
    assert "not reused: 60 tensors of the source's non-local blocks" in out
    assert "head, as initialised (not in the source, or of another shape there): " \
           "head.projection.weight (source [10, 256], target [174, 256])" in out
    state = torch.load(dst, weights_only=True)["model_state"]
    assert state["head.projection.bias"].shape == (174,)
    assert set(state) == set(build(cfg_of("dnl")).state_dict())  # the complete DNL model


def test_convert_nonlocal_refuses_another_architecture(files, tmp_path):
    config = write_config(cfg_of("gta"), tmp_path / "gta.yaml")
    with pytest.raises(ValueError,
                       match=r"(?s)does not fit the model.*15 tensors have another shape"):
        convert.main(["--debug", "nonlocal", "--src", files["plain_slowfast"][0], "--dst",
                      str(tmp_path / "x.pyth"), "--cfg", config])
    assert not (tmp_path / "x.pyth").exists()


def test_convert_nonlocal_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        convert.main(["nonlocal", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--src" in out and "--type {pytorch,caffe2}" in out and "--inflate" in out


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
