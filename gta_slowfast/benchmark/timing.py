"""
The one clock of the benchmarks: ``timed`` measures one call (the wall clock, or on CUDA the
device's own clock between two events, and the process CPU time of all threads);
``time_in_turns`` times every measurement's passes one round after the other, so that load
from other processes falls on all of them alike.
"""

import logging
import os
import statistics
import time

import torch

logger = logging.getLogger(__name__)

# The time reported per measurement from its kept passes (--statistic).
STATISTICS = {"median": statistics.median, "min": min}


def timed(step, device=None):
    """(result, seconds, process CPU seconds) of one call of ``step``: on a CUDA ``device`` the
    time between two CUDA events recorded around it, else the wall clock."""
    if device is not None and device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        cpu = time.process_time()
        start.record()
        result = step()
        end.record()
        torch.cuda.synchronize(device)
        return result, start.elapsed_time(end) / 1e3, time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def time_in_turns(measurements, device, warmup, repeats):
    """
    Times one forward and one forward+backward pass of every measurement's target per round;
    the first ``warmup`` rounds are not kept. Sets each measurement's ``runs``: {mode:
    [(seconds, process CPU seconds)]} per kept round.
    """
    for measurement in measurements:
        measurement.runs = {"forward": [], "train": []}
    rounds = warmup + repeats
    for r in range(rounds):
        for measurement in measurements:
            target = measurement.target
            for mode, step in (("forward", target.forward_pass), ("train", target.training_pass)):
                _, *seconds = timed(step, device)
                if r >= warmup:
                    measurement.runs[mode].append(tuple(seconds))
        label = "warm-up" if r < warmup else f"timed {r - warmup + 1}/{repeats}"
        logger.info("%s: round %d/%d (%s) done", device, r + 1, rounds, label)


def load_average():
    """The machine's 1-minute load average (None where the system has none)."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
