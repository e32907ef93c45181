"""
PySlowFast checkpoints in models with added blocks.

- ``io``: the one reader of every file weights or scores are loaded from (PyTorch checkpoints
  and state dicts with ``weights_only=True``, Caffe2 pickles and saved predictions through
  restricted unpicklers);
- ``matching``: which of a checkpoint's tensors go into which of a model's (fine-tune or exact);
- ``loading``: what a training run and a test load, as PySlowFast's trainers decide, and the
  report of it;
- ``preflight``: all of it on a CPU copy of the model before a job starts;
- ``saving``: the one writer of training checkpoints, atomic (temporary file, then rename);
- ``resume``: resuming OUTPUT_DIR's last checkpoint only for the run that wrote it.
"""

from ..models import cpu_cfg
from .io import (
    CHECKPOINT_TYPES,
    Checkpoint,
    CheckpointError,
    read_checkpoint,
    read_predictions,
    read_torch_file,
)
from .loading import (
    LoadPlan,
    load_checkpoint,
    load_for_test,
    resume_or_initialize,
    test_plan,
    train_plan,
)
from .matching import BLOCK_KEY, HEAD_PREFIX, MODES, LoadReport, group_names, match_state
from .preflight import check_pyslowfast_agrees, preflight

__all__ = [
    "BLOCK_KEY",
    "CHECKPOINT_TYPES",
    "Checkpoint",
    "CheckpointError",
    "HEAD_PREFIX",
    "LoadPlan",
    "LoadReport",
    "MODES",
    "check_pyslowfast_agrees",
    "cpu_cfg",
    "group_names",
    "load_checkpoint",
    "load_for_test",
    "match_state",
    "preflight",
    "read_checkpoint",
    "read_predictions",
    "read_torch_file",
    "resume_or_initialize",
    "test_plan",
    "train_plan",
]
