"""
What the benchmarks write: the machine they ran on, the JSON rows of the model and block
measurements (times as the chosen statistic of the kept passes, each group relative to its
first row), and the Markdown tables of those rows and of the input pipeline's.
"""

import json
import os
import platform

import torch

from .. import compat
from .timing import STATISTICS


def machine_info(devices):
    """The machine of a run on ``devices``: platform, processor, CPUs, torch threads, versions
    and, with a CUDA device among them, its name."""
    info = {
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "pyslowfast": compat.generation_name(),
    }
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


def measurement_rows(measurements, device, batch_size, load, statistic="median"):
    """JSON rows of ``measurements`` on ``device`` (times: ``statistic`` of the kept passes),
    with each group's times and FLOPs relative to its first row; ``load``: the load average
    before and after the timing."""
    pick = STATISTICS[statistic]
    rows, firsts = [], {}
    for m in measurements:
        wall = {mode: pick([w for w, _ in runs]) for mode, runs in m.runs.items()}
        cpu = {mode: pick([c for _, c in runs]) for mode, runs in m.runs.items()}
        first_wall, first = firsts.setdefault(m.group, (wall, m))
        rows.append(dict(
            group=m.group, name=m.name, config=m.config, type=m.type,
            device=str(device), precision=m.precision, input=m.input,
            params_m=round(m.params_m, 3), gflops=round(m.gflops, 3),
            forward_ms=round(wall["forward"] * 1e3, 2),
            train_ms=round(wall["train"] * 1e3, 2),
            forward_clips_per_s=round(batch_size / wall["forward"], 3),
            train_clips_per_s=round(batch_size / wall["train"], 3),
            train_time_ratio=round(wall["train"] / first_wall["train"], 3),
            gflops_ratio=round(m.gflops / first.gflops, 3) if first.gflops else None,
            # Process CPU time of all threads; not meaningful for CUDA.
            forward_cpu_ms=round(cpu["forward"] * 1e3, 2) if device.type == "cpu" else None,
            train_cpu_ms=round(cpu["train"] * 1e3, 2) if device.type == "cpu" else None,
            forward_runs_ms=[round(w * 1e3, 2) for w, _ in m.runs["forward"]],
            train_runs_ms=[round(w * 1e3, 2) for w, _ in m.runs["train"]],
            peak_forward_mib=_round(m.peak_forward_mib),
            peak_train_mib=_round(m.peak_train_mib),
            load_average=list(load),
        ))
    return rows


def _round(value):
    return None if value is None else round(value, 1)


def markdown(report):
    """The model and block rows as a Markdown table, with the machine and settings above it."""
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
                 "process CPU time of the pass, all threads. Ratios: fwd+bwd wall time and "
                 "GFLOPs over the first row of the same group (the base config; the first block "
                 "variant at that stage). Peak memory: see --help.")
    return "\n".join(lines)


def data_markdown(report):
    """The input pipeline's rows as a Markdown table, machine and settings above it."""
    m, s = report["machine"], report["settings"]
    lines = [
        f"Machine: {m['processor']}, {m['cpu_count']} CPUs, torch {m['torch']} (1 thread), "
        f"PySlowFast {m['pyslowfast']}. One process (one loader worker), mean of "
        f"{s['rounds']} training items after {s['warmup']} warm-up; load average "
        f"{s['load_average'][0]} before, {s['load_average'][1]} after.",
        "",
        "| dataset | video | clip | items/s | item ms | decode ms | transform ms | "
        "limit items/s | limit ms | items / limit | resize reference ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def ms(row, part):
        if row[f"{part}_ms"] is None:
            return "-"
        return f"{row[f'{part}_ms']:.1f} ({row[f'{part}_cpu_ms']:.1f})"

    for r in report["rows"]:
        lines.append(
            f"| {r['dataset']} | {r['video']} | {r['clip']} | {r['items_per_s']:.1f} | "
            f"{ms(r, 'item')} | {ms(r, 'decode')} | {ms(r, 'transform')} | "
            f"{r['limit_items_per_s']:.1f} | {ms(r, 'limit')} | {r['ratio']:.2f} "
            f"({r['ratio_cpu']:.2f}) | {ms(r, 'reference')} |"
        )
    lines.append("")
    lines.append(
        "item: dataset[i] of the training split (decode, sample, augment, normalise, pack); "
        "decode / transform: its two halves timed apart; limit: decoding only the frames an "
        "item needs, no conversion (see --help); resize reference: one OpenCV resize of each "
        "sampled frame to TSN.RESIZE and one to the crop. Milliseconds per item, wall clock "
        "(in brackets: process CPU time, all threads); items / limit: limit time over item "
        "time, wall (CPU)."
    )
    return "\n".join(lines)


def write_report(report, table, output_dir, stem):
    """Writes ``table`` to ``<stem>.md`` and ``report`` to ``<stem>.json`` in ``output_dir``
    (made if missing); returns the two paths."""
    os.makedirs(output_dir, exist_ok=True)
    paths = [os.path.join(output_dir, f"{stem}.{ext}") for ext in ("md", "json")]
    for path, text in zip(paths, (table + "\n", json.dumps(report, indent=2))):
        with open(path, "w") as f:
            f.write(text)
    return paths
