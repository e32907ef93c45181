"""
Converts checkpoints into PySlowFast checkpoints that initialise a video model through
TRAIN.CHECKPOINT_FILE_PATH: image-classification ResNets into the R2D ResNet (MODEL.ARCH 2d), and
video networks with stock non-local blocks into GTA / DNL models.

    python -m gta_slowfast.tools.convert torchvision --src resnet50.pth --dst r2d50_imagenet.pyth

torchvision: a torchvision ResNet-50 state dict (bare, or under "state_dict" or "model", with or
without DataParallel's "module." prefix). Convolutions gain a time axis of size 1, batch-norm
parameters and statistics are carried, the ImageNet classifier (fc) is dropped so the video
head starts from PySlowFast's initialisation. The output holds "model_state" only (no epoch, no
optimizer state), so training starts at epoch 0 with a fresh optimizer. Load it with
TRAIN.CHECKPOINT_TYPE pytorch and TRAIN.CHECKPOINT_INFLATE True (the PyPI snapshot's loader takes
a partial state dict on that path only; the kernels already have their final shape).

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
import sys
from collections import OrderedDict

import torch

from .. import cli
from ..export import ONNX_OPSET

# Blocks per stage of ResNet-50 (torchvision layer1..layer4 = PySlowFast res2..res5).
RESNET50_BLOCKS = (3, 4, 6, 3)
BN_TENSORS = ("weight", "bias", "running_mean", "running_var")


def torchvision_resnet50_layout():
    """
    (torchvision name, PySlowFast name, shape, required) of every tensor of torchvision's
    ResNet-50 but its classifier, in torchvision's order. ``num_batches_tracked`` is optional
    (checkpoints saved before PyTorch 0.4.1 lack it).
    """
    rows = []

    def conv(src, dst, shape):
        rows.append((f"{src}.weight", f"{dst}.weight", shape, True))

    def bn(src, dst, channels):
        rows.extend((f"{src}.{t}", f"{dst}.{t}", (channels,), True) for t in BN_TENSORS)
        rows.append((f"{src}.num_batches_tracked", f"{dst}.num_batches_tracked", (), False))

    conv("conv1", "s1.pathway0_stem.conv", (64, 3, 7, 7))
    bn("bn1", "s1.pathway0_stem.bn", 64)
    dim_in = 64
    for stage, num_blocks in enumerate(RESNET50_BLOCKS):
        width = 64 * 2**stage
        dim_out = 4 * width
        for index in range(num_blocks):
            src, dst = f"layer{stage + 1}.{index}", f"s{stage + 2}.pathway0_res{index}"
            # Stride on the 3x3 convolution "b" (torchvision v1.5; PySlowFast STRIDE_1X1 False).
            convs = (("a", dim_in, width, 1), ("b", width, width, 3), ("c", width, dim_out, 1))
            for i, (name, c_in, c_out, k) in enumerate(convs, start=1):
                conv(f"{src}.conv{i}", f"{dst}.branch2.{name}", (c_out, c_in, k, k))
                bn(f"{src}.bn{i}", f"{dst}.branch2.{name}_bn", c_out)
            if index == 0:
                conv(f"{src}.downsample.0", f"{dst}.branch1", (dim_out, dim_in, 1, 1))
                bn(f"{src}.downsample.1", f"{dst}.branch1_bn", dim_out)
            dim_in = dim_out
    return rows


def unwrap_state_dict(obj, path="state dict"):
    """The state dict in a loaded checkpoint ``obj``: bare or under "state_dict" / "model"."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
        if obj and all(k.startswith("module.") for k in obj):
            obj = OrderedDict((k[len("module.") :], v) for k, v in obj.items())
        return obj
    raise ValueError(f"{path}: expected a state dict (a dict of tensors), got {type(obj).__name__}")


def _shape(tensor):
    return list(tensor.shape) if torch.is_tensor(tensor) else type(tensor).__name__


def convert_torchvision_resnet50(state_dict, source="state dict"):
    """
    Maps a torchvision ResNet-50 ``state_dict`` to PySlowFast's R2D-50 names and shapes.
    Returns (converted state dict, names of the dropped classifier tensors). A state dict of
    another depth or layout is refused, naming the first missing, misshapen or unexpected tensor.
    """
    converted = OrderedDict()
    used = set()
    for src, dst, shape, required in torchvision_resnet50_layout():
        if src not in state_dict:
            if required:
                raise ValueError(
                    f"{source}: not a torchvision ResNet-50: missing tensor {src!r} "
                    f"(expected shape {list(shape)})"
                )
            continue
        tensor = state_dict[src]
        if not torch.is_tensor(tensor) or tuple(tensor.shape) != shape:
            raise ValueError(
                f"{source}: not a torchvision ResNet-50: tensor {src!r} has shape "
                f"{_shape(tensor)}, expected {list(shape)}"
            )
        converted[dst] = tensor.unsqueeze(2) if tensor.dim() == 4 else tensor
        used.add(src)
    rest = [k for k in state_dict if k not in used]
    unexpected = [k for k in rest if not k.startswith("fc.")]
    if unexpected:
        first = unexpected[0]
        raise ValueError(
            f"{source}: not a torchvision ResNet-50: unexpected tensor {first!r} (shape "
            f"{_shape(state_dict[first])}; {len(unexpected)} unexpected in all), another depth "
            f"or layout?"
        )
    return converted, rest


def r2d50_cfg():
    """PySlowFast's default config set to the plain R2D-50 (MODEL.ARCH 2d), on the CPU."""
    from .. import compat, get_cfg

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
    from .. import build_model
    from ..models import cpu_cfg

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


def convert_torchvision(src, dst, cfg_path=None):
    """``torchvision`` command: converts the file ``src`` and saves the checkpoint ``dst``."""
    from .. import compat, load_config
    from ..checkpoint import read_torch_file

    state_dict = unwrap_state_dict(read_torch_file(src), src)
    state, dropped = convert_torchvision_resnet50(state_dict, source=src)
    cfg = load_config(cfg_path) if cfg_path else r2d50_cfg()
    uncovered = check_against_model(state, cfg)
    torch.save({"model_state": state}, dst)

    convs = sum(t.dim() == 5 for t in state.values())
    tracked = sum(k.endswith("num_batches_tracked") for k in state)
    print(f"{src} (torchvision ResNet-50) -> {dst}")
    print(
        f"  converted {len(state)} tensors: {convs} conv kernels [C_out, C_in, k, k] -> "
        f"[C_out, C_in, 1, k, k], {len(state) - convs - tracked} batch-norm parameters and "
        f"running statistics, {tracked} num_batches_tracked"
    )
    print(
        f"  dropped {len(dropped)}: "
        + ", ".join(f"{k} {_shape(state_dict[k])}" for k in dropped)
        + " (the video head starts from PySlowFast's initialisation)"
    )
    groups = OrderedDict()
    for name in uncovered:
        module = ".".join(name.split(".")[:2])
        groups[module] = groups.get(module, 0) + 1
    print(
        f"  checked against {'the model of ' + cfg_path if cfg_path else 'R2D-50'} "
        f"(PySlowFast {compat.GENERATION}): {len(uncovered)} of its tensors not in the "
        f"checkpoint: " + ", ".join(f"{m}.* ({n})" for m, n in groups.items())
    )
    print(
        f"  use: TRAIN.CHECKPOINT_FILE_PATH {dst} TRAIN.CHECKPOINT_TYPE pytorch "
        f"TRAIN.CHECKPOINT_INFLATE True"
    )


def convert_nonlocal(src, dst, cfg_path, opts=(), kind="pytorch", inflate=False):
    """``nonlocal`` command: writes to ``dst`` the model of ``cfg_path`` (with ``opts``) with every
    tensor of the checkpoint ``src`` that fits it; returns the LoadReport."""
    from .. import build_model, load_config
    from ..checkpoint import BLOCK_KEY, cpu_cfg, group_names, match_state, read_checkpoint

    checkpoint = read_checkpoint(src, kind)
    cfg = load_config(cfg_path, opts)
    torch.manual_seed(cfg.RNG_SEED)
    model = build_model(cpu_cfg(cfg))
    to_load, report = match_state(model, checkpoint, inflate=inflate, mode="finetune")
    model.load_state_dict(to_load, strict=False)
    torch.save({"model_state": model.state_dict(), "cfg": cfg.dump()}, dst)

    stock_blocks = [k for k in report.unused if BLOCK_KEY.match(k)]
    other = [k for k in report.unused if not BLOCK_KEY.match(k)]
    identity = "the identity" if cfg.GTA.ZERO_INIT_FINAL_NORM else "not the identity"
    print(f"{src} ({kind}) -> {dst}, the model of {cfg_path} (NONLOCAL.TYPE {cfg.NONLOCAL.TYPE})")
    print(f"  reused {len(report.loaded)} tensors ({len(report.inflated)} inflated in time)")
    if report.new_blocks:
        print(
            f"  added blocks, as initialised ({identity}: GTA.ZERO_INIT_FINAL_NORM "
            f"{cfg.GTA.ZERO_INIT_FINAL_NORM}): {len(report.new_blocks)} tensors: "
            f"{group_names(report.new_blocks)}"
        )
    if report.head_reinitialized:
        print(
            "  head, as initialised (not in the source, or of another shape there): "
            + ", ".join(
                f"{name} (source {'none' if shape is None else list(shape)}, target "
                f"{list(model.state_dict()[name].shape)})"
                for name, shape in report.head_reinitialized.items()
            )
        )
    if stock_blocks:
        print(
            f"  not reused: {len(stock_blocks)} tensors of the source's non-local blocks: "
            f"{group_names(stock_blocks)}"
        )
    if other:
        print(
            f"  not reused: {len(other)} tensors the target has no place for: "
            f"{group_names(other)}"
        )
    print(f"  use: TRAIN.CHECKPOINT_FILE_PATH {dst} TRAIN.CHECKPOINT_TYPE pytorch")
    return report


def convert_resample(src, dst, num_frames, from_frames=None):
    """``resample`` command: writes to ``dst`` the checkpoint ``src`` with every GTA T x T matrix
    resampled for clips of ``num_frames`` frames (DATA.NUM_FRAMES); the clip length it was
    trained with comes from the checkpoint's config, or ``from_frames``. Returns
    {name: (old shape, new shape)}."""
    import yaml

    from ..blocks.gta import TEMPORAL_MATRICES, upgrade_temporal_matrices
    from ..checkpoint import CheckpointError, read_checkpoint, read_torch_file
    from ..checkpoint.resample import resample_temporal_attention, resampled_frames

    state = read_checkpoint(src).model_state
    saved_cfg = read_torch_file(src).get("cfg")
    cfg_dict = yaml.safe_load(saved_cfg) if isinstance(saved_cfg, str) else None
    if from_frames is None:
        from_frames = (cfg_dict or {}).get("DATA", {}).get("NUM_FRAMES")
        if from_frames is None:
            raise CheckpointError(
                f"checkpoint {src} stores no config with DATA.NUM_FRAMES: pass --from-frames, "
                f"the clip length it was trained with"
            )
    changed = {}
    for name, value in state.items():
        if name.endswith(TEMPORAL_MATRICES):
            new_t = resampled_frames(value.shape[-1], num_frames, from_frames)
            state[name] = resample_temporal_attention(upgrade_temporal_matrices(value), new_t)
            changed[name] = (tuple(value.shape), tuple(state[name].shape))
    if not changed:
        raise CheckpointError(f"checkpoint {src} holds no GTA temporal matrices to resample")
    saved = {"model_state": state}
    if cfg_dict is not None:
        cfg_dict.setdefault("DATA", {})["NUM_FRAMES"] = num_frames
        saved["cfg"] = yaml.safe_dump(cfg_dict)
    torch.save(saved, dst)
    print(f"{src} -> {dst}: {len(changed)} GTA matrices resampled from {from_frames}- to "
          f"{num_frames}-frame clips")
    for name, (old, new) in changed.items():
        print(f"  {name}: {list(old)} -> {list(new)}")
    print(f"  use with DATA.NUM_FRAMES {num_frames}: TEST.CHECKPOINT_FILE_PATH {dst}, or "
          f"TRAIN.CHECKPOINT_FILE_PATH {dst} to fine-tune (epoch and optimizer state not kept)")
    return changed


EXPORT_TOLERANCE = 1e-4


def _max_difference(expected, got):
    return (torch.as_tensor(got) - expected).abs().max().item()


def run_onnx(path, inputs):
    """Outputs of the ONNX file ``path`` for ``inputs`` (one tensor per pathway) in
    onnxruntime on the CPU."""
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    feed = {arg.name: x.numpy() for arg, x in zip(session.get_inputs(), inputs)}
    return torch.from_numpy(session.run(None, feed)[0])


def convert_export(kind, checkpoint, dst, cfg_path=None, opts=(), opset=None, logits=False,
                   labels=None):
    """``onnx`` / ``torchscript`` commands: exports the model of ``checkpoint`` to ``dst`` and
    its inference spec to ``dst``.json; checks the exported model against PyTorch where its
    runtime is installed. Returns the largest output difference (None: not checked)."""
    import importlib.util

    from .. import export
    from ..factory import create_model

    caller = (cli.program_name("gta_slowfast.tools.convert", "gta-convert") + " " + kind,
              "--cfg")
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
    shapes = ", ".join(f"{n} {['batch'] + list(x.shape[1:])}"
                       for n, x in zip(export.input_names(model.cfg), inputs))
    what = f"ONNX opset {opset or ONNX_OPSET}" if kind == "onnx" else "TorchScript trace"
    print(f"{checkpoint} -> {dst} ({what}, NONLOCAL.TYPE {model.cfg.NONLOCAL.TYPE})")
    print(f"  inputs: {shapes} float32, normalised (mean {list(model.cfg.DATA.MEAN)}, std "
          f"{list(model.cfg.DATA.STD)}); output: {output} [batch, {model.cfg.MODEL.NUM_CLASSES}]")
    print(f"  inference spec (preprocessing, class names): {spec_path}")
    if difference is None:
        print("  not run: onnxruntime is not installed (pip install 'gta_slowfast[export]')")
    else:
        runtime = "onnxruntime (CPU)" if kind == "onnx" else "torch.jit.load"
        verdict = "match" if difference <= EXPORT_TOLERANCE else "DIFFER FROM"
        print(f"  {runtime}: outputs {verdict} PyTorch's (max |difference| {difference:.2e} on "
              f"{inputs[0].shape[0]} random clips)")
        if difference > EXPORT_TOLERANCE:
            raise ValueError(f"{dst}: the exported model's outputs differ from PyTorch's by "
                             f"{difference:.2e} (tolerance {EXPORT_TOLERANCE})")
    return difference


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
    sub.set_defaults(run=lambda args: convert_export(
        kind, args.checkpoint, args.dst, args.cfg, args.opts, getattr(args, "opset", None),
        args.logits, args.labels))


def parser():
    """The command's arguments: one sub-command a conversion, each with its own options."""
    parser = cli.argument_parser("gta_slowfast.tools.convert", __doc__)
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
    tv.set_defaults(run=lambda args: convert_torchvision(args.src, args.dst, args.cfg))
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
        run=lambda args: convert_nonlocal(
            args.src, args.dst, args.cfg, args.opts, kind=args.type, inflate=args.inflate
        )
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
        run=lambda args: convert_resample(args.src, args.dst, args.num_frames, args.from_frames)
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
