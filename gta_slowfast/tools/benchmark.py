"""
Speed and memory of models and of the blocks alone, as a Markdown table and JSON.

    python -m gta_slowfast.tools.benchmark        # --preset r2d: R2D-50, +NL, +DNL, +GTA
    python -m gta_slowfast.tools.benchmark --preset r2d slowfast --activation-checkpoint \\
        --batch-size 2
    python -m gta_slowfast.tools.benchmark --device cuda --precision fp32 fp16 --batch-size 8
    python -m gta_slowfast.tools.benchmark --cfg A.yaml B.yaml --batch-size 2 --repeats 5
    python -m gta_slowfast.tools.benchmark --compile --warmup 2 --no-blocks   # + torch.compile
    python -m gta_slowfast.tools.benchmark --data    # the input pipeline of gta_ssv1, gta_ssv2,
                                                     # gta_kinetics against its decode limit

Per config (the first of each group is its base) and device: parameters, fvcore GFLOPs of one
clip, forward (eval, no grad) and forward+backward (train, mean of the logits as loss, gradients
freed before each pass) time and throughput, and the peak memory of one pass; with
``--activation-checkpoint`` also each config with added blocks under
``GTA.ACTIVATION_CHECKPOINT True``; with ``--precision fp16 bf16`` the same under autocast
(PySlowFast's ``TRAIN.MIXED_PRECISION`` is fp16 autocast); with ``--compile`` every model once
more under ``torch.compile``, in groups of their own. Then the block alone
(``--block-variants``, built by ``gta_slowfast.blocks.build_variant``) at the res3 and res4 input
shapes of R2D-50: [N, 8w, T, crop/8, crop/8] and [N, 16w, T, crop/16, crop/16] with w =
4 x RESNET.WIDTH_PER_GROUP of the first config ([N, 512, 8, 28, 28] and [N, 1024, 8, 14, 14] at
224); its input requires grad, as inside a network.

Times are the median (``--statistic min``: the minimum) of ``--repeats`` passes after
``--warmup`` passes: on the CPU the wall clock and the process CPU time of all threads, on CUDA
the time between CUDA events recorded around the pass; the JSON keeps every pass and the load
average, which tell how much other processes disturbed the run. Everything measured on a device
is timed in turns, one pass of each per round, so such load falls on all of them alike. Results
go to ``--output-dir`` (default ``output/benchmark`` of the current directory).

``--data`` times the input pipeline instead: training items per second of each dataset in one
loader worker against the limit of decoding just the frames an item needs, on sample releases
of realistic size written once under ``--output-dir`` (``gta_slowfast.tools.benchmark_data``
says what exactly is timed). Results go to ``data.md`` and ``data.json`` there.

Peak memory, in MiB above what the model (or block) and its input already hold:
- CUDA: ``torch.cuda.max_memory_allocated`` over one pass, minus the memory allocated before it.
- CPU: PyTorch exposes no high-water mark for CPU tensors, so each model and block is measured in
  a fresh subprocess: the resident set's high-water mark (Linux ``VmHWM``, reset through
  ``/proc/self/clear_refs``) over one pass, after a warm-up pass, minus the resident set before
  the pass. glibc serves every allocation of 64 KiB or more with mmap there
  (``MALLOC_MMAP_THRESHOLD_``), so freed tensors leave the resident set instead of inflating the
  baseline. It includes library workspaces (oneDNN, BLAS): an upper bound on tensor memory.
  Not available off Linux (shown as n/a).
"""

import argparse
import gc
import itertools
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time

import torch

from .. import cli
from . import benchmark_data
from .complexity import any_block, measure

logger = logging.getLogger(__name__)

# The repository holding the package (its configs/ folder) when installed from a checkout.
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Groups of configs; times and FLOPs of a group are relative to its first config.
PRESETS = {
    "r2d": ("R2D-50 8x1", [
        os.path.join(REPO, "configs", "SSv1", f"R2D_R50_{name}8x1.yaml")
        for name in ("", "NL_", "DNL_", "GTA_")
    ]),
    "slowfast": ("SlowFast-R50 16x8", [
        os.path.join(REPO, "configs", "SSv1", f"SLOWFAST_16x8_R50{name}.yaml")
        for name in ("", "_NL", "_DNL", "_GTA")
    ]),
}
# Autocast dtypes of --precision (fp32: none).
PRECISIONS = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}
CHECKPOINT_OPTS = ["GTA.ACTIVATION_CHECKPOINT", "True"]
BLOCK_VARIANTS = ("nonlocal", "dnl", "gta")
# (stage name, channels as a multiple of 4 x WIDTH_PER_GROUP, spatial stride) of R2D-50.
BLOCK_STAGES = (("res3", 2, 8), ("res4", 4, 16))
MMAP_THRESHOLD = 65536
# Beside the other outputs of a run (git ignores output/), not in the configs' folders.
DEFAULT_OUTPUT_DIR = os.path.join("output", "benchmark")
MIB = 2.0**20


# ------------------------------------------------------------------------------------------------
# What is measured: models of configs and blocks alone


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
        return sum(p.numel() for p in self.module.parameters()) / 1e6

    def gflops(self):
        """fvcore GFLOPs of one forward on the first clip (as ``complexity.measure`` counts)."""
        from fvcore.nn import FlopCountAnalysis

        one = [x[:1].detach() for x in self.inputs]
        self.module.eval()
        with torch.no_grad():
            analysis = FlopCountAnalysis(self.module, (one if self.pathways else one[0],))
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            return analysis.total() / 1e9

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


def config_opts(opts, frames=None, crop=None):
    """KEY VALUE overrides: ``opts`` then the clip size, if given."""
    opts = list(opts or [])
    if frames:
        opts += ["DATA.NUM_FRAMES", str(frames)]
    if crop:
        opts += ["DATA.TRAIN_CROP_SIZE", str(crop)]
    return opts


def model_target(path, opts, batch_size, precision="fp32"):
    """The model of the config at ``path`` and a random batch, on the CPU."""
    from .. import build_model, dummy_inputs, load_config

    cfg = load_config(path, opts)
    cfg.NUM_GPUS = 0
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
    from .. import get_cfg
    from ..blocks import BlockSpec, build_variant

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


# ------------------------------------------------------------------------------------------------
# Peak memory


def _proc_status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def rss_peak_mib(step, release=None):
    """Peak resident-set growth (MiB) over one call of ``step``, after a warm-up call and
    ``release`` (which frees what the warm-up left, e.g. gradients)."""
    step()
    if release is not None:
        release()
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident set
    before = _proc_status_kib("VmRSS")
    step()
    return (_proc_status_kib("VmHWM") - before) / 1024.0


def cuda_peak_mib(step, device, release=None):
    """Peak allocated-memory growth (MiB) over one call of ``step`` on CUDA, after a warm-up
    call and ``release``."""
    step()
    torch.cuda.synchronize(device)
    if release is not None:
        release()
    gc.collect()
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    step()
    torch.cuda.synchronize(device)
    return (torch.cuda.max_memory_allocated(device) - before) / MIB


def cpu_memory_supported():
    return os.access("/proc/self/clear_refs", os.W_OK) and os.path.exists("/proc/self/status")


def spec_target(spec):
    """The target a JSON-able ``spec`` describes (what a memory subprocess rebuilds)."""
    precision = spec.get("precision", "fp32")
    if spec["kind"] == "model":
        target = model_target(spec["cfg"], spec["opts"], spec["batch_size"], precision)
        if spec.get("compile"):
            target.module = torch.compile(target.module)
        return target
    return block_target(spec["variant"], spec["shape"], spec["opts"], precision)


def memory_worker(spec):
    """In a fresh process: the CPU peaks of the target of ``spec`` (see ``measure_cpu_memory``)."""
    torch.set_num_threads(spec["threads"])
    target = spec_target(spec)
    return {
        "forward": rss_peak_mib(target.forward_pass),
        "train": rss_peak_mib(target.training_pass, release=target.free_gradients),
    }


def measure_cpu_memory(spec):
    """Runs ``memory_worker(spec)`` in a subprocess with glibc's mmap threshold lowered."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(MMAP_THRESHOLD))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO, env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "gta_slowfast.tools.benchmark", "--memory-worker"],
        input=json.dumps(spec), capture_output=True, text=True, env=env,
    )
    if result.returncode:
        raise RuntimeError(
            f"memory measurement of {spec} failed (exit {result.returncode}):\n{result.stderr}"
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------------
# Timing


def timed(step, device):
    """(seconds, process CPU seconds) of one call of ``step``: on CUDA the time between two
    CUDA events around it (the device's own clock), on the CPU the wall clock."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        cpu = time.process_time()
        start.record()
        step()
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end) / 1e3, time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    step()
    return time.perf_counter() - wall, time.process_time() - cpu


def time_in_turns(entries, device, warmup, repeats):
    """
    Times one forward and one forward+backward pass of every entry's target per round; the
    first ``warmup`` rounds are not kept. Sets each entry's ``runs``: {mode: [(seconds,
    process CPU seconds)]} per kept round.
    """
    for entry in entries:
        entry["runs"] = {"forward": [], "train": []}
    rounds = warmup + repeats
    for r in range(rounds):
        for entry in entries:
            target = entry["target"]
            for mode, step in (("forward", target.forward_pass), ("train", target.training_pass)):
                seconds = timed(step, device)
                if r >= warmup:
                    entry["runs"][mode].append(seconds)
        label = "warm-up" if r < warmup else f"timed {r - warmup + 1}/{repeats}"
        logger.info("%s: round %d/%d (%s) done", device, r + 1, rounds, label)


# ------------------------------------------------------------------------------------------------
# The run


def machine_info(devices):
    info = {
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
    }
    from .. import compat

    info["pyslowfast"] = compat.generation_name()
    if any(d.type == "cuda" for d in devices):
        info["cuda_device"] = torch.cuda.get_device_name()
    return info


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _load():
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def config_groups(args):
    """[(group title, [config path])]: ``--cfg`` as one group, else the ``--preset`` groups."""
    if args.cfg:
        return [("models", args.cfg)]
    return [PRESETS[name] for name in args.preset]


def model_variants(cfg, args):
    """(row-name suffix, extra opts) of each row of a config: as configured and, with
    ``--activation-checkpoint``, with GTA.ACTIVATION_CHECKPOINT where it has added blocks."""
    variants = [("", [])]
    if args.activation_checkpoint and any_block(cfg) and cfg.NONLOCAL.TYPE != "nonlocal":
        variants.append((" + GTA.ACTIVATION_CHECKPOINT", CHECKPOINT_OPTS))
    return variants


def describe_targets(groups, opts, args):
    """Entries (name, group, spec, params, GFLOPs; no module kept) of everything to measure,
    for every --precision."""
    from .. import dummy_inputs, load_config

    entries = []
    for precision, compiled in itertools.product(args.precision, [False] + [True] * args.compile):
        tag = "" if precision == "fp32" else f" ({precision})"
        tag += " torch.compile" if compiled else ""
        for title, paths in groups:
            for i, path in enumerate(paths, start=1):
                cfg = load_config(path, opts)
                params, flops = measure(cfg)
                for suffix, extra in model_variants(cfg, args):
                    entries.append(dict(
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
                    entries.append(dict(
                        group=f"block {stage}{tag}", name=f"{variant} block {stage}",
                        config=None, type=variant, precision=precision, input=[shape],
                        spec=spec, params_m=target.params_m(), gflops=target.gflops(),
                    ))
                    logger.info("%s %s: %.2f M params, %.3f GFLOPs", entries[-1]["name"],
                                shape, entries[-1]["params_m"], entries[-1]["gflops"])
    return entries


def measure_memory(entries, device):
    """Sets every entry's ``peak_forward_mib`` / ``peak_train_mib`` on ``device`` (None: n/a)."""
    supported = device.type == "cuda" or cpu_memory_supported()
    if not supported:
        logger.warning("peak CPU memory needs Linux /proc/self/clear_refs; reported as n/a")
    for entry in entries:
        entry["peak_forward_mib"] = entry["peak_train_mib"] = None
        if not supported:
            continue
        if device.type == "cuda":
            target = entry["target"]
            entry["peak_forward_mib"] = cuda_peak_mib(target.forward_pass, device)
            entry["peak_train_mib"] = cuda_peak_mib(
                target.training_pass, device, release=target.free_gradients
            )
        else:
            logger.info("%s: peak memory in a subprocess", entry["name"])
            peaks = measure_cpu_memory(dict(entry["spec"], threads=torch.get_num_threads()))
            entry["peak_forward_mib"], entry["peak_train_mib"] = peaks["forward"], peaks["train"]


def benchmark(args):
    """Measures everything ``args`` asks for; returns the JSON-ready report."""
    opts = config_opts(args.opts, args.frames, args.crop)
    groups = config_groups(args)
    devices = [torch.device(d) for d in resolve_devices(args.device)]
    described = describe_targets(groups, opts, args)
    rows = []
    for device in devices:
        entries = [dict(e, target=spec_target(e["spec"]).to(device)) for e in described]
        load_before = _load()
        time_in_turns(entries, device, args.warmup, args.repeats)
        load_after = _load()
        if args.memory:
            measure_memory(entries, device)
        else:
            for entry in entries:
                entry["peak_forward_mib"] = entry["peak_train_mib"] = None
        rows += finish_rows(
            entries, device, args.batch_size, (load_before, load_after), args.statistic
        )
        del entries
    return dict(
        machine=machine_info(devices),
        settings=dict(
            configs=[path for _, paths in groups for path in paths], opts=opts,
            precision=list(args.precision), activation_checkpoint=args.activation_checkpoint,
            compile=args.compile, batch_size=args.batch_size, warmup=args.warmup,
            repeats=args.repeats, statistic=args.statistic, devices=[str(d) for d in devices],
            memory=args.memory,
            block_variants=list(args.block_variants) if args.blocks else [],
        ),
        rows=rows,
    )


def data_benchmark(args):
    """``--data``: the input pipeline of each dataset against its decode limit (JSON-ready)."""
    cfgs = args.cfg or [benchmark_data.DATASET_CONFIGS[d]
                        for d in (args.data or sorted(benchmark_data.DATASET_CONFIGS))]
    load_before = _load()
    rows = benchmark_data.benchmark_data(cfgs, args.output_dir, args.warmup, args.items,
                                         list(args.opts or []))
    return dict(
        machine=machine_info([torch.device("cpu")]),
        settings=dict(configs=cfgs, opts=list(args.opts or []), warmup=args.warmup,
                      rounds=args.items, load_average=[load_before, _load()]),
        rows=rows,
    )


STATISTICS = {"median": statistics.median, "min": min}


def finish_rows(entries, device, batch_size, load, statistic="median"):
    """JSON rows of ``entries`` (times: ``statistic`` of the kept passes), with each group's
    times and FLOPs relative to its first row."""
    pick = STATISTICS[statistic]
    rows, firsts = [], {}
    for entry in entries:
        wall = {m: pick([w for w, _ in runs]) for m, runs in entry["runs"].items()}
        cpu = {m: pick([c for _, c in runs]) for m, runs in entry["runs"].items()}
        entry["train_s"] = wall["train"]
        first = firsts.setdefault(entry["group"], entry)
        rows.append(dict(
            group=entry["group"], name=entry["name"], config=entry["config"], type=entry["type"],
            device=str(device), precision=entry["precision"], input=entry["input"],
            params_m=round(entry["params_m"], 3), gflops=round(entry["gflops"], 3),
            forward_ms=round(wall["forward"] * 1e3, 2),
            train_ms=round(wall["train"] * 1e3, 2),
            forward_clips_per_s=round(batch_size / wall["forward"], 3),
            train_clips_per_s=round(batch_size / wall["train"], 3),
            train_time_ratio=round(wall["train"] / first["train_s"], 3),
            gflops_ratio=round(entry["gflops"] / first["gflops"], 3) if first["gflops"] else None,
            # Process CPU time of all threads; not meaningful for CUDA.
            forward_cpu_ms=round(cpu["forward"] * 1e3, 2) if device.type == "cpu" else None,
            train_cpu_ms=round(cpu["train"] * 1e3, 2) if device.type == "cpu" else None,
            forward_runs_ms=[round(w * 1e3, 2) for w, _ in entry["runs"]["forward"]],
            train_runs_ms=[round(w * 1e3, 2) for w, _ in entry["runs"]["train"]],
            peak_forward_mib=_round(entry["peak_forward_mib"]),
            peak_train_mib=_round(entry["peak_train_mib"]),
            load_average=list(load),
        ))
    return rows


def _round(value):
    return None if value is None else round(value, 1)


def resolve_devices(device):
    if device == "auto":
        return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")
    return [device]


def markdown(report):
    """The report as a Markdown table, with the machine and settings above it."""
    m, s = report["machine"], report["settings"]
    lines = [
        f"Machine: {m['processor']}, {m['cpu_count']} CPUs, {m['threads']} threads, torch "
        f"{m['torch']}, PySlowFast {m['pyslowfast']}"
        + (f", {m['cuda_device']}" if "cuda_device" in m else "")
        + f". Batch {s['batch_size']}, {s['statistic']} of {s['repeats']} passes after "
        f"{s['warmup']} warm-up.",
        "",
        "| model | device | precision | params (M) | GFLOPs | fwd ms | fwd clips/s | "
        "fwd+bwd ms | fwd+bwd clips/s | fwd+bwd CPU ms | fwd+bwd time ratio | GFLOPs ratio | "
        "peak fwd MiB | peak fwd+bwd MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        peak = ["n/a" if r[k] is None else f"{r[k]:.0f}"
                for k in ("peak_forward_mib", "peak_train_mib")]
        ratio = "n/a" if r["gflops_ratio"] is None else f"{r['gflops_ratio']:.2f}"
        cpu = "n/a" if r["train_cpu_ms"] is None else f"{r['train_cpu_ms']:.0f}"
        lines.append(
            f"| {r['name']} | {r['device']} | {r['precision']} | {r['params_m']:.2f} | "
            f"{r['gflops']:.2f} | "
            f"{r['forward_ms']:.1f} | {r['forward_clips_per_s']:.2f} | {r['train_ms']:.1f} | "
            f"{r['train_clips_per_s']:.2f} | {cpu} | {r['train_time_ratio']:.2f} | {ratio} | "
            f"{peak[0]} | {peak[1]} |"
        )
    lines.append("")
    lines.append("Times: per pass, the wall clock on the CPU, CUDA events on a GPU; CPU ms: "
                 "process CPU time of the pass, all threads. Ratios: fwd+bwd wall time and GFLOPs over the first row of "
                 "the same group (the base config; the first block variant at that stage). Peak "
                 "memory: see --help.")
    return "\n".join(lines)


def parser():
    p = cli.argument_parser("gta_slowfast.tools.benchmark", __doc__)
    p.add_argument("--cfg", nargs="+", help="config files; the first is the base "
                   "(default: the --preset)")
    p.add_argument("--preset", nargs="+", choices=sorted(PRESETS), default=["r2d"],
                   help="config groups used without --cfg: r2d = configs/SSv1/R2D_R50_{,NL_,"
                   "DNL_,GTA_}8x1.yaml, slowfast = configs/SSv1/SLOWFAST_16x8_R50{,_NL,_DNL,"
                   "_GTA}.yaml of this repository (default: r2d)")
    p.add_argument("--activation-checkpoint", action="store_true",
                   help="also measure every config with added blocks with "
                   "GTA.ACTIVATION_CHECKPOINT True")
    p.add_argument("--precision", nargs="+", choices=list(PRECISIONS), default=["fp32"],
                   help="fp32, or autocast to fp16 / bf16 (PySlowFast's "
                   "TRAIN.MIXED_PRECISION is fp16 autocast); each adds a set of rows "
                   "(default: fp32)")
    p.add_argument("--compile", action="store_true",
                   help="also each model under torch.compile (its own table; the warm-up "
                        "rounds compile, so use --warmup 2 or more)")
    p.add_argument("--batch-size", type=int, default=1, help="clips per pass (default 1)")
    p.add_argument("--frames", type=int, help="DATA.NUM_FRAMES (default: each config's)")
    p.add_argument("--crop", type=int, help="DATA.TRAIN_CROP_SIZE (default: each config's)")
    p.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds (default 5)")
    p.add_argument("--statistic", choices=sorted(STATISTICS), default="median",
                   help="time reported per entry: median (default) or min, the least "
                   "disturbed pass when other processes load the machine")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="auto: the CPU, and CUDA when present (default)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    p.add_argument("--block-variants", nargs="+", default=list(BLOCK_VARIANTS),
                   metavar="NAME", help="variants timed alone (default: nonlocal dnl gta)")
    p.add_argument("--no-blocks", dest="blocks", action="store_false",
                   help="skip the blocks alone")
    p.add_argument("--no-memory", dest="memory", action="store_false",
                   help="skip the peak-memory measurements")
    p.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR,
                   help="where benchmark.md and benchmark.json go (default: "
                   f"{DEFAULT_OUTPUT_DIR}, under the current directory)")
    p.add_argument("--data", nargs="*", choices=sorted(benchmark_data.DATASET_CONFIGS),
                   metavar="DATASET", help="time the input pipeline of these datasets "
                   "(default: all, each with its R2D-50 8-frame config; with --cfg: the "
                   "configs' TRAIN.DATASET) against its decode limit, instead of the models")
    p.add_argument("--items", type=int, default=40,
                   help="--data: training items timed per dataset (default 40)")
    p.add_argument("--memory-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("opts", nargs=argparse.REMAINDER, default=None,
                   help="KEY VALUE config overrides for all configs (GTA.* also for the blocks)")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    if args.memory_worker:
        print(json.dumps(memory_worker(json.loads(sys.stdin.read()))))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if args.threads:
        torch.set_num_threads(args.threads)
    if min(args.batch_size, args.repeats) < 1 or args.warmup < 0:
        parser().error("--batch-size and --repeats must be >= 1, --warmup >= 0")
    if args.data is not None and (args.items < 1 or args.warmup < 0):
        parser().error("--items must be >= 1, --warmup >= 0")
    with cli.reported_errors(parser(), args.debug):
        report = data_benchmark(args) if args.data is not None else benchmark(args)
    out_dir = args.output_dir
    os.makedirs(out_dir, exist_ok=True)
    stem = "data" if args.data is not None else "benchmark"
    table = (benchmark_data.markdown if args.data is not None else markdown)(report)
    for name, text in ((f"{stem}.md", table + "\n"), (f"{stem}.json", json.dumps(report, indent=2))):
        with open(os.path.join(out_dir, name), "w") as f:
            f.write(text)
    print(table)
    print(f"\nwritten: {os.path.join(out_dir, stem + '.md')}, "
          f"{os.path.join(out_dir, stem + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
