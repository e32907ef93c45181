"""
PySlowFast checkpoints in models with added blocks.

- ``io``: the one reader of every file weights or scores are loaded from (PyTorch checkpoints
  and state dicts with ``weights_only=True``, Caffe2 pickles and saved predictions through
  restricted unpicklers); it parses a checkpoint's stored config once;
- ``adapt``: a checkpoint's tensors of earlier layouts brought to the current one, once, when
  ``io`` reads it;
- ``resample``: GTA's T x T matrices carried to another clip length (the loader's and
  ``convert resample``'s one transfer);
- ``torchvision_resnet``: torchvision's ImageNet ResNet-50 names mapped onto PySlowFast's R2D;
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
    epoch_number,
    read_checkpoint,
    read_predictions,
    read_torch_file,
)
from .loading import (
    LoadPlan,
    check_training_start,
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
    "check_training_start",
    "cpu_cfg",
    "epoch_number",
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
