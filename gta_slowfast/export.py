"""
Exporting a model for deployment: an ONNX file (PyTorch's TorchScript-based ONNX exporter) or a
TorchScript trace, and beside it a JSON file saying what the exported model needs at inference.

Both exporters trace the model, and every attention of the blocks is written out while
tracing (``blocks.common.attention``: softmax(q k^T * scale) v as MatMul, Softmax, MatMul), so
the exported graph holds no fused attention kernel a runtime may lack.

The exported model takes one float32 tensor per pathway, [batch, 3, T, crop, crop] (R2D:
``clip`` with T = DATA.NUM_FRAMES; SlowFast: ``slow`` with T / SLOWFAST.ALPHA frames, then
``fast`` with T), the frames normalised as the config's test normalises them, and returns
[batch, classes]: the softmax scores of PySlowFast's eval-mode head, or with ``logits`` the
head's logits. The batch size is dynamic; T, channels and crop size are fixed.
"""

import copy
import json
import warnings

import torch
from torch import nn

from . import compat
from .models import dummy_inputs

ONNX_OPSET = 17


class ExportableModel(nn.Module):
    """A PySlowFast video model whose forward takes the pathways as separate tensors (exporters
    take tensors, not a list) and returns the eval-mode head's softmax scores, or with
    ``logits`` the head's logits (its softmax replaced by the identity: the head averages over
    positions after its activation, so this is the average of the logits)."""

    def __init__(self, model, logits=False):
        super().__init__()
        self.model = copy.deepcopy(model)
        if logits:
            self.model.head.act = nn.Identity()
        self.eval()  # exporters put the module back in the mode it had, here eval

    def forward(self, *pathways):
        return self.model(list(pathways))


def input_names(cfg):
    """The exported model's input names: ``clip`` (one pathway), or ``slow`` and ``fast``."""
    return ["slow", "fast"] if compat.model_class_name(cfg) == "SlowFast" else ["clip"]


def example_inputs(cfg, batch_size=2):
    """Random test-sized inputs of the model of ``cfg`` (TEST_CROP_SIZE), one per pathway."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(0)
    inputs = dummy_inputs(cfg, batch_size=batch_size, crop_size=cfg.DATA.TEST_CROP_SIZE)
    torch.random.set_rng_state(generator_state)
    return inputs


def inference_spec(cfg, class_names, inputs, output_name):
    """What an exported model needs at inference, as a JSON-ready dict: its inputs (name,
    shape, frames), the preprocessing of the config's test, its output, the class names."""
    return {
        "inputs": [
            {"name": name, "shape": ["batch"] + list(x.shape[1:]), "dtype": "float32",
             "layout": "N C T H W"}
            for name, x in zip(input_names(cfg), inputs)
        ],
        "output": {"name": output_name, "shape": ["batch", cfg.MODEL.NUM_CLASSES],
                   "kind": "softmax scores" if output_name == "scores" else "logits"},
        "preprocessing": {
            "channel_order": "BGR" if cfg.DATA.REVERSE_INPUT_CHANNEL else "RGB",
            "scale": "pixel / 255",
            "mean": list(cfg.DATA.MEAN),
            "std": list(cfg.DATA.STD),
            "num_frames": cfg.DATA.NUM_FRAMES,
            "sampling": ("TSN segments: the video split into num_frames equal segments, the "
                         "centre frame of each" if cfg.TSN.ENABLE else
                         f"dense: num_frames frames every {cfg.DATA.SAMPLING_RATE} frames at "
                         f"{cfg.DATA.TARGET_FPS} fps"),
            "resize": (f"to {list(cfg.TSN.RESIZE)} (height, width)" if cfg.TSN.ENABLE else
                       f"short side to {cfg.DATA.TEST_CROP_SIZE}"),
            "crop": f"centre {cfg.DATA.TEST_CROP_SIZE} x {cfg.DATA.TEST_CROP_SIZE}",
        },
        "class_names": class_names,
    }


def _traced(function):
    """Runs an exporter with the tracer's warnings off: they concern the shape checks of the
    blocks (clip length, channels), which hold for every input the exported model accepts."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        return function()


def export_onnx(model, cfg, path, opset=ONNX_OPSET, logits=False, batch_size=2):
    """
    Writes ``model`` (built from ``cfg``) to the ONNX file ``path`` with opset ``opset`` and a
    dynamic batch axis, through PyTorch's TorchScript-based exporter (``dynamo=False``: it
    traces, so the blocks write their attention out). Returns (exported module, example
    inputs).
    """
    exportable = ExportableModel(model, logits)
    inputs = example_inputs(cfg, batch_size)
    names = input_names(cfg)
    output = "logits" if logits else "scores"
    _traced(lambda: torch.onnx.export(
        exportable, tuple(inputs), path, input_names=names, output_names=[output],
        dynamic_axes={name: {0: "batch"} for name in names + [output]},
        opset_version=opset, dynamo=False,
    ))
    return exportable, inputs


def export_torchscript(model, cfg, path, logits=False, batch_size=2):
    """Writes a TorchScript trace of ``model`` (built from ``cfg``) to ``path``
    (``torch.jit.load`` reads it without gta_slowfast or PySlowFast). Returns (exported module,
    example inputs)."""
    exportable = ExportableModel(model, logits)
    inputs = example_inputs(cfg, batch_size)
    # No check_trace: convert compares the saved trace with PyTorch itself.
    traced = _traced(lambda: torch.jit.trace(exportable, tuple(inputs), check_trace=False))
    traced.save(path)
    return exportable, inputs


def write_spec(path, spec):
    """The inference spec as JSON at ``path``."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=2)
