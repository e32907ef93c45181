"""
Peak memory of one pass, in MiB above what the model (or block) and its input already hold.

- CUDA: ``torch.cuda.max_memory_allocated`` over one pass, minus the memory allocated before it.
- CPU: PyTorch exposes no high-water mark for CPU tensors, so each target is measured in a fresh
  process, this module run as ``python -m gta_slowfast.benchmark.memory`` (the target's JSON
  spec on stdin, ``{"forward": MiB, "train": MiB}`` on stdout): the resident set's high-water
  mark (Linux ``VmHWM``, reset through ``/proc/self/clear_refs``) over one pass, after a
  warm-up pass, minus the resident set before the pass. glibc serves every allocation of
  64 KiB or more with mmap there (``MALLOC_MMAP_THRESHOLD_``), so freed tensors leave the
  resident set instead of inflating the baseline. It includes library workspaces (oneDNN,
  BLAS): an upper bound on tensor memory. Not available off Linux.
"""

import gc
import json
import logging
import os
import subprocess
import sys

import torch

from .targets import spec_target

logger = logging.getLogger(__name__)

WORKER_MODULE = "gta_slowfast.benchmark.memory"  # this module, run in a fresh process
MMAP_THRESHOLD = 65536
MIB = 2.0**20
# The folder holding the gta_slowfast package, for the worker process to import the same one.
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _proc_status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def cpu_memory_supported():
    """Whether this system lets a process reset and read its resident-set high-water mark."""
    return os.access("/proc/self/clear_refs", os.W_OK) and os.path.exists("/proc/self/status")


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


def worker_peaks(spec):
    """In a fresh process: the CPU peaks {"forward", "train"} (MiB) of the target of ``spec``,
    on ``spec["threads"]`` torch threads."""
    torch.set_num_threads(spec["threads"])
    target = spec_target(spec)
    return {
        "forward": rss_peak_mib(target.forward_pass),
        "train": rss_peak_mib(target.training_pass, release=target.free_gradients),
    }


def measure_cpu_memory(spec):
    """Runs ``worker_peaks(spec)`` in a fresh process (this module) with glibc's mmap
    threshold lowered; returns its peaks."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(MMAP_THRESHOLD))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_PARENT, env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", WORKER_MODULE], input=json.dumps(spec), capture_output=True,
        text=True, env=env,
    )
    if result.returncode:
        raise RuntimeError(
            f"memory measurement of {spec} failed (exit {result.returncode}):\n{result.stderr}"
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure_memory(measurements, device):
    """Sets every measurement's ``peak_forward_mib`` / ``peak_train_mib`` on ``device``
    (None: not available here)."""
    supported = device.type == "cuda" or cpu_memory_supported()
    if not supported:
        logger.warning("peak CPU memory needs Linux /proc/self/clear_refs; reported as n/a")
    for m in measurements:
        m.peak_forward_mib = m.peak_train_mib = None
        if not supported:
            continue
        if device.type == "cuda":
            m.peak_forward_mib = cuda_peak_mib(m.target.forward_pass, device)
            m.peak_train_mib = cuda_peak_mib(
                m.target.training_pass, device, release=m.target.free_gradients
            )
        else:
            logger.info("%s: peak memory in a subprocess", m.name)
            peaks = measure_cpu_memory(dict(m.spec, threads=torch.get_num_threads()))
            m.peak_forward_mib, m.peak_train_mib = peaks["forward"], peaks["train"]


def main():
    """The worker: a target's JSON spec on stdin, its CPU peaks as JSON on stdout."""
    print(json.dumps(worker_peaks(json.loads(sys.stdin.read()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
