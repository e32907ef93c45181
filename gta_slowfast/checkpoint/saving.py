"""
The one place gta_slowfast writes training checkpoints: PySlowFast's file
(``OUTPUT_DIR/checkpoints/checkpoint_epoch_NNNNN.pyth``, a dict of ``epoch``, ``model_state``
without DDP's wrapper, ``optimizer_state`` and ``cfg`` as YAML text, as
``slowfast.utils.checkpoint.save_checkpoint`` writes it), written atomically: into a temporary
file of the same folder, flushed to disk, then renamed over the final name (``os.replace``).
A process killed while saving leaves the previous checkpoint the last complete one, and at
most a temporary file whose name PySlowFast's ``get_last_checkpoint`` never picks (it takes
the last name containing "checkpoint").

PySlowFast's own ``save_checkpoint`` (its trainer's) writes the final name directly;
``atomic_pyslowfast_saves`` makes it write through the same rename.
"""

import contextlib
import os
import shutil
import tempfile

import slowfast.utils.checkpoint as cu
import torch

from .. import compat

# Prefix of the temporary files; "checkpoint" must not be in it (see above).
TEMPORARY_PREFIX = ".saving-"


def _publish(write, path):
    """Calls ``write(temporary_path)``, then renames the complete file to ``path``."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=".tmp", dir=folder)
    os.close(handle)
    try:
        write(temporary)
        with open(temporary, "rb") as f:
            os.fsync(f.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    with contextlib.suppress(OSError):  # the rename itself, on file systems that allow it
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    return path


def save_checkpoint(cfg, model, optimizer, epoch):
    """Writes the checkpoint of ``epoch`` (0-based, saved as epoch + 1 as PySlowFast names
    it) of ``model`` (DDP-wrapped or not) and ``optimizer`` under ``cfg.OUTPUT_DIR``,
    atomically. Call it on the job's main process only. Returns the path."""
    net = model.module if hasattr(model, "module") else model
    state = {
        "epoch": epoch,
        "model_state": net.state_dict(),
        "optimizer_state": optimizer.state_dict(),
        "cfg": cfg.dump(),
    }
    path = compat.get_path_to_checkpoint(cfg, epoch + 1)
    return _publish(lambda temporary: torch.save(state, temporary), path)


def atomic_pyslowfast_saves():
    """Makes PySlowFast's ``slowfast.utils.checkpoint.save_checkpoint`` (which its trainer
    calls) write each checkpoint atomically: it writes into a staging job folder beside
    OUTPUT_DIR, and the complete file is renamed into ``OUTPUT_DIR/checkpoints``. Idempotent."""
    original = cu.save_checkpoint
    if getattr(original, "atomic", False):
        return

    def save(path_to_job, *args, **kwargs):
        os.makedirs(path_to_job, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=TEMPORARY_PREFIX, dir=path_to_job)
        try:
            written = original(staging, *args, **kwargs)
            if not written:  # not the main process: PySlowFast wrote nothing
                return written
            final = os.path.join(cu.get_checkpoint_dir(path_to_job), os.path.basename(written))
            return _publish(lambda temporary: os.replace(written, temporary), final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    save.atomic = True
    cu.save_checkpoint = save
