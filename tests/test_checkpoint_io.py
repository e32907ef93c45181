"""
The one checkpoint reader (gta_slowfast/checkpoint/io.py, adapt.py): both PySlowFast
generations' files, a round trip through PySlowFast's save_checkpoint in a fresh process,
checkpoints of the earlier GTA layout adapted when read, and every bad file named with its
problem, none of them running code from the file.
"""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import slowfast.models.optimizer as optim
import slowfast.utils.checkpoint as cu
import torch
from checkpoint_files import CROP, cfg_of, logits, model_zoo_files, save_pyslowfast, trained
from conftest import build, clip

from gta_slowfast import checkpoint as ck
from gta_slowfast import compat


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return model_zoo_files(tmp_path_factory)


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


def test_a_checkpoint_is_adapted_once_when_read(tmp_path):
    """The reader gives the current layout whatever the file stores: GTA's matrices saved as
    [G, G, T, T] and DDP's "module." prefix (a wrapped model saved as it is) come back as the
    model's own state dict, so matching, resampling and conversion never see the old layout."""
    state = build(cfg_of("gta")).state_dict()
    name = "s3.pathway0_nonlocal1.temporal.region_attention"
    groups = int(round(state[name].shape[0] ** 0.5))
    old = {f"module.{k}": v.reshape(groups, groups, *v.shape[-2:])
           if k.endswith(("pixel_attention", "region_attention")) else v
           for k, v in state.items()}
    assert old[f"module.{name}"].dim() == 4
    path = tmp_path / "wrapped_old_layout.pyth"
    torch.save({"model_state": old}, path)
    read = ck.read_checkpoint(str(path)).model_state
    assert list(read) == list(state)
    for key, value in state.items():
        assert torch.equal(read[key], value), key


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
