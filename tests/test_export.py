"""Exported models (ONNX in onnxruntime, TorchScript traces) against eager PyTorch."""

import copy
import importlib.util
import json
import os

import pytest
import torch
import torch.nn.functional as F
from conftest import build, small_cfg

import gta_slowfast
from gta_slowfast import export
from gta_slowfast.tools import convert

requires_onnxruntime = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None,
    reason="onnx / onnxruntime are not installed (pip install 'gta_slowfast[export]')",
)
TOLERANCE = 1e-4


def exportable_cfg(variant, arch="2d"):
    """A small model whose blocks are not the identity (their final norm starts at 1), so a
    wrongly exported block changes the logits; PySlowFast's head initialisation (std 0.01)."""
    slowfast = arch == "slowfast"  # its Fast pathway has width / SLOWFAST.BETA_INV channels
    cfg = small_cfg(variant, arch=arch, frames=8 if slowfast else 4, crop=32,
                    width=8 if slowfast else 4, identity_init=False)
    cfg.DATA.TEST_CROP_SIZE = 32
    cfg.MODEL.FC_INIT_STD = 0.01
    return cfg


BLOCK_GAIN = 0.1


def trained_like(cfg, seed=0):
    """
    The model of ``cfg`` with batch-norm statistics of its own activations (a forward pass in
    train mode, cumulative averages), as a trained model has, and every block's final norm at
    scale ``BLOCK_GAIN`` (not 0: a wrongly exported block still shows). At random weights and
    final scale 1, five stacked attention blocks amplify float32 rounding itself past the
    tolerance (PyTorch's own float32 DNL forward is 2e-3 from float64).
    """
    model = build(cfg, seed)
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = None
            if "nonlocal" in name and name.endswith(".bn"):
                module.weight.data.fill_(BLOCK_GAIN)
    torch.manual_seed(seed + 100)
    with torch.no_grad():
        model.train()(gta_slowfast.dummy_inputs(cfg, batch_size=4, crop_size=32))
    return model.eval()


@pytest.fixture
def checkpoint(tmp_path):
    """A checkpoint as PySlowFast's writer stores it (model_state, cfg as YAML text) of a small
    R2D + GTA model of the synthetic dataset's six named classes."""
    cfg = exportable_cfg("gta")
    cfg.TEST.DATASET = "synthetic"
    cfg.MODEL.NUM_CLASSES = 6
    path = str(tmp_path / "gta.pyth")
    torch.save({"model_state": trained_like(cfg).state_dict(), "cfg": cfg.dump()}, path)
    return path


def onnxruntime_outputs(path, inputs):
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    feed = {arg.name: x.numpy() for arg, x in zip(session.get_inputs(), inputs)}
    return torch.from_numpy(session.run(None, feed)[0])


def eager_logits(model, inputs):
    """The model's logits in eval mode (PySlowFast's head: FC, softmax in eval, then the mean
    over positions; without the softmax the mean of the FC outputs)."""
    model = model.eval()
    model.head.act = torch.nn.Identity()
    with torch.no_grad():
        return model([x.clone() for x in inputs])


@requires_onnxruntime
@pytest.mark.parametrize("variant,arch", [("gta", "2d"), ("dnl", "2d"), ("nonlocal", "2d"),
                                          ("gta", "slowfast")])
def test_onnx_logits_equal_pytorch_in_onnxruntime(variant, arch, tmp_path, monkeypatch):
    import onnx

    def fused(*args, **kwargs):
        raise AssertionError("scaled_dot_product_attention reached while exporting")

    cfg = exportable_cfg(variant, arch)
    model = trained_like(cfg)
    path = str(tmp_path / "model.onnx")
    with monkeypatch.context() as patch:  # the blocks write softmax(q k^T) v out
        patch.setattr(F, "scaled_dot_product_attention", fused)
        export.export_onnx(model, cfg, path, logits=True, batch_size=2)
        if variant != "nonlocal":  # the eager forward does run the fused kernel
            with pytest.raises(AssertionError, match="reached"), torch.no_grad():
                copy.deepcopy(model)(export.example_inputs(cfg))
    graph = onnx.load(path).graph
    assert [i.name for i in graph.input] == (["slow", "fast"] if arch == "slowfast" else ["clip"])
    torch.manual_seed(5)
    inputs = gta_slowfast.dummy_inputs(cfg, batch_size=3, crop_size=32)  # another batch size
    got = onnxruntime_outputs(path, inputs)
    expected = eager_logits(copy.deepcopy(model), inputs)
    assert got.shape == (3, cfg.MODEL.NUM_CLASSES)
    scale = max(expected.abs().max().item(), 1.0)  # 1e-4 of the logits' scale
    torch.testing.assert_close(got, expected, atol=TOLERANCE * scale, rtol=TOLERANCE)
    # onnxruntime is as close to the exact (float64) logits as PyTorch's own float32 forward
    exact = eager_logits(copy.deepcopy(model).double(), [x.double() for x in inputs])
    pytorch_error = (expected.double() - exact).abs().max().item()
    assert (got.double() - exact).abs().max().item() <= 2 * pytorch_error + 1e-6
    assert not torch.allclose(expected[0], expected[1], atol=100 * TOLERANCE)  # told apart


def test_torchscript_trace_equals_pytorch_at_another_batch_size(tmp_path):
    cfg = exportable_cfg("gta", "slowfast")
    model = trained_like(cfg)
    path = str(tmp_path / "model.pt")
    export.export_torchscript(model, cfg, path, logits=True, batch_size=2)
    torch.manual_seed(5)
    inputs = gta_slowfast.dummy_inputs(cfg, batch_size=3, crop_size=32)
    with torch.no_grad():
        got = torch.jit.load(path)(*inputs)
    torch.testing.assert_close(got, eager_logits(model, inputs), atol=TOLERANCE, rtol=TOLERANCE)


def test_convert_command_exports_a_checkpoint_with_its_spec(checkpoint, tmp_path, capsys):
    dst = str(tmp_path / "model.pt")
    assert convert.main(["torchscript", "--checkpoint", checkpoint, "--dst", dst]) == 0
    out = capsys.readouterr().out
    assert "torch.jit.load: outputs match PyTorch's" in out
    with open(dst + ".json") as f:
        spec = json.load(f)
    assert spec["inputs"][0]["name"] == "clip" and spec["inputs"][0]["shape"] == [
        "batch", 3, 4, 32, 32]
    assert spec["preprocessing"]["mean"] == [0.45] * 3
    assert spec["class_names"][:2] == ["sliding in", "sliding out"]
    scores = torch.jit.load(dst)(torch.randn(2, 3, 4, 32, 32))
    torch.testing.assert_close(scores.sum(dim=1), torch.ones(2))  # softmax scores


@requires_onnxruntime
def test_convert_onnx_command(checkpoint, tmp_path, capsys):
    dst = str(tmp_path / "model.onnx")
    assert convert.main(["onnx", "--checkpoint", checkpoint, "--dst", dst, "--logits"]) == 0
    assert "onnxruntime (CPU): outputs match PyTorch's" in capsys.readouterr().out
    assert os.path.isfile(dst + ".json")
