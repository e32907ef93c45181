"""
What the benchmark measures: the model of a config on a random batch, or a block alone
(``gta_slowfast.blocks.build_variant``) at R2D-50's res3 and res4 input shapes, in float32 or
under autocast, eager or under ``torch.compile``; and the ``Measurement`` of one of them, which
``timing``, ``memory`` and ``report`` fill in and write out.

A target is described by a JSON-able spec (``spec_target`` builds it), so that a fresh process
can build the same one to measure its memory.
"""

import itertools
import logging
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch

from .. import build_model, dummy_inputs, get_cfg, load_config
from ..blocks import BlockSpec, build_variant
from ..complexity import any_block, count_gflops, count_params_m, model_complexity
from ..factory import config_path
from ..models import cpu_cfg

logger = logging.getLogger(__name__)

# Groups of shipped configs (names under the configs folder); times and FLOPs of a group are
# relative to its first config.
PRESETS = {
    "r2d": ("R2D-50 8x1", [f"SSv1/R2D_R50_{name}8x1.yaml" for name in ("", "NL_", "DNL_", "GTA_")]),
    "slowfast": ("SlowFast-R50 16x8", [
        f"SSv1/SLOWFAST_16x8_R50{name}.yaml" for name in ("", "_NL", "_DNL", "_GTA")
    ]),
}
# Autocast dtypes of --precision (fp32: none).
PRECISIONS = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}
CHECKPOINT_OPTS = ["GTA.ACTIVATION_CHECKPOINT", "True"]
BLOCK_VARIANTS = ("nonlocal", "dnl", "gta")
# (stage name, channels as a multiple of 4 x WIDTH_PER_GROUP, spatial stride) of R2D-50.
BLOCK_STAGES = (("res3", 2, 8), ("res4", 4, 16))


class Target:
    """A module with its inputs: a model (a list of pathway clips) or a block (one tensor), run
    in float32 or under autocast to ``precision`` ("fp16", "bf16")."""

    def __init__(self, module, inputs, pathways, precision="fp32"):
        self.module = module
        self.inputs = inputs
        self.pathways = pathways
        self.precision = precision

    def __call__(self):
        dtype = PRECISIONS[self.precision]
        with torch.autocast(self.inputs[0].device.type, dtype=dtype, enabled=dtype is not None):
            if self.pathways:  # PySlowFast's models overwrite the entries of the list they get
                return self.module(list(self.inputs))
            return self.module(self.inputs[0])

    def to(self, device):
        self.module.to(device)
        self.inputs = [x.detach().to(device).requires_grad_(x.requires_grad) for x in self.inputs]
        return self

    def params_m(self):
        """Parameters of the module in millions."""
        return count_params_m(self.module)

    def gflops(self):
        """fvcore GFLOPs of one forward on the first clip (``complexity.count_gflops``)."""
        one = [x[:1].detach() for x in self.inputs]
        return count_gflops(self.module, (one if self.pathways else one[0],))

    def forward_pass(self):
        """One eval forward without gradients."""
        self.module.eval()
        with torch.no_grad():
            self()

    def free_gradients(self):
        self.module.zero_grad(set_to_none=True)
        for x in self.inputs:
            x.grad = None

    def training_pass(self):
        """One train forward+backward (loss: mean of the output), gradients freed first."""
        self.module.train()
        self.free_gradients()
        self().float().mean().backward()


@dataclass
class Measurement:
    """One row of the benchmark: what is measured (``spec``, rebuilt by ``spec_target``), its
    size, and what timing and memory found on one device."""

    group: str  # rows of a group are relative to its first
    name: str
    config: Optional[str]  # the config file; None for a block alone
    type: str  # NONLOCAL.TYPE of the added blocks, "-" without any, or the block variant
    precision: str
    input: List[List[int]]  # shape of each input tensor
    spec: dict
    params_m: float
    gflops: float
    target: Optional[Target] = None  # built on the device being measured
    runs: Dict[str, List[Tuple[float, float]]] = field(default_factory=dict)  # mode: (s, CPU s)
    peak_forward_mib: Optional[float] = None
    peak_train_mib: Optional[float] = None


def config_opts(opts, frames=None, crop=None):
    """KEY VALUE overrides: ``opts`` then the clip size, if given."""
    opts = list(opts or [])
    if frames:
        opts += ["DATA.NUM_FRAMES", str(frames)]
    if crop:
        opts += ["DATA.TRAIN_CROP_SIZE", str(crop)]
    return opts


def config_groups(cfg_files, presets):
    """[(group title, [config path])]: ``cfg_files`` as one group, else the groups of the
    ``presets`` named, their configs found in the shipped configs folder."""
    if cfg_files:
        return [("models", list(cfg_files))]
    return [(PRESETS[name][0], [config_path(c) for c in PRESETS[name][1]]) for name in presets]


def model_target(path, opts, batch_size, precision="fp32"):
    """The model of the config at ``path`` and a random batch, on the CPU."""
    cfg = cpu_cfg(load_config(path, opts))
    torch.manual_seed(0)
    model = build_model(cfg)
    return Target(model, dummy_inputs(cfg, batch_size=batch_size), True, precision)


def block_shapes(cfg, batch_size):
    """{stage: input shape} of the blocks alone at R2D-50's res3 and res4 for ``cfg``."""
    width = 4 * cfg.RESNET.WIDTH_PER_GROUP
    frames, crop = cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE
    return {
        stage: [batch_size, factor * width, frames, crop // stride, crop // stride]
        for stage, factor, stride in BLOCK_STAGES
    }


def block_target(variant, shape, opts, precision="fp32"):
    """``variant`` built alone for an input of ``shape`` (GTA keys: defaults and ``opts``),
    with an input that requires grad, as inside a network."""
    cfg = get_cfg()
    cfg.merge_from_list(list(opts or []))
    spec = BlockSpec(
        dim=shape[1],
        num_frames=shape[2],
        gta_cfg=cfg.GTA,
        pool_size=[1, 2, 2],
        instantiation=cfg.NONLOCAL.INSTANTIATION,
    )
    torch.manual_seed(0)
    block = build_variant(variant, spec)
    return Target(block, [torch.randn(shape).requires_grad_()], False, precision)


def spec_target(spec):
    """The target a JSON-able ``spec`` describes (what a memory subprocess rebuilds)."""
    precision = spec.get("precision", "fp32")
    if spec["kind"] == "model":
        target = model_target(spec["cfg"], spec["opts"], spec["batch_size"], precision)
        if spec.get("compile"):
            target.module = torch.compile(target.module)
        return target
    return block_target(spec["variant"], spec["shape"], spec["opts"], precision)


def model_variants(cfg, activation_checkpoint):
    """(row-name suffix, extra opts) of each row of a config: as configured and, with
    ``activation_checkpoint``, with GTA.ACTIVATION_CHECKPOINT where it has added blocks."""
    variants = [("", [])]
    if activation_checkpoint and any_block(cfg) and cfg.NONLOCAL.TYPE != "nonlocal":
        variants.append((" + GTA.ACTIVATION_CHECKPOINT", CHECKPOINT_OPTS))
    return variants


def describe_targets(groups, opts, args):
    """The ``Measurement`` of everything to measure (no target built yet), for every
    ``args.precision``, eager and, with ``args.compile``, compiled: each config's model of
    ``groups`` and its ``model_variants``, then the ``args.block_variants`` alone (with
    ``args.blocks``) at the shapes of the first config."""
    measurements = []
    for precision, compiled in itertools.product(args.precision, [False] + [True] * args.compile):
        tag = "" if precision == "fp32" else f" ({precision})"
        tag += " torch.compile" if compiled else ""
        for title, paths in groups:
            for i, path in enumerate(paths, start=1):
                cfg = load_config(path, opts)
                params, flops = model_complexity(cfg)
                for suffix, extra in model_variants(cfg, args.activation_checkpoint):
                    measurements.append(Measurement(
                        group=title + tag,
                        name=os.path.basename(path) + suffix + (" + torch.compile" * compiled),
                        config=path,
                        type=cfg.NONLOCAL.TYPE if any_block(cfg) else "-", precision=precision,
                        input=[list(x.shape) for x in dummy_inputs(cfg, args.batch_size)],
                        spec=dict(kind="model", cfg=path, opts=opts + extra,
                                  batch_size=args.batch_size, precision=precision,
                                  compile=compiled),
                        params_m=params, gflops=flops,
                    ))
                logger.info("[%d/%d] %s: %.2f M params, %.2f GFLOPs", i, len(paths), path,
                            params, flops)
        if args.blocks and not compiled:
            shapes = block_shapes(load_config(groups[0][1][0], opts), args.batch_size)
            for stage, shape in shapes.items():
                for variant in args.block_variants:
                    spec = dict(kind="block", variant=variant, shape=shape, opts=args.opts,
                                precision=precision)
                    target = spec_target(spec)
                    measurements.append(Measurement(
                        group=f"block {stage}{tag}", name=f"{variant} block {stage}",
                        config=None, type=variant, precision=precision, input=[shape],
                        spec=spec, params_m=target.params_m(), gflops=target.gflops(),
                    ))
                    logger.info("%s %s: %.2f M params, %.3f GFLOPs", measurements[-1].name,
                                shape, measurements[-1].params_m, measurements[-1].gflops)
    return measurements
