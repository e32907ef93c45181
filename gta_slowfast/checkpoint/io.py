"""
The one reader of every file gta_slowfast loads weights or scores from, none of which can run
code from the file.

- PyTorch files (``.pyth`` checkpoints, torchvision state dicts) go through ``torch.load`` with
  ``weights_only=True``: tensors, plain containers and plain values only. PySlowFast's
  ``save_checkpoint`` (both generations) stores its ``cfg`` as YAML text (``cfg.dump()``), a
  plain string, so its checkpoints need nothing more; a file that pickles other objects (e.g. a
  ``CfgNode`` itself) is refused, naming the class torch reports.
- Caffe2 checkpoints (``.pkl``, a pickle of numpy arrays) go through ``_Caffe2Unpickler``, which
  resolves numpy's array classes and nothing else.
- Saved test predictions (``TEST.SAVE_RESULTS_PATH``: PySlowFast's ``pickle.dump`` of
  [scores, labels] tensors) go through ``_PredictionsUnpickler``, which resolves torch's tensor
  rebuild function and reads each tensor's storage with ``torch.load(weights_only=True)``.

``torch.load`` and ``pickle.load`` appear in this module only. A checkpoint is adapted once,
here, when read (``adapt.adapt_model_state``: tensors of earlier layouts in the current one), and
its stored config parsed once (``Checkpoint.stored_config``), for every tool that uses it.
"""

import io
import os
import pickle
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import yaml
from slowfast.utils.c2_model_loading import get_name_convert_func

from .adapt import adapt_model_state

CHECKPOINT_TYPES = ("pytorch", "caffe2")
# Caffe2 blobs holding solver state, not weights; PySlowFast's loader skips the same.
CAFFE2_SOLVER_BLOBS = ("momentum", "lr", "model_iter")
# How many names an error or a report lists before summarising the rest.
LIST_LIMIT = 10


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or does not fit the model it is loaded into."""


def epoch_number(epoch):
    """
    The number PySlowFast names the epoch ``epoch`` by, and every message of this package with
    it: its checkpoints store the 0-based epoch their trainer counts (``cur_epoch``), and their
    file names and log lines count from 1 (``checkpoint_epoch_00006.pyth`` stores epoch 5, the
    6th).

    Args:
        epoch (int): the 0-based epoch a checkpoint stores.
    Returns:
        int: ``epoch + 1``, the number in the checkpoint's file name.
    """
    return epoch + 1


@dataclass
class Checkpoint:
    """What loading needs from a checkpoint file, its tensors in the current layout."""

    path: str
    kind: str  # "pytorch" or "caffe2"
    model_state: "OrderedDict[str, torch.Tensor]"
    # The 0-based epoch stored (``epoch_number`` names it); None: the file stores no epoch
    # (Caffe2, converted files).
    epoch: Optional[int] = None
    optimizer_state: Optional[dict] = None
    # The config stored with it (PySlowFast's cfg.dump()), as {"DATA.NUM_FRAMES": 8, ...}:
    # every key it holds, by full name; None: it stores no config.
    stored_config: Optional[dict] = None
    # The same config as the YAML text stored; None: none stored.
    cfg_text: Optional[str] = None
    # The same config as the nested mapping the YAML text holds; None: none stored.
    config_tree: Optional[dict] = None

    @property
    def num_frames(self):
        """DATA.NUM_FRAMES of the stored config, or None."""
        frames = (self.stored_config or {}).get("DATA.NUM_FRAMES")
        return frames if isinstance(frames, int) else None


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


def _storage_from_bytes(data):
    """A tensor storage that ``torch.save`` wrote to ``data``, read with weights_only=True
    (what ``torch.storage._load_from_bytes`` does with weights_only=False)."""
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


class _PredictionsUnpickler(pickle.Unpickler):
    """
    Unpickles what ``pickle.dump`` writes for lists of CPU tensors (PySlowFast's saved test
    predictions) and nothing else: torch's tensor rebuild function, its storages (read back
    with ``torch.load(weights_only=True)``) and plain containers.
    """

    ALLOWED = {
        ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
        ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
        ("collections", "OrderedDict"): OrderedDict,
        ("_codecs", "encode"): None,  # resolved by the base class: bytes in protocol-2 pickles
    }

    def __init__(self, file, path):
        super().__init__(file)
        self.path = path

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise ValueError(
                f"predictions file {self.path} is not loaded: it references {module}.{name}, "
                f"and saved predictions hold tensors only"
            )
        return self.ALLOWED[(module, name)] or super().find_class(module, name)


def _describe(obj):
    if isinstance(obj, dict):
        return f"a dict with keys {list(obj)[:LIST_LIMIT]}"
    return f"a {type(obj).__name__}"


def _read_caffe2(path):
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


def _flatten(node, prefix=""):
    """{"DATA.NUM_FRAMES": 8, ...}: the values of a nested dict by full key."""
    flat = {}
    for name, value in node.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def parse_config(cfg_text):
    """The nested mapping of a config's YAML text (as PySlowFast's checkpoints store it,
    ``cfg.dump()``), or None where there is none (or text that is not a YAML mapping)."""
    if not isinstance(cfg_text, str):
        return None
    try:
        stored = yaml.safe_load(cfg_text)
    except yaml.YAMLError:
        return None
    return stored if isinstance(stored, dict) else None


def config_by_key(cfg_text):
    """A config's YAML text (as PySlowFast's checkpoints store it, ``cfg.dump()``) by full key,
    {"DATA.NUM_FRAMES": 8, ...}, or None where there is none (or text that is not a YAML
    mapping)."""
    tree = parse_config(cfg_text)
    return None if tree is None else _flatten(tree)


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
    cfg_text = data["cfg"] if isinstance(data.get("cfg"), str) else None
    tree = parse_config(cfg_text)
    return Checkpoint(
        path,
        "pytorch",
        state,
        epoch=None if epoch is None else int(epoch),
        optimizer_state=data.get("optimizer_state"),
        stored_config=None if tree is None else _flatten(tree),
        cfg_text=cfg_text,
        config_tree=tree,
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


def _check_file(path, what):
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} {path} does not exist")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} {path} is not a file")


def read_checkpoint(path, kind="pytorch"):
    """
    Reads a PySlowFast checkpoint without running code from it (the module docstring) and
    adapts it once (``adapt.adapt_model_state``): DDP's ``module.`` prefixes removed, tensors of
    earlier layouts in the current one.

    Args:
        path (str): the checkpoint file (``.pyth`` for "pytorch", ``.pkl`` for "caffe2").
        kind (str): its type, as ``TRAIN.CHECKPOINT_TYPE``: "pytorch" or "caffe2".
    Returns:
        Checkpoint: its tensors, epoch, optimizer state and stored config (parsed once).
    Raises:
        ValueError: ``kind`` is not one of ``CHECKPOINT_TYPES``.
        FileNotFoundError: ``path`` is missing or not a file.
        CheckpointError: the file is unreadable, truncated, references code, or is not a
            checkpoint of that type; the message names the file and the problem.
    """
    if kind not in CHECKPOINT_TYPES:
        raise ValueError(
            f"checkpoint {path}: CHECKPOINT_TYPE={kind!r}, expected one of {CHECKPOINT_TYPES}"
        )
    _check_file(path, "checkpoint")
    try:
        checkpoint = _read_caffe2(path) if kind == "caffe2" else _read_pytorch(path)
    except CheckpointError:
        raise
    except Exception as err:  # torch.load and pickle fail in many ways on a damaged file
        raise CheckpointError(
            f"checkpoint {path} could not be read as a {kind} checkpoint: "
            f"{_diagnose(path, kind, err)} ({type(err).__name__}: {_reason(err)})"
        ) from err
    checkpoint.model_state = adapt_model_state(checkpoint.model_state)
    return checkpoint


def read_stored_config(path):
    """The config a PySlowFast checkpoint at ``path`` was trained with (the YAML text
    ``save_checkpoint`` stores as ``cfg``) by full key (``config_by_key``), or None where it
    stores none. Tensors are mapped, not read."""
    _check_file(path, "checkpoint")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:
        raise CheckpointError(
            f"checkpoint {path} could not be read as a pytorch checkpoint: "
            f"{_diagnose(path, 'pytorch', err)} ({type(err).__name__}: {_reason(err)})"
        ) from err
    return config_by_key(data.get("cfg") if isinstance(data, dict) else None)


def read_torch_file(path):
    """
    Whatever the PyTorch file at ``path`` holds (e.g. a torchvision state dict), read with
    ``weights_only=True`` onto the CPU. Raises ``CheckpointError`` naming the file when it
    cannot be read.
    """
    _check_file(path, "file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(
            f"file {path} could not be read as a PyTorch file: "
            f"{_diagnose(path, 'pytorch', err)} ({type(err).__name__}: {_reason(err)})"
        ) from err


def read_predictions(path):
    """The object PySlowFast's test pickled to ``path`` with ``TEST.SAVE_RESULTS_PATH`` (a list
    of CPU tensors), read through ``_PredictionsUnpickler``."""
    _check_file(path, "predictions file")
    try:
        with open(path, "rb") as f:
            return _PredictionsUnpickler(f, path).load()
    except ValueError:
        raise
    except Exception as err:  # truncated or corrupt pickles fail in many ways
        raise ValueError(
            f"predictions file {path} is not a readable pickle of tensors: "
            f"{type(err).__name__}: {_reason(err)}"
        ) from err
