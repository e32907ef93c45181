"""
Loading checkpoints into models, as PySlowFast's trainers decide what to load: the plans of a
training run (``train_plan``: the last checkpoint of OUTPUT_DIR, else
``TRAIN.CHECKPOINT_FILE_PATH`` to fine-tune from) and of a test (``test_plan``), each loaded
with ``load_checkpoint`` and reported in a ``LoadReport``.

A test evaluates the weights it loads, so every test-purpose load is ``"exact"``: every tensor
of the model, head included, must come from the checkpoint, or the load stops naming what it
could not load. (PySlowFast's own ``load_test_checkpoint`` falls back to
``TRAIN.CHECKPOINT_FILE_PATH`` and keeps, without an error, a head of another class count as
initialised; the pre-flight refuses such a run before PySlowFast's trainer starts.)

The epoch and optimizer state follow PySlowFast: a checkpoint that stores an epoch is resumed
(training continues after that epoch, with the stored optimizer state) unless
``TRAIN.CHECKPOINT_EPOCH_RESET``. Resuming the training state of a network with other parameters
is refused, naming the key that starts fine-tuning instead.
"""

from dataclasses import dataclass
from typing import Optional, Tuple

import slowfast.utils.checkpoint as cu
import slowfast.utils.logging as logging
from fvcore.common.config import CfgNode

from .. import compat
from .io import Checkpoint, CheckpointError, epoch_number, read_checkpoint
from .matching import clear_names, describe_differences, function_key_differences, match_state

logger = logging.get_logger(__name__)


def _restore_optimizer(optimizer, checkpoint, report):
    reset = "set TRAIN.CHECKPOINT_EPOCH_RESET True to start at epoch 0 with a fresh optimizer"
    if not report.same_network:
        raise CheckpointError(
            f"checkpoint {checkpoint.path} stores the training state of epoch "
            f"{epoch_number(checkpoint.epoch)} (epoch and optimizer state) of a network with "
            f"other parameters "
            f"({len(report.new_blocks)} new block tensors, {len(report.head_reinitialized)} "
            f"re-initialised head tensors, {len(report.unused)} unused checkpoint tensors). "
            f"PySlowFast resumes that state unless told not to: to fine-tune from it, {reset}"
        )
    if checkpoint.optimizer_state is None:
        raise CheckpointError(
            f"checkpoint {checkpoint.path} stores epoch {epoch_number(checkpoint.epoch)} but no "
            f"'optimizer_state' to resume with; {reset}"
        )
    try:
        optimizer.load_state_dict(checkpoint.optimizer_state)
    except (ValueError, KeyError) as err:
        raise CheckpointError(
            f"checkpoint {checkpoint.path}: its optimizer state does not fit the optimizer "
            f"({type(err).__name__}: {err}); {reset}"
        ) from err
    report.optimizer_restored = True


def check_config_of(checkpoint, cfg, report):
    """
    Compares the config stored with ``checkpoint`` with the run's ``cfg`` in the keys that
    change the function but not the tensors (``matching.FUNCTION_KEYS``). Where they differ, an
    exact load (a test, a resume: the network is used as loaded) is refused with one line
    naming the keys, both values and ``GTA.CHECK_CHECKPOINT_CONFIG`` (False: loaded anyway,
    with a warning); a fine-tune (a new start, trained further) is logged as a warning.
    """
    differences = function_key_differences(checkpoint, cfg, report)
    if not differences:
        return
    message = describe_differences(checkpoint.path, differences)
    if report.mode == "exact" and cfg.GTA.CHECK_CHECKPOINT_CONFIG:
        raise CheckpointError(message)
    logger.warning(message)


def load_checkpoint(path, model, kind="pytorch", inflate=False, mode="finetune",
                    optimizer=None, epoch_reset=False, clear_name_pattern=(), resample=False,
                    cfg=None, caller=None):
    """
    Loads a checkpoint into ``model`` as ``match_state`` decides and, as PySlowFast does, takes
    its epoch (and, given ``optimizer``, its optimizer state) unless ``epoch_reset``.

    Args:
        path (str or Checkpoint): the checkpoint file, or a ``Checkpoint`` already read
            (``io.read_checkpoint``), which is then not read again.
        model (nn.Module): the model, DDP-wrapped or not.
        kind (str): "pytorch" or "caffe2", as ``TRAIN.CHECKPOINT_TYPE``.
        inflate (bool): 2D or time-1 kernels inflated in time, as ``TRAIN.CHECKPOINT_INFLATE``.
        mode (str): "finetune" or "exact" (``matching``'s module docstring).
        optimizer (torch.optim.Optimizer): given, the stored optimizer state is restored with
            the epoch.
        epoch_reset (bool): as ``TRAIN.CHECKPOINT_EPOCH_RESET``: the stored epoch and
            optimizer state are ignored.
        clear_name_pattern (tuple of str): as PySlowFast's
            ``TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN``, applied to PyTorch checkpoints loaded
            without inflation.
        resample (bool): GTA matrices of another clip length are resampled to the model's
            (``GTA.RESAMPLE_CHECKPOINT``).
        cfg (CfgNode): the run's config, which the stored config must agree with where a key
            changes the function but not the tensors (``check_config_of``); None: not checked.
        caller (tuple): (name, config argument) of the API call or command loading it, whose
            arguments its errors then speak of, not the launcher's config keys.
    Returns:
        LoadReport: what the checkpoint gave the model (also logged); its ``epoch`` is the
        stored 0-based epoch training continues after, -1 for none or reset.
    Raises:
        CheckpointError: the file cannot be read, does not fit the model (naming the
            tensors), stores a training state that cannot be resumed, or was saved by a network
            computing another function (naming the keys).
    """
    net = model.module if hasattr(model, "module") else model
    checkpoint = path if isinstance(path, Checkpoint) else read_checkpoint(path, kind)
    if clear_name_pattern and kind == "pytorch" and not inflate:
        checkpoint.model_state = clear_names(checkpoint.model_state, clear_name_pattern)
    to_load, report = match_state(net, checkpoint, inflate=inflate, mode=mode, resample=resample,
                                  caller=caller)
    if cfg is not None:
        check_config_of(checkpoint, cfg, report)
    if checkpoint.epoch is not None and not epoch_reset:
        report.epoch = checkpoint.epoch
        if optimizer is not None:
            _restore_optimizer(optimizer, checkpoint, report)
    net.load_state_dict(to_load, strict=False)
    logger.info(report.summary())
    return report


@dataclass
class LoadPlan:
    """A checkpoint a run loads, and how: PySlowFast's order and arguments."""

    source: str  # where the path comes from, for messages
    path: str
    purpose: str  # "train" (with the optimizer) or "test"
    kind: str = "pytorch"
    mode: str = "exact"
    inflate: bool = False
    epoch_reset: bool = False
    clear_name_pattern: Tuple[str, ...] = ()
    resample: bool = False  # GTA.RESAMPLE_CHECKPOINT
    cfg: Optional[CfgNode] = None  # the run's config, checked against the stored one

    def __post_init__(self):
        if self.purpose == "test" and self.mode != "exact":
            raise ValueError(
                f"{self.source} ({self.path}): a test loads every tensor of the model, head "
                f"included (mode 'exact'), not mode {self.mode!r}"
            )

    def read(self):
        """The ``Checkpoint`` at ``path`` (``io.read_checkpoint``), to hand to ``load``."""
        return read_checkpoint(self.path, self.kind)

    def load(self, model, optimizer=None, checkpoint=None):
        """Loads the plan's checkpoint (``checkpoint``: it, already read) into ``model`` (and
        ``optimizer``) with ``load_checkpoint``; returns the LoadReport."""
        logger.info("Load from %s: %s", self.source, self.path)
        return load_checkpoint(
            self.path if checkpoint is None else checkpoint, model, self.kind, self.inflate,
            self.mode, optimizer, self.epoch_reset, self.clear_name_pattern, self.resample,
            self.cfg,
        )


# The source of the plan that resumes the run in OUTPUT_DIR (TRAIN.AUTO_RESUME).
RESUME_SOURCE = "the last checkpoint of OUTPUT_DIR"


def train_plan(cfg):
    """What training loads first, as PySlowFast's train_net: the last checkpoint of OUTPUT_DIR
    (TRAIN.AUTO_RESUME), else TRAIN.CHECKPOINT_FILE_PATH; None for neither."""
    if cfg.TRAIN.AUTO_RESUME and cu.has_checkpoint(cfg.OUTPUT_DIR):
        last = compat.get_last_checkpoint(cfg)
        # As train_net: no fall-back to TRAIN.CHECKPOINT_FILE_PATH once OUTPUT_DIR has one.
        return LoadPlan(RESUME_SOURCE, last, "train", cfg=cfg) if last else None
    if cfg.TRAIN.CHECKPOINT_FILE_PATH:
        return LoadPlan(
            "TRAIN.CHECKPOINT_FILE_PATH",
            cfg.TRAIN.CHECKPOINT_FILE_PATH,
            "train",
            kind=cfg.TRAIN.CHECKPOINT_TYPE,
            mode="finetune",
            inflate=cfg.TRAIN.CHECKPOINT_INFLATE,
            epoch_reset=cfg.TRAIN.CHECKPOINT_EPOCH_RESET,
            clear_name_pattern=tuple(cfg.TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN),
            resample=cfg.GTA.RESAMPLE_CHECKPOINT,
            cfg=cfg,
        )
    return None


def test_plan(cfg):
    """What testing loads, as PySlowFast's test_net: TEST.CHECKPOINT_FILE_PATH, else the last
    checkpoint of OUTPUT_DIR, else TRAIN.CHECKPOINT_FILE_PATH (without inflation); None for
    none of them. Each is loaded exactly: a test evaluates every tensor it loads."""
    if cfg.TEST.CHECKPOINT_FILE_PATH:
        return LoadPlan(
            "TEST.CHECKPOINT_FILE_PATH", cfg.TEST.CHECKPOINT_FILE_PATH, "test",
            kind=cfg.TEST.CHECKPOINT_TYPE, resample=cfg.GTA.RESAMPLE_CHECKPOINT, cfg=cfg,
        )
    if cu.has_checkpoint(cfg.OUTPUT_DIR):
        return LoadPlan("the last checkpoint of OUTPUT_DIR", compat.get_last_checkpoint(cfg),
                        "test", cfg=cfg)
    if cfg.TRAIN.CHECKPOINT_FILE_PATH:
        return LoadPlan(
            "TRAIN.CHECKPOINT_FILE_PATH", cfg.TRAIN.CHECKPOINT_FILE_PATH, "test",
            kind=cfg.TRAIN.CHECKPOINT_TYPE, resample=cfg.GTA.RESAMPLE_CHECKPOINT, cfg=cfg,
        )
    return None


def check_training_start(cfg, plan, report):
    """
    Checks where a training run of ``cfg`` starts after ``plan`` loaded with ``report``.

    Args:
        cfg (CfgNode): the run's config.
        plan (LoadPlan): the plan of what training loaded first (``train_plan``).
        report (LoadReport): what it loaded.
    Raises:
        CheckpointError: a fine-tuning start that resumes after the last epoch
            (``SOLVER.MAX_EPOCH``), so that nothing would be trained; names both ways out.
    Logs a warning where added blocks do not start as the identity
    (``GTA.ZERO_INIT_FINAL_NORM`` False).
    """
    if report.new_blocks and not cfg.GTA.ZERO_INIT_FINAL_NORM:
        logger.warning(
            "GTA.ZERO_INIT_FINAL_NORM is False: the %d new block tensors do not start as the "
            "identity, so the network no longer computes what %s computed",
            len(report.new_blocks), plan.path,
        )
    if plan.mode == "finetune" and report.epoch + 1 >= cfg.SOLVER.MAX_EPOCH:
        raise CheckpointError(
            f"{plan.source} {plan.path} resumes after epoch {epoch_number(report.epoch)} and "
            f"SOLVER.MAX_EPOCH is {cfg.SOLVER.MAX_EPOCH}: nothing to train; set "
            f"TRAIN.CHECKPOINT_EPOCH_RESET True to fine-tune from it (from epoch 1, with a "
            f"fresh optimizer), or raise SOLVER.MAX_EPOCH"
        )


def resume_or_initialize(cfg, model, optimizer):
    """
    Loads what a training run loads first (``train_plan``), as PySlowFast's ``train_net``.

    Args:
        cfg (CfgNode): the run's config.
        model (nn.Module): its model, DDP-wrapped or not.
        optimizer (torch.optim.Optimizer): its optimizer, given the stored state on a resume.
    Returns:
        int: the 0-based epoch to start training at (0 where nothing is loaded or the epoch
        is reset).
    Raises:
        CheckpointError: as ``load_checkpoint`` and ``check_training_start``.
    """
    plan = train_plan(cfg)
    if plan is None:
        return 0
    report = plan.load(model, optimizer)
    check_training_start(cfg, plan, report)
    return report.epoch + 1


def load_for_test(cfg, model):
    """
    Loads what a test loads (``test_plan``), every tensor of the model exactly.

    Args:
        cfg (CfgNode): the run's config.
        model (nn.Module): its model, DDP-wrapped or not.
    Returns:
        LoadReport or None: what was loaded; None where there is nothing to load (logged: the
        model is tested as initialised).
    Raises:
        CheckpointError: as ``load_checkpoint``.
    """
    plan = test_plan(cfg)
    if plan is None:
        logger.warning(
            "No checkpoint to test: TEST.CHECKPOINT_FILE_PATH and TRAIN.CHECKPOINT_FILE_PATH are "
            "empty and %s has none. Testing the randomly initialised model.", cfg.OUTPUT_DIR
        )
        return None
    return plan.load(model)
