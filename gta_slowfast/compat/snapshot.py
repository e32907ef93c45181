"""
The early PySlowFast on PyPI (``pyslowfast==1.0``), behind ``gta_slowfast.compat``'s
interface: models chosen by ``MODEL.ARCH`` through a dict, no ``2d`` arch, a ``build_model``
that always calls CUDA, no trainer, a loader that divides the batch by NUM_GPUS, meters and a
``log_json_stats`` without main's later arguments. Importing it back-fills the ``2d`` arch and
the config keys of main that gta_slowfast's configs use, so the same YAML files load and build.

Dropping the snapshot means deleting this module, its branch in ``compat/__init__.py`` and
``gta_slowfast/engine/fallback.py``.
"""

import logging
import os

import slowfast.config.defaults as _defaults
import slowfast.models.model_builder as model_builder
import slowfast.models.video_model_builder as video_model_builder
import slowfast.utils.logging as sf_logging
import slowfast.utils.multiprocessing as mpu
import torch
from fvcore.common.registry import Registry
from slowfast.datasets import decoder, video_container
from slowfast.datasets import utils as sf_utils
from slowfast.models.nonlocal_helper import Nonlocal
from slowfast.utils import checkpoint as cu

# The snapshot picks the model class from MODEL.ARCH; this registry plays the role of main's
# MODEL_REGISTRY for gta_slowfast.build_model.
MODEL_REGISTRY = Registry("MODEL")

STOCK_MODELS = {
    "ResNet": video_model_builder.ResNetModel,
    "SlowFast": video_model_builder.SlowFastModel,
}

# The summaries the snapshot's meters write to OUTPUT_DIR/json_stats.log: none (its
# log_json_stats takes no output_dir).
JSON_STATS_WRITTEN = ()


def backfill():
    """Gives the snapshot the ``2d`` arch and the config keys of main that our configs use."""
    # R2D: 2D kernels everywhere and no temporal pooling, as main's "2d" arch.
    video_model_builder._TEMPORAL_KERNEL_BASIS.setdefault("2d", [[[1]]] * 5)
    video_model_builder._POOL1.setdefault("2d", [[1, 1, 1]])
    if "2d" not in _defaults._C.MODEL.SINGLE_PATHWAY_ARCH:
        _defaults._C.MODEL.SINGLE_PATHWAY_ARCH.append("2d")
    # Model class name as in main's MODEL_REGISTRY ("ResNet" or "SlowFast"); empty: chosen by
    # MODEL.ARCH, as this PySlowFast generation does ("slowfast" -> SlowFast, else ResNet).
    _defaults._C.MODEL.MODEL_NAME = ""
    # Warm-up length; float as in main (the snapshot declared an int), so 0.19 or 2.0 load.
    _defaults._C.SOLVER.WARMUP_EPOCHS = float(_defaults._C.SOLVER.WARMUP_EPOCHS)
    # File under OUTPUT_DIR for the test's [video scores, labels] pickle, as in main (used by
    # gta_slowfast's test loop and tools.ensemble); empty: not saved.
    _defaults._C.TEST.SAVE_RESULTS_PATH = ""
    # Video decoder. The snapshot decodes with PyAV only: "pyav" is the one accepted value.
    _defaults._C.DATA.DECODING_BACKEND = "pyav"
    # Random horizontal flip in training, as in main. Something-Something configs turn it off
    # (their labels name directions). The snapshot's own loaders (Kinetics, AVA) always flip.
    _defaults._C.DATA.RANDOM_FLIP = True
    # Swap the loaded frames' channels (BGR <-> RGB), as in main, whose ssv2 loader reads frames
    # with OpenCV (BGR). The snapshot's own loaders decode RGB with PyAV and do not read it.
    _defaults._C.DATA.REVERSE_INPUT_CHANNEL = False
    # Draw the training short side's inverse uniformly in 1 / DATA.TRAIN_JITTER_SCALES, as in
    # main (its SSv2 recipe sets it). Read by the gta_* datasets.
    _defaults._C.DATA.INV_UNIFORM_SAMPLE = False
    # Fine-tune from TRAIN.CHECKPOINT_FILE_PATH at epoch 0 with a fresh optimizer, ignoring the
    # epoch and optimizer state it stores, as in main (gta_slowfast.checkpoint reads both).
    _defaults._C.TRAIN.CHECKPOINT_EPOCH_RESET = False
    # Substrings removed from the tensor names of TRAIN.CHECKPOINT_FILE_PATH, as in main.
    _defaults._C.TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN = ()


# --- configs and models -------------------------------------------------------------------


def finalize_cfg(cfg):
    """The snapshot sizes its head from ``DATA.CROP_SIZE`` where main uses
    ``DATA.TRAIN_CROP_SIZE``: main's key wins, as in our configs. Refuses a decoder other
    than PyAV, the snapshot's only one."""
    cfg.DATA.CROP_SIZE = cfg.DATA.TRAIN_CROP_SIZE
    if cfg.DATA.DECODING_BACKEND != "pyav":
        raise ValueError(
            f"DATA.DECODING_BACKEND={cfg.DATA.DECODING_BACKEND!r}: the installed "
            f"PySlowFast (PyPI snapshot) decodes with PyAV only; use 'pyav'"
        )
    return cfg


def assert_and_infer_cfg(cfg):
    """The config as it is: gta_slowfast's configs need none of the snapshot's inferences."""
    return cfg


def check_buildable(cfg):
    """Rejects a config whose head the snapshot would size from a different crop."""
    if cfg.DATA.CROP_SIZE != cfg.DATA.TRAIN_CROP_SIZE:
        raise ValueError(
            f"DATA.CROP_SIZE={cfg.DATA.CROP_SIZE} differs from DATA.TRAIN_CROP_SIZE="
            f"{cfg.DATA.TRAIN_CROP_SIZE}; the PyPI snapshot sizes the head from DATA.CROP_SIZE. "
            f"Load configs with gta_slowfast.load_config, or set both"
        )


def stock_nonlocal(dim, dim_inner, pool_size, instantiation, norm_module):
    """The snapshot's ``Nonlocal`` block, built as its ResStage builds it (always with
    BatchNorm3d: ``norm_module`` is main's)."""
    return Nonlocal(dim, dim_inner, pool_size, instantiation=instantiation)


def model_class_name(cfg):
    """"SlowFast" for MODEL.ARCH slowfast, else "ResNet", as the snapshot chooses; a
    MODEL.MODEL_NAME that names the other class is refused."""
    name = cfg.MODEL.MODEL_NAME
    by_arch = "SlowFast" if cfg.MODEL.ARCH == "slowfast" else "ResNet"
    if name and name != by_arch:
        raise ValueError(
            f"MODEL.MODEL_NAME={name!r} does not match MODEL.ARCH={cfg.MODEL.ARCH!r}: the "
            f"installed PySlowFast (PyPI snapshot) builds {by_arch!r} for that arch"
        )
    return by_arch


def register_model(name, cls):
    """``cls`` under ``name`` in MODEL_REGISTRY and, for every arch whose class that is, in
    the snapshot's own arch table, so that its ``build_model`` builds it too."""
    MODEL_REGISTRY._obj_map[name] = cls
    for arch in list(model_builder._MODEL_TYPES) + ["2d"]:
        by_arch = "SlowFast" if arch == "slowfast" else "ResNet"
        if by_arch == name:
            model_builder._MODEL_TYPES[arch] = cls


def build_model(cfg, gpu_id=None):
    """The model of ``cfg`` as main's ``build_model`` builds it (the snapshot's always calls
    CUDA): CPU with NUM_GPUS 0, the current (or ``gpu_id``) GPU otherwise,
    DistributedDataParallel with more than one GPU."""
    if cfg.NUM_GPUS > torch.cuda.device_count():
        raise ValueError(
            f"NUM_GPUS={cfg.NUM_GPUS} but {torch.cuda.device_count()} CUDA devices are "
            f"available; set NUM_GPUS: 0 to run on the CPU"
        )
    check_buildable(cfg)
    model = MODEL_REGISTRY.get(model_class_name(cfg))(cfg)
    if cfg.NUM_GPUS:
        device = torch.cuda.current_device() if gpu_id is None else gpu_id
        model = model.cuda(device=device)
        if cfg.NUM_GPUS > 1:
            model = torch.nn.parallel.DistributedDataParallel(
                module=model, device_ids=[device], output_device=device
            )
    return model


# --- launch, data, loops ------------------------------------------------------------------


def launch_job(cfg, init_method, func):
    """One process a GPU (NUM_GPUS > 1) through the snapshot's ``multiprocessing.run``, NCCL;
    returns nothing."""
    return torch.multiprocessing.spawn(
        mpu.run,
        nprocs=cfg.NUM_GPUS,
        args=(cfg.NUM_GPUS, func, init_method, cfg.SHARD_ID, cfg.NUM_SHARDS, "nccl", cfg),
    )


def init_machine_groups(processes_per_machine, shard_id):
    """Nothing: the snapshot's synchronised batch norm needs no per-machine groups."""


def pyslowfast_loader(cfg, split):
    """None: the snapshot's ``construct_loader`` divides the batch by NUM_GPUS (0 on the CPU)
    and shards nothing for CPU processes; the fallback loop builds its own loader."""
    return None


def trainer_item(frames, label, index, meta):
    """A dataset item as the snapshot's loops unpack it: (frames, label, index, meta)."""
    return frames, label, index, meta


def pack_pathways(cfg, frames):
    """PySlowFast's pathway packing, with ``DATA.REVERSE_INPUT_CHANNEL`` (RGB <-> BGR)
    applied here, as main's packing applies it (the snapshot's does not read it)."""
    if cfg.DATA.REVERSE_INPUT_CHANNEL:
        frames = frames[[2, 1, 0]]
    return sf_utils.pack_pathway_output(cfg, frames)


def decode_clip(cfg, path):
    """The training clip of the video at ``path`` as the snapshot's Kinetics dataset decodes
    it (PyAV, one clip), or None where no frames come back."""
    container = video_container.get_video_container(path)
    return decoder.decode(container, cfg.DATA.SAMPLING_RATE, cfg.DATA.NUM_FRAMES, -1, 1)


def setup_logging(output_dir, write_file):
    """The snapshot's logging setup (stdout only), plus ``output_dir/stdout.log`` as main
    writes it, where ``write_file`` (the job's main process)."""
    sf_logging.setup_logging()
    if write_file:
        handler = logging.FileHandler(os.path.join(output_dir, "stdout.log"))
        handler.setFormatter(logging.root.handlers[0].formatter)
        logging.root.addHandler(handler)


def data_toc(meter):
    """Nothing: the snapshot's meters time an iteration as one (no data_toc)."""


def update_train_meter(meter, top1_err, top5_err, loss, lr, mb_size):
    """The snapshot's ``TrainMeter.update_stats`` (no grad_norm)."""
    meter.update_stats(top1_err, top5_err, loss, lr, mb_size)


def ensemble_method(meter):
    """"sum": the snapshot's TestMeter sums the views' scores."""
    return "sum"


# --- checkpoint files ---------------------------------------------------------------------


def get_last_checkpoint(cfg):
    """The last checkpoint under OUTPUT_DIR/checkpoints (``checkpoint_epoch_NNNNN.pyth``)."""
    return cu.get_last_checkpoint(cfg.OUTPUT_DIR)


def get_path_to_checkpoint(cfg, epoch):
    """The path the snapshot names the checkpoint of (1-based) ``epoch`` under OUTPUT_DIR."""
    return cu.get_path_to_checkpoint(cfg.OUTPUT_DIR, epoch)


backfill()
