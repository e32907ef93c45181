"""
PySlowFast from GitHub (main, installed from a checkout), behind ``gta_slowfast.compat``'s
interface: ``MODEL_REGISTRY`` and ``MODEL.MODEL_NAME``, the ``2d`` arch, its own
``build_model``, ``launch_job`` and loader, meters that time data loading apart, checkpoint
names with a task prefix (``cfg.TASK``). The first-class target: checkouts from commit 99a655b
on (task-prefixed checkpoints, lists in ``decode``, json stats written to OUTPUT_DIR; those
tried: INSTALL.md, "Versions tried"); where an API used here differs between them, it is
probed.
"""

import inspect

import numpy as np
import slowfast.models.video_model_builder as video_model_builder
import slowfast.utils.distributed as du
import slowfast.utils.logging as sf_logging
from slowfast.config.defaults import assert_and_infer_cfg  # noqa: F401 (the interface's)
from slowfast.datasets import decoder, video_container
from slowfast.datasets import loader as sf_loader
from slowfast.datasets import utils as sf_utils
from slowfast.models import build_model  # noqa: F401 (the interface's)
from slowfast.models.build import MODEL_REGISTRY
from slowfast.models.nonlocal_helper import Nonlocal
from slowfast.utils import checkpoint as cu

STOCK_MODELS = {
    "ResNet": video_model_builder.ResNet,
    "SlowFast": video_model_builder.SlowFast,
}

# The summaries main's meters write to OUTPUT_DIR/json_stats.log themselves (its
# log_json_stats takes an output_dir): the epoch summaries; its TestMeter logs test_final to
# stdout only.
JSON_STATS_WRITTEN = ("train_epoch", "val_epoch")


# --- configs and models -------------------------------------------------------------------


def finalize_cfg(cfg):
    """The config as it is: main names every key as gta_slowfast's configs do."""
    return cfg


def check_buildable(cfg):
    """Nothing to refuse: main's ``build_model`` builds every config it accepts."""


def stock_nonlocal(dim, dim_inner, pool_size, instantiation, norm_module):
    """Main's ``Nonlocal`` block, built as its ResStage builds it (with its norm module)."""
    return Nonlocal(dim, dim_inner, pool_size, instantiation=instantiation, norm_module=norm_module)


def model_class_name(cfg):
    """MODEL.MODEL_NAME, the MODEL_REGISTRY name main builds."""
    return cfg.MODEL.MODEL_NAME


def register_model(name, cls):
    """``cls`` under ``name`` in main's MODEL_REGISTRY, replacing the stock class."""
    MODEL_REGISTRY._obj_map[name] = cls


# --- launch, data, loops ------------------------------------------------------------------


def launch_job(cfg, init_method, func):
    """Main's ``launch_job``: one process a GPU (NUM_GPUS > 1), on DIST_BACKEND."""
    from slowfast.utils.misc import launch_job as _launch_job  # (b) imports matplotlib

    return _launch_job(cfg=cfg, init_method=init_method, func=func)


def init_machine_groups(processes_per_machine, shard_id):
    """Main's per-machine process groups, as its trainer makes them first (BN.NORM_TYPE
    sync_batchnorm synchronises over BN.NUM_SYNC_DEVICES of one machine's processes)."""
    du._init_distributed_training(processes_per_machine, shard_id)


def pyslowfast_loader(cfg, split):
    """Main's own loader for ``split`` of a one-process job (also on the CPU)."""
    return sf_loader.construct_loader(cfg, split)


def trainer_item(frames, label, index, meta):
    """A dataset item as main's loops unpack it: (frames, label, index, time, meta), the time
    index unused by classification (zeros)."""
    return frames, label, index, np.zeros(3, dtype=np.float32), meta


def pack_pathways(cfg, frames):
    """Main's pathway packing (it applies ``DATA.REVERSE_INPUT_CHANNEL`` itself)."""
    return sf_utils.pack_pathway_output(cfg, frames)


def decode_clip(cfg, path):
    """The training clip of the video at ``path`` as main's Kinetics dataset decodes it
    (DATA.DECODING_BACKEND: lists of sampling rates and frame counts), or None where no
    frames come back."""
    container = video_container.get_video_container(path, False, cfg.DATA.DECODING_BACKEND)
    clips = decoder.decode(
        container, [cfg.DATA.SAMPLING_RATE], [cfg.DATA.NUM_FRAMES], -1, 1, video_meta={},
        target_fps=cfg.DATA.TARGET_FPS, backend=cfg.DATA.DECODING_BACKEND, max_spatial_scale=0,
    )[0]
    return None if clips is None or clips[0] is None else clips[0]


def setup_logging(output_dir, write_file):
    """Main's logging setup, which writes ``output_dir/stdout.log`` on its master process
    itself (``write_file`` is its own decision there)."""
    sf_logging.setup_logging(output_dir)


def data_toc(meter):
    """Ends the data-loading time of an iteration (main's meters time loading and compute
    apart; data_toc starts the compute timer)."""
    meter.data_toc()


def update_train_meter(meter, top1_err, top5_err, loss, lr, mb_size):
    """Main's ``TrainMeter.update_stats``, no gradient norm measured (0.0); probed, since
    older checkouts have no grad_norm argument."""
    if "grad_norm" in inspect.signature(meter.update_stats).parameters:
        meter.update_stats(top1_err, top5_err, loss, lr, 0.0, mb_size)
    else:
        meter.update_stats(top1_err, top5_err, loss, lr, mb_size)


def ensemble_method(meter):
    """How main's TestMeter combines a video's views: TEST.ENSEMBLE_METHOD, "sum" or "max"."""
    return meter.ensemble_method


# --- checkpoint files ---------------------------------------------------------------------


def get_last_checkpoint(cfg):
    """The last checkpoint of task ``cfg.TASK`` under OUTPUT_DIR/checkpoints."""
    return cu.get_last_checkpoint(cfg.OUTPUT_DIR, task=cfg.TASK)


def get_path_to_checkpoint(cfg, epoch):
    """The path main names the checkpoint of (1-based) ``epoch`` of task ``cfg.TASK``."""
    return cu.get_path_to_checkpoint(cfg.OUTPUT_DIR, epoch, cfg.TASK)
