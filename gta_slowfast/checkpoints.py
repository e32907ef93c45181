"""
Loading PySlowFast checkpoints into models with added blocks, with a report.

PyTorch checkpoints (``.pyth``: a dict with ``model_state`` and, as PySlowFast's
``save_checkpoint`` writes them, ``epoch``, ``optimizer_state`` and ``cfg``; files of either
PySlowFast generation) and Caffe2 checkpoints (``.pkl``: a pickle whose ``blobs`` dict holds
numpy arrays under Caffe2 names, renamed by PySlowFast's own ``get_name_convert_func``) load
in one of two modes:

- ``"finetune"`` (``TRAIN.CHECKPOINT_FILE_PATH``): every tensor of the backbone must come from
  the checkpoint (2D or time-1 kernels inflated to the model's temporal size with
  ``TRAIN.CHECKPOINT_INFLATE``, as PySlowFast inflates); tensors of the blocks at
  ``NONLOCAL.LOCATION`` that the checkpoint lacks (GTA / DNL blocks added to a network trained
  without them, or with PySlowFast's stock non-local blocks, whose tensors have other names) keep
  their initialisation, the identity with ``GTA.ZERO_INIT_FINAL_NORM``; a head of another shape
  (another ``MODEL.NUM_CLASSES``) keeps its initialisation; any other missing or misshapen
  tensor is refused, naming the tensors. Checkpoint tensors the model has no place for (e.g. the
  stock non-local blocks) are reported as unused.
- ``"exact"`` (``TEST.CHECKPOINT_FILE_PATH``, resuming from OUTPUT_DIR): every tensor of the
  model comes from the checkpoint and every tensor of the checkpoint goes into the model.

The epoch and optimizer state follow PySlowFast: a checkpoint that stores an epoch is resumed
(training continues after that epoch, with the stored optimizer state) unless
``TRAIN.CHECKPOINT_EPOCH_RESET``. Resuming the training state of a network with other parameters
is refused, naming the key that starts fine-tuning instead.

``preflight`` runs all of this on a CPU copy of the model before a job starts and, where
PySlowFast's own trainer will load the checkpoint, checks that PySlowFast's loader gives the same
weights and epoch.
"""

import contextlib
import copy
import io
import os
import pickle
import re
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

import slowfast.utils.checkpoint as cu
import slowfast.utils.logging as logging

from . import compat

logger = logging.get_logger(__name__)

CHECKPOINT_TYPES = ("pytorch", "caffe2")
MODES = ("finetune", "exact")
# A tensor of a block at a NONLOCAL.LOCATION place; group(1) is the place, e.g.
# "s3.pathway0_nonlocal1".
BLOCK_KEY = re.compile(r"^((?:.*\.)?pathway\d+_nonlocal\d+)\.")
HEAD_PREFIX = "head."
# Caffe2 blobs holding solver state, not weights; PySlowFast's loader skips the same.
CAFFE2_SOLVER_BLOBS = ("momentum", "lr", "model_iter")
# How many names an error or a report lists before summarising the rest.
LIST_LIMIT = 10


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or does not fit the model it is loaded into."""


@dataclass
class Checkpoint:
    """What loading needs from a checkpoint file."""

    path: str
    kind: str  # "pytorch" or "caffe2"
    model_state: "OrderedDict[str, torch.Tensor]"
    epoch: Optional[int] = None  # None: the file stores no epoch (Caffe2, converted files)
    optimizer_state: Optional[dict] = None


@dataclass
class LoadReport:
    """What a checkpoint gave a model."""

    path: str
    kind: str = "pytorch"
    mode: str = "finetune"
    loaded: List[str] = field(default_factory=list)
    inflated: List[str] = field(default_factory=list)
    new_blocks: List[str] = field(default_factory=list)
    # Head tensors kept as built: name -> their shape in the checkpoint (None: not in it).
    head_reinitialized: Dict[str, Optional[Tuple[int, ...]]] = field(default_factory=dict)
    unused: List[str] = field(default_factory=list)
    # The epoch training continues after: the checkpoint's, or -1 (none stored, or reset).
    epoch: int = -1
    optimizer_restored: bool = False

    @property
    def same_network(self):
        """True if the checkpoint holds exactly this model's parameters."""
        return not (self.new_blocks or self.head_reinitialized or self.unused)

    def summary(self):
        lines = [
            f"Checkpoint {self.path} ({self.kind}, mode {self.mode}):",
            f"  loaded: {len(self.loaded)} tensors ({len(self.inflated)} inflated in time)",
            f"  newly initialised (added blocks, kept as built): {len(self.new_blocks)} tensors"
            + (f": {group_names(self.new_blocks)}" if self.new_blocks else ""),
            "  head re-initialised: "
            + (
                ", ".join(
                    f"{name} (checkpoint {'none' if shape is None else list(shape)})"
                    for name, shape in self.head_reinitialized.items()
                )
                or "no"
            ),
            f"  in the checkpoint but unused: {len(self.unused)} tensors"
            + (f": {group_names(self.unused)}" if self.unused else ""),
        ]
        if self.epoch >= 0:
            restored = ", optimizer state restored" if self.optimizer_restored else ""
            lines.append(f"  epoch: {self.epoch}{restored}")
        return "\n".join(lines)


def module_of(name):
    """The module a tensor belongs to, for grouping: its block place, else its first two parts."""
    match = BLOCK_KEY.match(name)
    return match.group(1) if match else ".".join(name.split(".")[:2])


def group_names(names, limit=LIST_LIMIT):
    """``names`` grouped by module, e.g. ``s3.pathway0_nonlocal1.* (12), head.projection.* (2)``."""
    groups = OrderedDict()
    for name in names:
        groups[module_of(name)] = groups.get(module_of(name), 0) + 1
    text = ", ".join(f"{module}.* ({count})" for module, count in list(groups.items())[:limit])
    if len(groups) > limit:
        text += f", and {len(groups) - limit} more modules"
    return text


# ---------------------------------------------------------------------------------------------
# Reading


class _Caffe2Unpickler(pickle.Unpickler):
    """
    Unpickles dicts of numpy arrays and nothing else, so that reading a Caffe2 checkpoint runs
    no code from the file (PySlowFast reads them with plain ``pickle.load``).
    """

    NUMPY_CORE = "numpy._core" if int(np.__version__.split(".")[0]) >= 2 else "numpy.core"
    ALLOWED = {
        ("collections", "OrderedDict"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("_codecs", "encode"),  # bytes in protocol-2 pickles written by Python 3
        ("multiarray", "_reconstruct"),
        ("multiarray", "scalar"),
        ("numeric", "_frombuffer"),  # protocol 5
    }

    def __init__(self, file, path):
        super().__init__(file, encoding="latin1")
        self.path = path

    def find_class(self, module, name):
        local = module
        for core in ("numpy.core.", "numpy._core."):
            if module.startswith(core):
                local = module[len(core):]
                module = f"{self.NUMPY_CORE}.{local}"
        if (local, name) not in self.ALLOWED:
            raise CheckpointError(
                f"checkpoint {self.path} is not loaded: it references {module}.{name}, and a "
                f"Caffe2 checkpoint holds numpy arrays only"
            )
        return super().find_class(module, name)


def _describe(obj):
    if isinstance(obj, dict):
        return f"a dict with keys {list(obj)[:LIST_LIMIT]}"
    return f"a {type(obj).__name__}"


def _read_caffe2(path):
    from slowfast.utils.c2_model_loading import get_name_convert_func

    with open(path, "rb") as f:
        data = _Caffe2Unpickler(f, path).load()
    if not isinstance(data, dict) or not isinstance(data.get("blobs"), dict):
        raise CheckpointError(
            f"checkpoint {path} is not a Caffe2 checkpoint: expected a dict with a 'blobs' "
            f"dict, found {_describe(data)}"
        )
    convert = get_name_convert_func()
    state = OrderedDict()
    for key, value in data["blobs"].items():
        if any(solver in key for solver in CAFFE2_SOLVER_BLOBS):
            continue
        if not isinstance(value, (np.ndarray, np.generic)):
            raise CheckpointError(
                f"checkpoint {path}: blob {key!r} is {_describe(value)}, expected a numpy array"
            )
        state[convert(key)] = torch.from_numpy(np.array(value))
    return Checkpoint(path, "caffe2", state)


def _read_pytorch(path):
    data = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(data, dict) or not isinstance(data.get("model_state"), dict):
        raise CheckpointError(
            f"checkpoint {path} is not a PySlowFast checkpoint: expected a dict with a "
            f"'model_state' dict (as slowfast.utils.checkpoint.save_checkpoint writes), found "
            f"{_describe(data)}"
        )
    state = data["model_state"]
    not_tensors = [k for k, v in state.items() if not torch.is_tensor(v)]
    if not_tensors:
        raise CheckpointError(
            f"checkpoint {path}: 'model_state' entries that are not tensors: {not_tensors[:10]}"
        )
    epoch = data.get("epoch")
    return Checkpoint(
        path,
        "pytorch",
        OrderedDict((k[len("module."):] if k.startswith("module.") else k, v)
                    for k, v in state.items()),
        epoch=None if epoch is None else int(epoch),
        optimizer_state=data.get("optimizer_state"),
    )


def _diagnose(path, kind, err):
    """Why the file at ``path`` failed to read as a ``kind`` checkpoint with ``err``."""
    size = os.path.getsize(path)
    if size == 0:
        return "the file is empty"
    with open(path, "rb") as f:
        zip_magic = f.read(4) == b"PK\x03\x04"
    if kind == "caffe2" and zip_magic:
        return "it is a PyTorch checkpoint (a zip archive); set its CHECKPOINT_TYPE to pytorch"
    if kind == "pytorch" and zip_magic and not zipfile.is_zipfile(path):
        return f"the zip archive ends without its directory ({size} bytes): truncated"
    if kind == "pytorch" and zip_magic and isinstance(err, pickle.UnpicklingError):
        return (
            "it holds Python objects other than tensors and plain values, which "
            "torch.load(weights_only=True) does not unpickle; re-save it with plain values"
        )
    if kind == "pytorch" and not zip_magic:
        return (
            "it is not a PyTorch zip archive: truncated or corrupt, or a Caffe2 checkpoint "
            "(set its CHECKPOINT_TYPE to caffe2)"
        )
    return "truncated or corrupt"


def _reason(err):
    """The informative line of ``err``'s message (torch.load's own come after a preamble)."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    detail = [line for line in lines if "Unsupported global" in line]
    return (detail or lines or [""])[0][:300]


def read_checkpoint(path, kind="pytorch"):
    """
    The ``Checkpoint`` in the file at ``path`` of type ``kind`` ("pytorch" or "caffe2"). DDP's
    ``module.`` prefixes are removed. Raises naming the file when it is missing, unreadable,
    truncated, or not a checkpoint of that type.
    """
    if kind not in CHECKPOINT_TYPES:
        raise ValueError(
            f"checkpoint {path}: CHECKPOINT_TYPE={kind!r}, expected one of {CHECKPOINT_TYPES}"
        )
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint {path} is not a file")
    try:
        return _read_caffe2(path) if kind == "caffe2" else _read_pytorch(path)
    except CheckpointError:
        raise
    except Exception as err:  # torch.load and pickle fail in many ways on a damaged file
        raise CheckpointError(
            f"checkpoint {path} could not be read as a {kind} checkpoint: "
            f"{_diagnose(path, kind, err)} ({type(err).__name__}: {_reason(err)})"
        ) from err


def clear_names(state, patterns):
    """PySlowFast's ``TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN``: removes the first occurrence of each
    pattern, in turn, from every tensor name."""
    for pattern in patterns:
        state = OrderedDict((k.replace(pattern, "", 1), v) for k, v in state.items())
    return state


# ---------------------------------------------------------------------------------------------
# Matching


def _fit(value, target, inflate):
    """(``value`` shaped as ``target``, whether it was inflated), or None if it cannot fit."""
    if value.dim() == 4 and target.dim() == 5:  # a 2D kernel for a 3D convolution
        value = value.unsqueeze(2)
    if value.shape == target.shape:
        return value, False
    if (
        inflate
        and value.dim() == 5
        and value.shape[2] == 1
        and value.shape[:2] == target.shape[:2]
        and value.shape[3:] == target.shape[3:]
    ):
        t = target.shape[2]  # PySlowFast's inflation: repeat over time, divide by T
        return value.repeat(1, 1, t, 1, 1) / t, True
    return None


def _refuse(report, mismatched, missing, inflatable):
    allowed = {
        "finetune": "fine-tuning takes every tensor from it but those of the added blocks and "
        "the head",
        "exact": "testing and resuming take every tensor of the model from it, and need all of "
        "its tensors",
    }[report.mode]
    parts = []
    if mismatched:
        listed = "\n    ".join(mismatched[:LIST_LIMIT])
        if len(mismatched) > LIST_LIMIT:
            listed += f"\n    and {len(mismatched) - LIST_LIMIT} more"
        parts.append(f"{len(mismatched)} tensors have another shape:\n    {listed}")
    if missing:
        parts.append(
            f"{len(missing)} tensors of the model are not in it: {group_names(missing)}"
        )
    if report.mode == "exact" and report.unused:
        parts.append(
            f"{len(report.unused)} of its tensors are not in the model: "
            f"{group_names(report.unused)}"
        )
    hints = []
    if inflatable:
        hints.append(
            f"{len(inflatable)} of the kernels are 2D or of time size 1: set "
            f"TRAIN.CHECKPOINT_INFLATE True to inflate them"
        )
    if report.mode == "exact" and any(BLOCK_KEY.match(name) for name in missing):
        hints.append(
            "to start a model with added blocks from it, fine-tune from it "
            "(TRAIN.CHECKPOINT_FILE_PATH)"
        )
    hints.append("a checkpoint of another architecture or config (MODEL.ARCH, RESNET.DEPTH, "
                 "NONLOCAL.*, GTA.*)?")
    raise CheckpointError(
        f"checkpoint {report.path} does not fit the model ({allowed}):\n  "
        + "\n  ".join(parts)
        + "\n  "
        + "; ".join(hints)
    )


def match_state(model, checkpoint, inflate=False, mode="finetune"):
    """
    Decides, tensor by tensor, what of ``checkpoint`` goes into ``model`` (see the module
    docstring for ``mode``). Returns (state dict to load with ``strict=False``, LoadReport);
    raises ``CheckpointError`` naming the tensors that do not fit.
    """
    if mode not in MODES:
        raise ValueError(f"mode={mode!r}: expected one of {MODES}")
    report = LoadReport(path=checkpoint.path, kind=checkpoint.kind, mode=mode)
    state = checkpoint.model_state
    to_load = OrderedDict()
    mismatched, missing, inflatable = [], [], []
    finetune = mode == "finetune"
    target = model.state_dict()
    for name, tensor in target.items():
        if name not in state:
            if name.endswith("num_batches_tracked"):
                continue  # Caffe2 and PyTorch < 0.4.1 store none: kept as built
            if finetune and BLOCK_KEY.match(name):
                report.new_blocks.append(name)
            elif finetune and name.startswith(HEAD_PREFIX):
                report.head_reinitialized[name] = None
            else:
                missing.append(name)
            continue
        value = state[name]
        fitted = _fit(value, tensor, inflate)
        if fitted is None:
            if finetune and name.startswith(HEAD_PREFIX):
                report.head_reinitialized[name] = tuple(value.shape)
                continue
            mismatched.append(
                f"{name}: checkpoint {list(value.shape)}, model {list(tensor.shape)}"
            )
            if not inflate and _fit(value, tensor, True) is not None:
                inflatable.append(name)
            continue
        to_load[name], was_inflated = fitted
        report.loaded.append(name)
        if was_inflated:
            report.inflated.append(name)
    report.unused = [k for k in state if k not in target]
    if mismatched or missing or (mode == "exact" and report.unused):
        _refuse(report, mismatched, missing, inflatable)
    return to_load, report


# ---------------------------------------------------------------------------------------------
# Loading


def _restore_optimizer(optimizer, checkpoint, report):
    reset = "set TRAIN.CHECKPOINT_EPOCH_RESET True to start at epoch 0 with a fresh optimizer"
    if not report.same_network:
        raise CheckpointError(
            f"checkpoint {checkpoint.path} stores the training state of epoch "
            f"{checkpoint.epoch} (epoch and optimizer state) of a network with other parameters "
            f"({len(report.new_blocks)} new block tensors, {len(report.head_reinitialized)} "
            f"re-initialised head tensors, {len(report.unused)} unused checkpoint tensors). "
            f"PySlowFast resumes that state unless told not to: to fine-tune from it, {reset}"
        )
    if checkpoint.optimizer_state is None:
        raise CheckpointError(
            f"checkpoint {checkpoint.path} stores epoch {checkpoint.epoch} but no "
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


def load_checkpoint(path, model, kind="pytorch", inflate=False, mode="finetune",
                    optimizer=None, epoch_reset=False, clear_name_pattern=()):
    """
    Loads the checkpoint at ``path`` into ``model`` (DDP-wrapped or not) as ``match_state``
    decides and, as PySlowFast does, takes its epoch (and, given ``optimizer``, its optimizer
    state) unless ``epoch_reset``. ``clear_name_pattern``: as PySlowFast, applied to PyTorch
    checkpoints loaded without inflation. Logs and returns the LoadReport.
    """
    net = model.module if hasattr(model, "module") else model
    checkpoint = read_checkpoint(path, kind)
    if clear_name_pattern and kind == "pytorch" and not inflate:
        checkpoint.model_state = clear_names(checkpoint.model_state, clear_name_pattern)
    to_load, report = match_state(net, checkpoint, inflate=inflate, mode=mode)
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

    def load(self, model, optimizer=None):
        logger.info("Load from %s: %s", self.source, self.path)
        return load_checkpoint(
            self.path, model, self.kind, self.inflate, self.mode, optimizer,
            self.epoch_reset, self.clear_name_pattern,
        )


def _last_checkpoint(cfg):
    if compat.GENERATION == "main":
        return cu.get_last_checkpoint(cfg.OUTPUT_DIR, task=cfg.TASK)
    return cu.get_last_checkpoint(cfg.OUTPUT_DIR)


def train_plan(cfg):
    """What training loads first, as PySlowFast's train_net: the last checkpoint of OUTPUT_DIR
    (TRAIN.AUTO_RESUME), else TRAIN.CHECKPOINT_FILE_PATH; None for neither."""
    if cfg.TRAIN.AUTO_RESUME and cu.has_checkpoint(cfg.OUTPUT_DIR):
        last = _last_checkpoint(cfg)
        # As train_net: no fall-back to TRAIN.CHECKPOINT_FILE_PATH once OUTPUT_DIR has one.
        return LoadPlan("the last checkpoint of OUTPUT_DIR", last, "train") if last else None
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
        )
    return None


def test_plan(cfg):
    """What testing loads, as PySlowFast's test_net: TEST.CHECKPOINT_FILE_PATH, else the last
    checkpoint of OUTPUT_DIR, else TRAIN.CHECKPOINT_FILE_PATH (without inflation); None for
    none of them."""
    if cfg.TEST.CHECKPOINT_FILE_PATH:
        return LoadPlan(
            "TEST.CHECKPOINT_FILE_PATH", cfg.TEST.CHECKPOINT_FILE_PATH, "test",
            kind=cfg.TEST.CHECKPOINT_TYPE,
        )
    if cu.has_checkpoint(cfg.OUTPUT_DIR):
        return LoadPlan("the last checkpoint of OUTPUT_DIR", _last_checkpoint(cfg), "test")
    if cfg.TRAIN.CHECKPOINT_FILE_PATH:
        return LoadPlan(
            "TRAIN.CHECKPOINT_FILE_PATH", cfg.TRAIN.CHECKPOINT_FILE_PATH, "test",
            kind=cfg.TRAIN.CHECKPOINT_TYPE, mode="finetune",
        )
    return None


def _warn_about_start(cfg, plan, report):
    if report.new_blocks and not cfg.GTA.ZERO_INIT_FINAL_NORM:
        logger.warning(
            "GTA.ZERO_INIT_FINAL_NORM is False: the %d new block tensors do not start as the "
            "identity, so the network no longer computes what %s computed",
            len(report.new_blocks), plan.path,
        )
    if plan.mode == "finetune" and report.epoch + 1 >= cfg.SOLVER.MAX_EPOCH:
        logger.warning(
            "%s resumes after epoch %d and SOLVER.MAX_EPOCH is %d: nothing to train; set "
            "TRAIN.CHECKPOINT_EPOCH_RESET True to fine-tune from it",
            plan.path, report.epoch, cfg.SOLVER.MAX_EPOCH,
        )


def resume_or_initialize(cfg, model, optimizer):
    """Loads what ``train_plan`` says into ``model`` and ``optimizer``; returns the epoch to
    start training at."""
    plan = train_plan(cfg)
    if plan is None:
        return 0
    report = plan.load(model, optimizer)
    _warn_about_start(cfg, plan, report)
    return report.epoch + 1


def load_for_test(cfg, model):
    """Loads what ``test_plan`` says into ``model``; returns the LoadReport (None: nothing to
    load, the model is tested as initialised)."""
    plan = test_plan(cfg)
    if plan is None:
        logger.warning(
            "No checkpoint to test: TEST.CHECKPOINT_FILE_PATH and TRAIN.CHECKPOINT_FILE_PATH are "
            "empty and %s has none. Testing the randomly initialised model.", cfg.OUTPUT_DIR
        )
        return None
    return plan.load(model)


# ---------------------------------------------------------------------------------------------
# Pre-flight


@contextlib.contextmanager
def _quiet(module_logger):
    """Silences a PySlowFast module's log and prints (its per-tensor lines)."""
    disabled = module_logger.disabled
    module_logger.disabled = True
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        module_logger.disabled = disabled


def check_pyslowfast_agrees(plan, built, loaded, report, cfg):
    """
    Runs PySlowFast's ``load_checkpoint`` for ``plan`` as its trainer calls it, on a copy of the
    model as ``built``, and checks that it gives the weights of ``loaded`` (loaded by
    gta_slowfast) and the epoch of ``report``. Raises naming the tensors where they differ, or
    PySlowFast's error.
    """
    import slowfast.models.optimizer as optim

    net = copy.deepcopy(built)
    optimizer = optim.construct_optimizer(net, cfg) if plan.purpose == "train" else None
    # TRAIN.CHECKPOINT_IN_INIT is not passed: it rewrites only ViT / MViT tensors.
    kwargs = dict(
        inflation=plan.inflate,
        convert_from_caffe2=plan.kind == "caffe2",
        epoch_reset=plan.epoch_reset,
        clear_name_pattern=plan.clear_name_pattern,
    )
    where = f"checkpoint {plan.path} ({plan.source})"
    fallback = (
        "run with --trainer fallback (gta_slowfast's loader), or write a checkpoint of the "
        "target model with python -m gta_slowfast.tools.convert nonlocal"
    )
    try:
        with _quiet(cu.logger):
            epoch = cu.load_checkpoint(plan.path, net, False, optimizer, **kwargs)
    except Exception as err:
        hint = ""
        if isinstance(err, AssertionError) and plan.inflate and report.unused:
            hint = (
                f" With TRAIN.CHECKPOINT_INFLATE True it needs every tensor of the checkpoint "
                f"in the model, and {len(report.unused)} are not: {group_names(report.unused)}. "
                f"Set TRAIN.CHECKPOINT_INFLATE False if no kernel needs inflating, or"
            )
        raise CheckpointError(
            f"{where}: PySlowFast's loader, which its trainer runs, fails on it "
            f"({type(err).__name__}: {err}).{hint or ' To load it,'} {fallback}"
        ) from err
    expected, got = loaded.state_dict(), net.state_dict()
    differ = [k for k in expected if not torch.equal(expected[k], got[k])]
    if differ:
        hint = ""
        if plan.kind == "caffe2" and any(k in report.loaded for k in differ):
            hint = (
                " (PySlowFast's Caffe2 loader neither inflates kernels nor gives 2D kernels a "
                "time axis)"
            )
        raise CheckpointError(
            f"{where}: PySlowFast's loader, which its trainer runs, would load "
            f"{len(differ)} tensors otherwise than gta_slowfast's loader{hint}: "
            f"{differ[:LIST_LIMIT]}; {fallback}"
        )
    if epoch != report.epoch:
        raise CheckpointError(
            f"{where}: PySlowFast's loader would continue after epoch {epoch}, gta_slowfast's "
            f"after epoch {report.epoch}"
        )


def cpu_cfg(cfg):
    """A copy of ``cfg`` that builds the same tensors on the CPU, outside the training workers."""
    cpu = cfg.clone()
    cpu.defrost()
    cpu.NUM_GPUS = 0
    if cpu.BN.get("NORM_TYPE") == "sync_batchnorm":
        cpu.BN.NORM_TYPE = "batchnorm"  # the same tensors; syncing needs the workers' group
    return cpu


def preflight(cfg, pyslowfast_loader=False):
    """
    Loads, into a CPU copy of ``cfg``'s model (and, for training, its optimizer), every
    checkpoint a run of ``cfg`` loads before it trains or tests, as the run will, so that a
    checkpoint that does not fit fails now with the tensors named, not inside a worker. With
    ``pyslowfast_loader`` (PySlowFast's own trainer will load them), PySlowFast's loader must
    give the same weights and epoch (``check_pyslowfast_agrees``). Returns the LoadReports.
    """
    import slowfast.models.optimizer as optim

    from .models import build_model

    plans = [train_plan(cfg)] if cfg.TRAIN.ENABLE else []
    # After training, the test loads the checkpoint training writes, unless one is given.
    if cfg.TEST.ENABLE and (cfg.TEST.CHECKPOINT_FILE_PATH or not cfg.TRAIN.ENABLE):
        plans.append(test_plan(cfg))
    plans = [plan for plan in plans if plan is not None]
    if not plans:
        return []
    probe_cfg = cpu_cfg(cfg)
    built = build_model(probe_cfg)
    reports = []
    for plan in plans:
        model = copy.deepcopy(built)
        optimizer = optim.construct_optimizer(model, probe_cfg) if plan.purpose == "train" else None
        report = plan.load(model, optimizer)
        if plan.purpose == "train":
            _warn_about_start(cfg, plan, report)
        if pyslowfast_loader:
            check_pyslowfast_agrees(plan, built, model, report, probe_cfg)
        reports.append(report)
    return reports
