"""
The model API: build a configured model with its checkpoint in one call, list the shipped
configs, and read a video file into the model's input.

    import gta_slowfast
    model = gta_slowfast.create_model("SSv1/R2D_R50_GTA_8x1.yaml", num_classes=174,
                                      checkpoint="checkpoint_epoch_00050.pyth")
    clip = gta_slowfast.load_clip("video.webm", model.cfg)
    scores = model(clip)                  # [1, classes], softmax (PySlowFast's eval-mode head)
"""

import logging
import os

import torch

CONFIGS_ENV = "GTA_SLOWFAST_CONFIGS"

logger = logging.getLogger(__name__)


def configs_root():
    """The folder of the shipped configs: ``$GTA_SLOWFAST_CONFIGS``, else ``configs/`` of the
    source tree this package was installed from."""
    root = os.environ.get(CONFIGS_ENV) or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs"
    )
    if not os.path.isdir(root):
        raise FileNotFoundError(
            f"the configs folder {root} does not exist; set ${CONFIGS_ENV} to the configs/ "
            f"folder of a gta_slowfast source tree"
        )
    return root


def list_configs(pattern=""):
    """The shipped configs (paths relative to the configs folder, sorted) whose path contains
    ``pattern``."""
    root = configs_root()
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".yaml"):
                path = os.path.relpath(os.path.join(folder, name), root)
                if pattern in path:
                    found.append(path)
    return sorted(found)


def _config_path(config):
    if os.path.isfile(config):
        return config
    path = os.path.join(configs_root(), config)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"config {config!r} is neither a file nor one of the shipped configs "
            f"(gta_slowfast.list_configs() lists them)"
        )
    return path


def create_model(config, num_classes=None, checkpoint=None, checkpoint_type="pytorch", opts=None):
    """
    The model of ``config`` (a YAML path, or a shipped config's name such as
    ``"SSv1/R2D_R50_GTA_8x1.yaml"``) on the CPU in eval mode, with ``num_classes`` and the
    ``KEY VALUE`` overrides ``opts``. ``checkpoint`` is loaded through the package's loader in
    exact mode (every tensor of the model, head included, or an error naming what does not
    fit) and its report logged. The config is kept as ``model.cfg``.
    """
    from . import build_model, load_config
    from .checkpoint import load_checkpoint

    overrides = list(opts or []) + ["NUM_GPUS", "0"]
    if num_classes is not None:
        overrides += ["MODEL.NUM_CLASSES", str(num_classes)]
    cfg = load_config(_config_path(config), overrides)
    model = build_model(cfg)
    if checkpoint:
        load_checkpoint(checkpoint, model, kind=checkpoint_type, mode="exact", cfg=cfg)
    model.cfg = cfg
    return model.eval()


def load_clip(path, cfg, view=0, spatial_idx=1):
    """
    A video file (or a folder of JPEG frames) as the model's input for ``cfg``: temporal view
    ``view`` of ``TEST.NUM_ENSEMBLE_VIEWS`` and crop ``spatial_idx`` (1: centre), sampled and
    cropped as the config's test does, as a list of pathway tensors with a batch axis.
    """
    from .datasets import decoding, sampling
    from .datasets.video_dataset import prepare_clip

    views = max(cfg.TEST.NUM_ENSEMBLE_VIEWS, 1)

    def indices(num_frames, fps):
        return sampling.clip_indices(cfg, num_frames, fps, view, views)

    if os.path.isdir(path):
        frames, _ = decoding.read_frame_folder(path, lambda n: indices(n, cfg.DATA.FRAMES_FPS))
    else:
        frames, _, _ = decoding.read_video_file(path, indices)
    pathways, _ = prepare_clip(cfg, frames, train=False, spatial_idx=spatial_idx)
    return [torch.unsqueeze(x, 0) for x in pathways]
