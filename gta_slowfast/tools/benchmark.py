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
of realistic size written once under ``--output-dir`` (``gta_slowfast.benchmark.data`` says
what exactly is timed). Results go to ``data.md`` and ``data.json`` there.

Peak memory, in MiB above what the model (or block) and its input already hold
(``gta_slowfast.benchmark.memory``):
- CUDA: ``torch.cuda.max_memory_allocated`` over one pass, minus the memory allocated before it.
- CPU: PyTorch exposes no high-water mark for CPU tensors, so each model and block is measured in
  a fresh subprocess: the resident set's high-water mark (Linux ``VmHWM``, reset through
  ``/proc/self/clear_refs``) over one pass, after a warm-up pass, minus the resident set before
  the pass. glibc serves every allocation of 64 KiB or more with mmap there
  (``MALLOC_MMAP_THRESHOLD_``), so freed tensors leave the resident set instead of inflating the
  baseline. It includes library workspaces (oneDNN, BLAS): an upper bound on tensor memory.
  Not available off Linux (shown as n/a).
"""

import dataclasses
import logging
import os
import sys

import torch

from .. import cli
from ..benchmark import data, memory, report, targets, timing

logger = logging.getLogger(__name__)

# Beside the other outputs of a run (git ignores output/), not in the configs' folders.
DEFAULT_OUTPUT_DIR = os.path.join("output", "benchmark")


def resolve_devices(device):
    """The devices ``--device`` names: ``auto`` is the CPU, and CUDA when present."""
    if device == "auto":
        return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")
    return [device]


def benchmark(args):
    """Measures everything ``args`` asks for; returns the JSON-ready report."""
    opts = targets.config_opts(args.opts, args.frames, args.crop)
    groups = targets.config_groups(args.cfg_files, args.preset)
    devices = [torch.device(d) for d in resolve_devices(args.device)]
    described = targets.describe_targets(groups, opts, args)
    rows = []
    for device in devices:
        measurements = [
            dataclasses.replace(m, target=targets.spec_target(m.spec).to(device))
            for m in described
        ]
        load_before = timing.load_average()
        timing.time_in_turns(measurements, device, args.warmup, args.repeats)
        load_after = timing.load_average()
        if args.memory:
            memory.measure_memory(measurements, device)
        rows += report.measurement_rows(
            measurements, device, args.batch_size, (load_before, load_after), args.statistic
        )
        del measurements
    return dict(
        machine=report.machine_info(devices),
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
    cfgs = args.cfg_files or [data.dataset_config(d)
                              for d in (args.data or sorted(data.DATASET_CONFIGS))]
    load_before = timing.load_average()
    rows = data.benchmark_data(cfgs, args.output_dir, args.warmup, args.items,
                               list(args.opts or []))
    return dict(
        machine=report.machine_info([torch.device("cpu")]),
        settings=dict(configs=cfgs, opts=list(args.opts or []), warmup=args.warmup,
                      rounds=args.items, load_average=[load_before, timing.load_average()]),
        rows=rows,
    )


def parser():
    """The command's arguments (see the module's docstring)."""
    p = cli.argument_parser("gta_slowfast.tools.benchmark", __doc__)
    cli.add_config_arguments(
        p, required=False,
        cfg_help="config files; the first is the base (default: the --preset); KEY VALUE "
        "overrides may follow the last one",
        opts_help="KEY VALUE config overrides for all configs (GTA.* also for the blocks)",
    )
    p.add_argument("--preset", nargs="+", choices=sorted(targets.PRESETS), default=["r2d"],
                   help="config groups used without --cfg: r2d = configs/SSv1/R2D_R50_{,NL_,"
                   "DNL_,GTA_}8x1.yaml, slowfast = configs/SSv1/SLOWFAST_16x8_R50{,_NL,_DNL,"
                   "_GTA}.yaml of this repository (default: r2d)")
    p.add_argument("--activation-checkpoint", action="store_true",
                   help="also measure every config with added blocks with "
                   "GTA.ACTIVATION_CHECKPOINT True")
    p.add_argument("--precision", nargs="+", choices=list(targets.PRECISIONS), default=["fp32"],
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
    p.add_argument("--statistic", choices=sorted(timing.STATISTICS), default="median",
                   help="time reported per entry: median (default) or min, the least "
                   "disturbed pass when other processes load the machine")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="auto: the CPU, and CUDA when present (default)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    p.add_argument("--block-variants", nargs="+", default=list(targets.BLOCK_VARIANTS),
                   metavar="NAME", help="variants timed alone (default: nonlocal dnl gta)")
    p.add_argument("--no-blocks", dest="blocks", action="store_false",
                   help="skip the blocks alone")
    p.add_argument("--no-memory", dest="memory", action="store_false",
                   help="skip the peak-memory measurements")
    p.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR,
                   help="where benchmark.md and benchmark.json go (default: "
                   f"{DEFAULT_OUTPUT_DIR}, under the current directory)")
    p.add_argument("--data", nargs="*", choices=sorted(data.DATASET_CONFIGS),
                   metavar="DATASET", help="time the input pipeline of these datasets "
                   "(default: all, each with its R2D-50 8-frame config; with --cfg: the "
                   "configs' TRAIN.DATASET) against its decode limit, instead of the models")
    p.add_argument("--items", type=int, default=40,
                   help="--data: training items timed per dataset (default 40)")
    return p


def main(argv=None):
    p = parser()
    args = cli.parse_config_arguments(p, argv)
    cli.setup_logging("%(asctime)s %(message)s", stream=sys.stderr)
    if args.threads:
        torch.set_num_threads(args.threads)
    if min(args.batch_size, args.repeats) < 1 or args.warmup < 0:
        p.error("--batch-size and --repeats must be >= 1, --warmup >= 0")
    if args.data is not None and (args.items < 1 or args.warmup < 0):
        p.error("--items must be >= 1, --warmup >= 0")
    with cli.reported_errors(p, args.debug):
        if args.data is not None:
            result, table, stem = data_benchmark(args), report.data_markdown, "data"
        else:
            result, table, stem = benchmark(args), report.markdown, "benchmark"
    table = table(result)
    paths = report.write_report(result, table, args.output_dir, stem)
    print(table)
    print(f"\nwritten: {paths[0]}, {paths[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
