"""
Converts checkpoints into PySlowFast checkpoints that initialise a video model through
TRAIN.CHECKPOINT_FILE_PATH: image-classification ResNets into the R2D ResNet (MODEL.ARCH 2d), and
video networks with stock non-local blocks into GTA / DNL models.

    python -m gta_slowfast.tools.convert torchvision --src resnet50.pth --dst r2d50_imagenet.pyth

torchvision: a torchvision ResNet-50 state dict (bare, or under "state_dict" or "model", with or
without DataParallel's "module." prefix), renamed by gta_slowfast.checkpoint.torchvision_resnet.
Convolutions gain a time axis of size 1, batch-norm parameters and statistics are carried, the
ImageNet classifier (fc) is dropped so the video head starts from PySlowFast's initialisation.
The output holds "model_state" only (no epoch, no optimizer state), so training starts at epoch
0 with a fresh optimizer. Load it with TRAIN.CHECKPOINT_TYPE pytorch and
TRAIN.CHECKPOINT_INFLATE True (the PyPI snapshot's loader takes a partial state dict on that
path only; the kernels already have their final shape).

    python -m gta_slowfast.tools.convert nonlocal --src I3D_NLN_8x8_R50.pkl --type caffe2 \\
        --cfg CONFIG --dst i3d_gta_init.pyth [KEY VALUE ...]

nonlocal: a PySlowFast checkpoint (PyTorch, or Caffe2 with --type caffe2) of a network with or
without PySlowFast's stock non-local blocks -> the starting point of the model of a GTA / DNL
config. Every tensor that fits the target model is reused (the backbone, inflated with --inflate;
the head if the class count is the same); the added blocks and a head of another class count keep
the initialisation of the target config (RNG_SEED), so with GTA.ZERO_INIT_FINAL_NORM the blocks
start as the identity. Nothing of a stock non-local block is reused: its projections
(conv_theta / phi / g: C -> C/2, conv_out: C/2 -> C) have other widths than those of GTA / DNL
(C -> C/4), over another attention (space-time vs. within a frame, then over time), and its output
BN is fit to that attention's output; copying the BN would make the new block start away from the
identity, on the output of random projections. The network written therefore computes the
backbone without its non-local blocks. The output holds the complete target model and no epoch
or optimizer state: it loads with TRAIN.CHECKPOINT_TYPE pytorch, without inflation, by
gta_slowfast's and by PySlowFast's loaders, and training starts at epoch 0 with a fresh optimizer.

    python -m gta_slowfast.tools.convert resample --src gta_8x1.pyth --dst gta_16x1.pyth \\
        --num-frames 16

resample: a GTA checkpoint -> the same model for clips of another length. Every T x T temporal
matrix becomes M' = R(T->T') M R(T'->T) (gta_slowfast.checkpoint.resample): each row keeps its
total weight, and T' = T changes nothing. Every other tensor is kept; the stored config's
DATA.NUM_FRAMES is updated; epoch and optimizer state are dropped.

    python -m gta_slowfast.tools.convert onnx --checkpoint gta_8x1.pyth --dst gta_8x1.onnx
    python -m gta_slowfast.tools.convert torchscript --checkpoint gta_8x1.pyth --dst gta_8x1.pt

onnx, torchscript: a trained checkpoint -> a model for deployment (gta_slowfast.export): an ONNX
file (opset 17 unless --opset, dynamic batch axis) or a TorchScript trace, built from the config
the checkpoint stores (or --cfg, with KEY VALUE overrides) and loaded exactly. Both trace the
model, so every attention is written out (MatMul, Softmax, MatMul; no fused kernel). Inputs:
one float32 tensor [batch, 3, T, crop, crop] per pathway ("clip"; SlowFast: "slow", "fast"),
normalised as the config's test does; output [batch, classes], softmax scores (--logits: the
logits). Beside the file, <dst>.json records the inputs, the preprocessing (channel order, mean,
std, frames and their sampling, resize, crop) and the class names (--labels, else the dataset's
label file where it has one). Where onnxruntime (or TorchScript) is installed the exported
model is run on the CPU and its outputs compared with PyTorch's.
"""

import argparse
import copy
import importlib.util
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch
import yaml

from .. import build_model, cli, compat, export, get_cfg, load_config
from ..blocks.gta import TEMPORAL_MATRICES
from ..checkpoint import (
    BLOCK_KEY,
    CheckpointError,
    LoadReport,
    cpu_cfg,
    group_names,
    match_state,
    read_checkpoint,
    read_torch_file,
)
from ..checkpoint.resample import resample_state, resampled_frames
from ..checkpoint.torchvision_resnet import (  # noqa: F401  (public here before checkpoint/)
    convert_torchvision_resnet50,
    shape_of,
    torchvision_resnet50_layout,
    unwrap_state_dict,
)
from ..export import ONNX_OPSET
from ..factory import create_model

MODULE = "gta_slowfast.tools.convert"


def r2d50_cfg():
    """PySlowFast's default config set to the plain R2D-50 (MODEL.ARCH 2d), on the CPU."""
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    cfg.MODEL.ARCH = "2d"
    cfg.MODEL.MODEL_NAME = "ResNet"
    cfg.DATA.INPUT_CHANNEL_NUM = [3]
    cfg.RESNET.DEPTH = 50
    cfg.RESNET.NUM_GROUPS = 1
    cfg.RESNET.WIDTH_PER_GROUP = 64
    cfg.RESNET.TRANS_FUNC = "bottleneck_transform"
    cfg.RESNET.STRIDE_1X1 = False
    return compat.finalize_cfg(cfg)


def check_against_model(state, cfg):
    """
    Checks that every tensor of ``state`` exists with the same shape in the model of ``cfg``
    (PySlowFast's loader would skip it silently otherwise); returns the model's tensors that
    ``state`` does not cover.
    """
    model_state = build_model(cpu_cfg(cfg)).state_dict()
    for name, tensor in state.items():
        if name not in model_state:
            raise ValueError(f"converted tensor {name!r} is not in the model of the config")
        if model_state[name].shape != tensor.shape:
            raise ValueError(
                f"converted tensor {name!r} has shape {list(tensor.shape)}, the model of the "
                f"config expects {list(model_state[name].shape)}"
            )
    return [k for k in model_state if k not in state]


@dataclass
class TorchvisionConversion:
    """What ``convert_torchvision`` wrote."""

    src: str
    dst: str
    converted: Dict[str, Tuple[int, ...]]  # PySlowFast name -> shape, as written
    dropped: Dict[str, object]  # torchvision's classifier tensors: name -> shape
    checked_against: Optional[str]  # the config checked against; None: the plain R2D-50
    uncovered: List[str]  # tensors of that model the checkpoint does not hold

    def summary(self):
        convs = sum(len(shape) == 5 for shape in self.converted.values())
        tracked = sum(k.endswith("num_batches_tracked") for k in self.converted)
        model = "the model of " + self.checked_against if self.checked_against else "R2D-50"
        return "\n".join([
            f"{self.src} (torchvision ResNet-50) -> {self.dst}",
            f"  converted {len(self.converted)} tensors: {convs} conv kernels [C_out, C_in, k, "
            f"k] -> [C_out, C_in, 1, k, k], {len(self.converted) - convs - tracked} batch-norm "
            f"parameters and running statistics, {tracked} num_batches_tracked",
            f"  dropped {len(self.dropped)}: "
            + ", ".join(f"{k} {shape}" for k, shape in self.dropped.items())
            + " (the video head starts from PySlowFast's initialisation)",
            f"  checked against {model} "
            f"(PySlowFast {compat.generation_name()}): {len(self.uncovered)} of its tensors "
            f"not in the checkpoint: " + group_names(self.uncovered, limit=len(self.uncovered)),
            f"  use: TRAIN.CHECKPOINT_FILE_PATH {self.dst} TRAIN.CHECKPOINT_TYPE pytorch "
            f"TRAIN.CHECKPOINT_INFLATE True",
        ])


def convert_torchvision(src, dst, cfg_path=None):
    """
    ``torchvision`` command: converts the torchvision ResNet-50 file ``src``
    (``checkpoint.torchvision_resnet``) and saves the PySlowFast checkpoint ``dst``.

    Args:
        src (str): torchvision state dict (.pth).
        dst (str): checkpoint to write (.pyth).
        cfg_path (str): config whose model the tensors are checked against (default: the
            plain R2D-50).
    Returns:
        TorchvisionConversion: what was converted, dropped, and not covered.
    Raises:
        ValueError: not a torchvision ResNet-50, or tensors the model does not hold.
    """
    state_dict = unwrap_state_dict(read_torch_file(src), src)
    state, dropped = convert_torchvision_resnet50(state_dict, source=src)
    cfg = load_config(cfg_path) if cfg_path else r2d50_cfg()
    uncovered = check_against_model(state, cfg)
    torch.save({"model_state": state}, dst)
    return TorchvisionConversion(
        src, dst, {k: tuple(v.shape) for k, v in state.items()},
        {k: shape_of(state_dict[k]) for k in dropped}, cfg_path, uncovered,
    )


@dataclass
class NonlocalConversion:
    """What ``convert_nonlocal`` wrote: the load of the source into the target model."""

    src: str
    dst: str
    kind: str
    cfg_path: str
    nonlocal_type: str
    zero_init_final_norm: bool
    load: LoadReport
    target_shapes: Dict[str, Tuple[int, ...]] = field(default_factory=dict)  # the head's

    def summary(self):
        report = self.load
        stock_blocks = [k for k in report.unused if BLOCK_KEY.match(k)]
        other = [k for k in report.unused if not BLOCK_KEY.match(k)]
        identity = "the identity" if self.zero_init_final_norm else "not the identity"
        lines = [
            f"{self.src} ({self.kind}) -> {self.dst}, the model of {self.cfg_path} "
            f"(NONLOCAL.TYPE {self.nonlocal_type})",
            f"  reused {len(report.loaded)} tensors ({len(report.inflated)} inflated in time)",
        ]
        if report.new_blocks:
            lines.append(
                f"  added blocks, as initialised ({identity}: GTA.ZERO_INIT_FINAL_NORM "
                f"{self.zero_init_final_norm}): {len(report.new_blocks)} tensors: "
                f"{group_names(report.new_blocks)}"
            )
        if report.head_reinitialized:
            lines.append(
                "  head, as initialised (not in the source, or of another shape there): "
                + ", ".join(
                    f"{name} (source {'none' if shape is None else list(shape)}, target "
                    f"{list(self.target_shapes[name])})"
                    for name, shape in report.head_reinitialized.items()
                )
            )
        if stock_blocks:
            lines.append(
                f"  not reused: {len(stock_blocks)} tensors of the source's non-local blocks: "
                f"{group_names(stock_blocks)}"
            )
        if other:
            lines.append(
                f"  not reused: {len(other)} tensors the target has no place for: "
                f"{group_names(other)}"
            )
        lines.append(f"  use: TRAIN.CHECKPOINT_FILE_PATH {self.dst} TRAIN.CHECKPOINT_TYPE pytorch")
        return "\n".join(lines)


def convert_nonlocal(src, dst, cfg_path, opts=(), kind="pytorch", inflate=False):
    """
    ``nonlocal`` command: writes to ``dst`` the model of ``cfg_path`` with every tensor of the
    checkpoint ``src`` that fits it (``match_state``, fine-tune mode).

    Args:
        src (str): PySlowFast checkpoint, with or without stock non-local blocks.
        dst (str): checkpoint to write (.pyth).
        cfg_path (str): config of the target model.
        opts (sequence of str): ``KEY VALUE`` overrides of it.
        kind (str): "pytorch" or "caffe2", the type of ``src``.
        inflate (bool): 2D or time-1 kernels inflated to the target's temporal size.
    Returns:
        NonlocalConversion: the LoadReport of the source into the target and what it means.
    Raises:
        CheckpointError: ``src`` cannot be read or does not fit the target's backbone.
    """
    checkpoint = read_checkpoint(src, kind)
    cfg = load_config(cfg_path, opts)
    torch.manual_seed(cfg.RNG_SEED)
    model = build_model(cpu_cfg(cfg))
    to_load, report = match_state(model, checkpoint, inflate=inflate, mode="finetune")
    model.load_state_dict(to_load, strict=False)
    state = model.state_dict()
    torch.save({"model_state": state, "cfg": cfg.dump()}, dst)
    return NonlocalConversion(
        src, dst, kind, cfg_path, cfg.NONLOCAL.TYPE, cfg.GTA.ZERO_INIT_FINAL_NORM, report,
        {name: tuple(state[name].shape) for name in report.head_reinitialized},
    )


@dataclass
class ResampleConversion:
    """What ``convert_resample`` wrote."""

    src: str
    dst: str
    from_frames: int
    num_frames: int
    resampled: Dict[str, Tuple[Tuple[int, ...], Tuple[int, ...]]]  # name -> (old, new) shape

    def summary(self):
        return "\n".join([
            f"{self.src} -> {self.dst}: {len(self.resampled)} GTA matrices resampled from "
            f"{self.from_frames}- to {self.num_frames}-frame clips",
            *(f"  {name}: {list(old)} -> {list(new)}" for name, (old, new) in
              self.resampled.items()),
            f"  use with DATA.NUM_FRAMES {self.num_frames}: TEST.CHECKPOINT_FILE_PATH {self.dst}, "
            f"or TRAIN.CHECKPOINT_FILE_PATH {self.dst} to fine-tune (epoch and optimizer state "
            f"not kept)",
        ])


def convert_resample(src, dst, num_frames, from_frames=None):
    """
    ``resample`` command: writes to ``dst`` the checkpoint ``src`` with every GTA T x T matrix
    resampled for clips of ``num_frames`` frames (``resample.resample_state``, as the loader
    with GTA.RESAMPLE_CHECKPOINT).

    Args:
        src (str): GTA checkpoint (.pyth).
        dst (str): checkpoint to write (.pyth).
        num_frames (int): the new DATA.NUM_FRAMES.
        from_frames (int): DATA.NUM_FRAMES it was trained with (default: its stored config's).
    Returns:
        ResampleConversion: every matrix resampled, with its old and new shape.
    Raises:
        CheckpointError: no clip length known, no GTA matrices, or a matrix length with no
            whole counterpart at ``num_frames``.
    """
    checkpoint = read_checkpoint(src)
    if from_frames is None:
        from_frames = (checkpoint.stored_config or {}).get("DATA.NUM_FRAMES")
        if from_frames is None:
            raise CheckpointError(
                f"checkpoint {src} stores no config with DATA.NUM_FRAMES: pass --from-frames, "
                f"the clip length it was trained with"
            )
    lengths = {
        name: resampled_frames(value.shape[-1], num_frames, from_frames)
        for name, value in checkpoint.model_state.items() if name.endswith(TEMPORAL_MATRICES)
    }
    if not lengths:
        raise CheckpointError(f"checkpoint {src} holds no GTA temporal matrices to resample")
    state, changed = resample_state(checkpoint.model_state, lengths)
    saved = {"model_state": state}
    if checkpoint.config_tree is not None:
        tree = copy.deepcopy(checkpoint.config_tree)
        tree.setdefault("DATA", {})["NUM_FRAMES"] = num_frames
        saved["cfg"] = yaml.safe_dump(tree)
    torch.save(saved, dst)
    return ResampleConversion(src, dst, from_frames, num_frames, changed)


EXPORT_TOLERANCE = 1e-4


def _max_difference(expected, got):
    return (torch.as_tensor(got) - expected).abs().max().item()


def run_onnx(path, inputs):
    """Outputs of the ONNX file ``path`` for ``inputs`` (one tensor per pathway) in
    onnxruntime on the CPU."""
    import onnxruntime  # (b) optional: the export extra, which a user may lack

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    feed = {arg.name: x.numpy() for arg, x in zip(session.get_inputs(), inputs)}
    return torch.from_numpy(session.run(None, feed)[0])


@dataclass
class ExportReport:
    """What ``convert_export`` wrote, and how the exported model compares with PyTorch's."""

    kind: str  # "onnx" or "torchscript"
    checkpoint: str
    dst: str
    spec_path: str
    opset: Optional[int]  # ONNX only
    nonlocal_type: str
    inputs: List[Tuple[str, List[int]]]  # (name, shape of one clip) per pathway
    mean: List[float]
    std: List[float]
    output: str  # "scores" or "logits"
    num_classes: int
    clips: int  # random clips compared
    difference: Optional[float]  # largest |difference|; None: not run

    @property
    def matches(self):
        """False where the exported model's outputs differ from PyTorch's beyond tolerance."""
        return self.difference is None or self.difference <= EXPORT_TOLERANCE

    def summary(self):
        shapes = ", ".join(f"{name} {['batch'] + shape}" for name, shape in self.inputs)
        what = f"ONNX opset {self.opset}" if self.kind == "onnx" else "TorchScript trace"
        lines = [
            f"{self.checkpoint} -> {self.dst} ({what}, NONLOCAL.TYPE {self.nonlocal_type})",
            f"  inputs: {shapes} float32, normalised (mean {self.mean}, std {self.std}); "
            f"output: {self.output} [batch, {self.num_classes}]",
            f"  inference spec (preprocessing, class names): {self.spec_path}",
        ]
        if self.difference is None:
            lines.append("  not run: onnxruntime is not installed (pip install "
                         "'gta_slowfast[export]')")
        else:
            runtime = "onnxruntime (CPU)" if self.kind == "onnx" else "torch.jit.load"
            verdict = "match" if self.matches else "DIFFER FROM"
            lines.append(f"  {runtime}: outputs {verdict} PyTorch's (max |difference| "
                         f"{self.difference:.2e} on {self.clips} random clips)")
        return "\n".join(lines)

    def check(self):
        """Raises where the exported model's outputs differ from PyTorch's."""
        if not self.matches:
            raise ValueError(f"{self.dst}: the exported model's outputs differ from PyTorch's "
                             f"by {self.difference:.2e} (tolerance {EXPORT_TOLERANCE})")


def convert_export(kind, checkpoint, dst, cfg_path=None, opts=(), opset=None, logits=False,
                   labels=None):
    """
    ``onnx`` / ``torchscript`` commands: exports the model of ``checkpoint`` to ``dst`` and its
    inference spec to ``dst``.json; runs the exported model where its runtime is installed.

    Args:
        kind (str): "onnx" or "torchscript".
        checkpoint (str): trained PySlowFast checkpoint.
        dst (str): file to write.
        cfg_path (str): config of the model (default: the one the checkpoint stores).
        opts (sequence of str): ``KEY VALUE`` overrides of it.
        opset (int): ONNX opset (default ``export.ONNX_OPSET``).
        logits (bool): output the head's logits instead of its softmax scores.
        labels (str): class-name file for the spec.
    Returns:
        ExportReport: what was written and the largest output difference (``check`` raises
        where it is beyond tolerance).
    Raises:
        CheckpointError: the checkpoint cannot be read or does not fit its config.
    """
    caller = (cli.program_name(MODULE, "gta-convert") + " " + kind, "--cfg")
    model = create_model(cfg_path, checkpoint=checkpoint, opts=opts, labels=labels,
                         caller=caller)
    if kind == "onnx":
        module, inputs = export.export_onnx(model, model.cfg, dst, opset or ONNX_OPSET, logits)
    else:
        module, inputs = export.export_torchscript(model, model.cfg, dst, logits)
    output = "logits" if logits else "scores"
    spec_path = dst + ".json"
    export.write_spec(spec_path,
                      export.inference_spec(model.cfg, model.class_names, inputs, output))
    with torch.no_grad():
        expected = module(*inputs)
    difference = None
    if kind == "torchscript":
        difference = _max_difference(expected, torch.jit.load(dst)(*inputs))
    elif importlib.util.find_spec("onnxruntime") is not None:
        difference = _max_difference(expected, run_onnx(dst, inputs))
    return ExportReport(
        kind, checkpoint, dst, spec_path, (opset or ONNX_OPSET) if kind == "onnx" else None,
        model.cfg.NONLOCAL.TYPE,
        [(n, list(x.shape[1:])) for n, x in zip(export.input_names(model.cfg), inputs)],
        list(model.cfg.DATA.MEAN), list(model.cfg.DATA.STD), output,
        model.cfg.MODEL.NUM_CLASSES, inputs[0].shape[0], difference,
    )


def _print_export(report):
    print(report.summary())
    report.check()


def _add_export_parser(commands, kind, help_text, example):
    sub = commands.add_parser(
        kind, help=help_text, description=f"{help_text}, with its inference spec in <dst>.json "
        f"(see python -m gta_slowfast.tools.convert --help).\n\nexample:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.add_argument("--checkpoint", required=True, metavar="FILE",
                     help="PySlowFast checkpoint (.pyth) of the trained model")
    sub.add_argument("--dst", required=True, metavar="FILE", help="file to write")
    sub.add_argument("--cfg", metavar="FILE",
                     help="config of the model (a YAML file or a shipped config's name; "
                          "default: the config the checkpoint stores)")
    sub.add_argument("--labels", metavar="FILE",
                     help="class names for the spec (default: the dataset's label file)")
    sub.add_argument("--logits", action="store_true",
                     help="output the head's logits instead of its softmax scores")
    if kind == "onnx":
        sub.add_argument("--opset", type=int, metavar="N",
                         help=f"ONNX opset version (default: {ONNX_OPSET})")
    cli.add_override_arguments(sub, "overrides of the config")
    sub.set_defaults(run=lambda args: _print_export(convert_export(
        kind, args.checkpoint, args.dst, args.cfg, args.opts, getattr(args, "opset", None),
        args.logits, args.labels)))


def parser():
    """The command's arguments: one sub-command a conversion, each with its own options."""
    parser = cli.argument_parser(MODULE, __doc__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    tv = commands.add_parser(
        "torchvision",
        help="torchvision ResNet-50 state dict -> PySlowFast R2D-50 checkpoint",
        description="Converts a torchvision ResNet-50 state dict (e.g. resnet50-0676ba61.pth) "
        "into a PySlowFast checkpoint of the R2D-50 (MODEL.ARCH 2d).",
    )
    tv.add_argument("--src", required=True, help="torchvision ResNet-50 state dict (.pth)")
    tv.add_argument("--dst", required=True, help="PySlowFast checkpoint to write (.pyth)")
    tv.add_argument(
        "--cfg",
        help="check the tensors against the model of this config (default: the plain R2D-50)",
    )
    tv.set_defaults(run=lambda args: print(convert_torchvision(args.src, args.dst,
                                                               args.cfg).summary()))
    nl = commands.add_parser(
        "nonlocal",
        help="checkpoint with (or without) stock non-local blocks -> starting point of a "
        "GTA / DNL config",
        description="Writes the starting point of the model of --cfg (e.g. with NONLOCAL.TYPE "
        "gta or dnl) from a PySlowFast checkpoint with or without stock non-local blocks: every "
        "tensor that fits is reused, the added blocks keep their initialisation, nothing of the "
        "stock non-local blocks is reused (see python -m gta_slowfast.tools.convert --help).",
    )
    nl.add_argument("--src", required=True, help="PySlowFast checkpoint (.pyth, or .pkl)")
    nl.add_argument("--dst", required=True, help="checkpoint to write (.pyth)")
    nl.add_argument("--cfg", required=True, help="config of the target model")
    nl.add_argument(
        "--type", choices=("pytorch", "caffe2"), default="pytorch",
        help="format of --src, as TRAIN.CHECKPOINT_TYPE (default: pytorch)",
    )
    nl.add_argument(
        "--inflate", action="store_true",
        help="inflate 2D (or time-1) kernels to the target's temporal size, as "
        "TRAIN.CHECKPOINT_INFLATE",
    )
    cli.add_override_arguments(nl, "KEY VALUE overrides of the target config")
    nl.set_defaults(
        run=lambda args: print(convert_nonlocal(
            args.src, args.dst, args.cfg, args.opts, kind=args.type, inflate=args.inflate
        ).summary())
    )
    rs = commands.add_parser(
        "resample",
        help="GTA checkpoint -> the same model for another clip length",
        description="Resamples every GTA T x T temporal matrix of a checkpoint for clips of "
        "--num-frames frames: M' = R(T->T') M R(T'->T), linear interpolation to lengthen and "
        "area averaging to shorten, so each row keeps its total weight and the same length is "
        "the identity. The loader does the same with GTA.RESAMPLE_CHECKPOINT True.",
    )
    rs.add_argument("--src", required=True, help="PySlowFast checkpoint (.pyth)")
    rs.add_argument("--dst", required=True, help="checkpoint to write (.pyth)")
    rs.add_argument("--num-frames", type=int, required=True, help="the new DATA.NUM_FRAMES")
    rs.add_argument(
        "--from-frames", type=int,
        help="DATA.NUM_FRAMES the checkpoint was trained with (default: from its config)",
    )
    rs.set_defaults(
        run=lambda args: print(convert_resample(args.src, args.dst, args.num_frames,
                                                args.from_frames).summary())
    )
    _add_export_parser(
        commands, "onnx", "trained checkpoint -> ONNX model (onnxruntime, TensorRT, ...)",
        "python -m gta_slowfast.tools.convert onnx --checkpoint gta.pyth --dst gta.onnx")
    _add_export_parser(
        commands, "torchscript", "trained checkpoint -> TorchScript trace (torch.jit.load)",
        "python -m gta_slowfast.tools.convert torchscript --checkpoint gta.pyth --dst gta.pt")
    return parser


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    with cli.reported_errors(p, args.debug):
        args.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
