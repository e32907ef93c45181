"""
The one FLOP counter of the package: parameters and fvcore GFLOPs of a model (or of a block
alone) for one forward pass, as the paper's tables count them (fvcore: one multiply-add is one
FLOP). The complexity and benchmark commands and the fallback trainer's model log use it.
"""

import torch
from fvcore.nn import FlopCountAnalysis

from .models import build_model, cpu_cfg, dummy_inputs


def count_params_m(module):
    """Parameters of ``module`` in millions."""
    return sum(p.numel() for p in module.parameters()) / 1e6


def count_gflops(module, inputs):
    """fvcore GFLOPs of one eval-mode forward of ``module`` on ``inputs`` (the tuple of its
    positional arguments), without gradients; ``module``'s train/eval mode is restored."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            analysis = FlopCountAnalysis(module, inputs)
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            return analysis.total() / 1e9
    finally:
        module.train(was_training)


def model_complexity(cfg):
    """(params in millions, GFLOPs) of the model of ``cfg``, built on the CPU, for one clip of
    ``DATA.NUM_FRAMES`` x ``DATA.TRAIN_CROP_SIZE``^2."""
    cfg = cpu_cfg(cfg)
    model = build_model(cfg).eval()
    return count_params_m(model), count_gflops(model, (dummy_inputs(cfg),))


def any_block(cfg):
    """Whether ``NONLOCAL.LOCATION`` of ``cfg`` places a block anywhere."""
    return any(indices for stage in cfg.NONLOCAL.LOCATION for indices in stage)
