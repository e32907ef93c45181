"""
Matching a checkpoint's tensors to a model's, tensor by tensor, in one of two modes:

- ``"finetune"`` (``TRAIN.CHECKPOINT_FILE_PATH``): every tensor of the backbone must come from
  the checkpoint (2D or time-1 kernels inflated to the model's temporal size with
  ``TRAIN.CHECKPOINT_INFLATE``, as PySlowFast inflates); tensors of the blocks at
  ``NONLOCAL.LOCATION`` that the checkpoint lacks (GTA / DNL blocks added to a network trained
  without them, or with PySlowFast's stock non-local blocks, whose tensors have other names) keep
  their initialisation, the identity with ``GTA.ZERO_INIT_FINAL_NORM``; a head of another shape
  (another ``MODEL.NUM_CLASSES``) keeps its initialisation; any other missing or misshapen
  tensor is refused, naming the tensors. Checkpoint tensors the model has no place for (e.g. the
  stock non-local blocks) are reported as unused.
- ``"exact"`` (every test-purpose load, resuming from OUTPUT_DIR): every tensor of the model,
  head included, comes from the checkpoint and every tensor of the checkpoint goes into the
  model.
"""

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from slowfast.config.defaults import get_cfg

from ..blocks.gta import TEMPORAL_MATRICES
from ..models import PLACE_ATTRIBUTE_PATTERN
from .io import LIST_LIMIT, CheckpointError, epoch_number
from .resample import resample_state

MODES = ("finetune", "exact")
# A tensor of a block at a NONLOCAL.LOCATION place; group(1) is the place, e.g.
# "s3.pathway0_nonlocal1" (models.place_name).
BLOCK_KEY = re.compile(rf"^((?:.*\.)?{PLACE_ATTRIBUTE_PATTERN})\.")
HEAD_PREFIX = "head."


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
    # GTA matrices resampled to the model's clip length: name -> (checkpoint, model) shapes.
    resampled: Dict[str, Tuple[Tuple[int, ...], Tuple[int, ...]]] = field(default_factory=dict)
    unused: List[str] = field(default_factory=list)
    # The epoch training continues after: the checkpoint's, 0-based as stored (its file and
    # the summary name it ``epoch_number(epoch)``), or -1 (none stored, or reset).
    epoch: int = -1
    optimizer_restored: bool = False

    @property
    def same_network(self):
        """True if the checkpoint holds exactly this model's parameters."""
        return not (self.new_blocks or self.head_reinitialized or self.unused)

    def summary(self):
        lines = [
            f"Checkpoint {self.path} ({self.kind}, mode {self.mode}):",
            f"  loaded: {len(self.loaded)} tensors ({len(self.inflated)} inflated in time, "
            f"{len(self.resampled)} GTA matrices resampled to the clip length)",
            *(
                f"  resampled: {name} {list(old)} -> {list(new)}"
                for name, (old, new) in self.resampled.items()
            ),
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
            lines.append(f"  epoch: {epoch_number(self.epoch)}{restored}")
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


def clear_names(state, patterns):
    """PySlowFast's ``TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN``: removes the first occurrence of each
    pattern, in turn, from every tensor name."""
    for pattern in patterns:
        state = OrderedDict((k.replace(pattern, "", 1), v) for k, v in state.items())
    return state


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


def clip_lengths(name, value, target):
    """(checkpoint T, model T) if ``name`` is one of GTA's temporal matrices and ``value`` and
    ``target`` differ only in their T x T, else None."""
    if not name.endswith(TEMPORAL_MATRICES) or value.dim() != target.dim() or value.dim() < 2:
        return None
    if value.shape[:-2] != target.shape[:-2] or value.shape[-1] != value.shape[-2]:
        return None
    return value.shape[-1], target.shape[-1]


def _frames_hint(path, other_frames, stored_frames=None):
    """What to set when GTA's T x T matrices of the checkpoint at ``path`` were learned over
    clips of another length; ``stored_frames``: DATA.NUM_FRAMES of its stored config."""
    pairs = sorted({lengths for _, lengths in other_frames})
    example, (theirs, ours) = other_frames[0][0], other_frames[0][1]
    model_frames = stored_frames * ours / theirs if stored_frames else None
    if model_frames is not None and model_frames == int(model_frames):
        new_frames = str(int(model_frames))
    else:
        new_frames = "<this config's DATA.NUM_FRAMES>"
    trained = (f"its stored config has DATA.NUM_FRAMES {stored_frames}" if stored_frames
               else "it stores no config")
    return (
        f"{len(other_frames)} of GTA's temporal matrices are T x T over another clip length "
        f"(e.g. {example}: T={theirs} in the checkpoint, T={ours} in the model; all: "
        + ", ".join(f"{t} vs {m}" for t, m in pairs)
        + f"; {trained}): set DATA.NUM_FRAMES to the clip length the checkpoint was trained "
        "with (a Slow pathway takes DATA.NUM_FRAMES / SLOWFAST.ALPHA frames), or resample them "
        "to this model's with GTA.RESAMPLE_CHECKPOINT True (or python -m "
        f"gta_slowfast.tools.convert resample --src {path} --dst RESAMPLED.pyth --num-frames "
        f"{new_frames})"
    )


def _api_hints(caller, mismatched, missing):
    """What to change in the call ``caller`` = (its name, the name of its config argument) when
    its checkpoint does not fit."""
    name, config_argument = caller
    hints = []
    if any(entry.startswith(HEAD_PREFIX) for entry in mismatched + missing):
        hints.append(f"its head does not fit: {name} needs the class count the checkpoint was "
                     f"trained with")
    hints.append(f"a checkpoint of another architecture or config? Without {config_argument}, "
                 f"{name} builds the model of the config the checkpoint stores")
    return hints


def _launcher_hints(report, mismatched, missing, inflatable):
    """Which config keys of a training or test run to change when its checkpoint does not fit."""
    hints = []
    if inflatable:
        hints.append(
            f"{len(inflatable)} of the kernels are 2D or of time size 1: set "
            f"TRAIN.CHECKPOINT_INFLATE True to inflate them"
        )
    if report.mode == "exact" and any(
        entry.startswith(HEAD_PREFIX) for entry in mismatched + missing
    ):
        hints.append(
            "its head does not fit: a test evaluates the head it loads, so test a checkpoint "
            "trained with this MODEL.NUM_CLASSES (set TEST.CHECKPOINT_FILE_PATH, or train first)"
        )
    if report.mode == "exact" and any(BLOCK_KEY.match(name) for name in missing):
        hints.append(
            "to start a model with added blocks from it, fine-tune from it "
            "(TRAIN.CHECKPOINT_FILE_PATH)"
        )
    hints.append("a checkpoint of another architecture or config (MODEL.ARCH, RESNET.DEPTH, "
                 "NONLOCAL.*, GTA.*)?")
    return hints


def _refuse(report, mismatched, missing, inflatable, other_frames=(), stored_frames=None,
            caller=None):
    allowed = {
        "finetune": "fine-tuning takes every tensor from it but those of the added blocks and "
        "the head",
        "exact": "testing and resuming take every tensor of the model from it, head included, "
        "and need all of its tensors",
    }[report.mode]
    if caller:
        allowed = (f"{caller[0]} takes every tensor of the model from it and needs all of its "
                   f"tensors")
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
    hints = [_frames_hint(report.path, other_frames, stored_frames)] if other_frames else []
    if caller:
        hints += _api_hints(caller, mismatched, missing)
    else:
        hints += _launcher_hints(report, mismatched, missing, inflatable)
    raise CheckpointError(
        f"checkpoint {report.path} does not fit the model ({allowed}):\n  "
        + "\n  ".join(parts)
        + "\n  "
        + "; ".join(hints)
    )


def _uses_tsm(cfg, report):
    return cfg.TSM.ENABLE


def _blocks_from_checkpoint(report):
    """True if the model has blocks at NONLOCAL.LOCATION and every tensor of them came from the
    checkpoint (the blocks' tensors coincide, so their type cannot tell them apart)."""
    return not report.new_blocks and any(BLOCK_KEY.match(name) for name in report.loaded)


# Config keys that change what a network computes but none of its tensors: a checkpoint loaded
# under another value of one of them fits without a word and computes another function. Each
# with when it matters (``(run config, LoadReport) -> bool``).
FUNCTION_KEYS = (
    ("MODEL.ARCH", lambda cfg, report: True),  # e.g. 2d and c2d: c2d pools time after res2
    ("TSM.ENABLE", lambda cfg, report: True),
    ("TSM.FRACTION", _uses_tsm),
    ("TSM.PLACEMENT", _uses_tsm),
    ("NONLOCAL.TYPE", lambda cfg, report: _blocks_from_checkpoint(report)),
    ("NONLOCAL.INSTANTIATION",
     lambda cfg, report: cfg.NONLOCAL.TYPE == "nonlocal" and _blocks_from_checkpoint(report)),
    ("GTA.SPATIAL_POOL",
     lambda cfg, report: cfg.NONLOCAL.TYPE != "nonlocal" and _blocks_from_checkpoint(report)),
)
# The key that loads such a checkpoint anyway.
CONFIG_CHECK_KEY = "GTA.CHECK_CHECKPOINT_CONFIG"


def _value(node, key):
    for part in key.split("."):
        node = node[part]
    return list(node) if isinstance(node, tuple) else node


def function_key_differences(checkpoint, cfg, report):
    """
    ``[(key, checkpoint's value, run's value)]`` for the ``FUNCTION_KEYS`` where the config
    stored with ``checkpoint`` and the run's ``cfg`` differ, where they matter (``report``:
    what the load took from it). A key the stored config lacks (a checkpoint of stock
    PySlowFast) has its default value, the stock behaviour; a checkpoint that stores no config
    has no differences.
    """
    stored = checkpoint.stored_config
    if stored is None:
        return []
    defaults = get_cfg()
    differences = []
    for key, matters in FUNCTION_KEYS:
        if not matters(cfg, report):
            continue
        theirs = stored[key] if key in stored else _value(defaults, key)
        ours = _value(cfg, key)
        if theirs != ours:
            differences.append((key, theirs, ours))
    return differences


def describe_differences(path, differences):
    """One line: the keys where the checkpoint at ``path`` and the run differ, both values, and
    the flag that loads it anyway."""
    keys = "; ".join(f"{key} {theirs} in the checkpoint, {ours} in this config"
                     for key, theirs, ours in differences)
    match = " ".join(f"{key} {theirs}" for key, theirs, _ in differences)
    return (
        f"checkpoint {path} was saved by a network that computes another function with the "
        f"same tensors: {keys}. Set {match} to run the network it was trained as, or "
        f"{CONFIG_CHECK_KEY} False to load it anyway"
    )


def _other_clip_lengths(state, target):
    """{name: the model's T} of GTA's T x T matrices of ``state`` learned over another clip
    length than those of ``target`` (both state dicts), in the model's order."""
    lengths = {}
    for name, tensor in target.items():
        found = clip_lengths(name, state[name], tensor) if name in state else None
        if found is not None and found[0] != found[1]:
            lengths[name] = found[1]
    return lengths


def match_state(model, checkpoint, inflate=False, mode="finetune", resample=False, caller=None):
    """
    Decides, tensor by tensor, what of ``checkpoint`` goes into ``model`` (see the module
    docstring for ``mode``).

    Args:
        model (nn.Module): the model (not DDP-wrapped).
        checkpoint (Checkpoint): the checkpoint read (``io.read_checkpoint``).
        inflate (bool): 2D or time-1 kernels inflated in time, as PySlowFast inflates.
        mode (str): "finetune" or "exact".
        resample (bool): GTA's T x T matrices learned over another clip length are resampled
            to the model's (``resample.resample_state``) and listed in the report.
        caller (tuple): (name, config argument) of the call loading it: its errors' hints speak
            of that call; None: of the launcher's config keys.
    Returns:
        tuple: (state dict to load with ``strict=False``, LoadReport).
    Raises:
        ValueError: ``mode`` is not one of ``MODES``.
        CheckpointError: naming the tensors that do not fit, with what to change.
    """
    if mode not in MODES:
        raise ValueError(f"mode={mode!r}: expected one of {MODES}")
    report = LoadReport(path=checkpoint.path, kind=checkpoint.kind, mode=mode)
    state = checkpoint.model_state
    target = model.state_dict()
    if resample:
        state, report.resampled = resample_state(state, _other_clip_lengths(state, target))
    to_load = OrderedDict()
    mismatched, missing, inflatable, other_frames = [], [], [], []
    finetune = mode == "finetune"
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
        lengths = clip_lengths(name, value, tensor)
        if fitted is None:
            if finetune and name.startswith(HEAD_PREFIX):
                report.head_reinitialized[name] = tuple(value.shape)
                continue
            mismatched.append(
                f"{name}: checkpoint {list(value.shape)}, model {list(tensor.shape)}"
            )
            if not inflate and _fit(value, tensor, True) is not None:
                inflatable.append(name)
            if lengths is not None:
                other_frames.append((name, lengths))
            continue
        to_load[name], was_inflated = fitted
        report.loaded.append(name)
        if was_inflated:
            report.inflated.append(name)
    report.unused = [k for k in state if k not in target]
    if mismatched or missing or (mode == "exact" and report.unused):
        _refuse(report, mismatched, missing, inflatable, other_frames, checkpoint.num_frames,
                caller)
    return to_load, report
