"""
Builds a model with PySlowFast alone, gta_slowfast never imported, and saves its state dict,
structure and output: ``python tests/stock_build.py CONFIG OUT``. Used by test_models.py.
"""

import sys
import types

import torch


def main(config, out):
    try:  # PySlowFast's models import detectron2 for the AVA head only.
        import detectron2.layers  # noqa: F401
    except ImportError:
        layers = types.ModuleType("detectron2.layers")
        layers.ROIAlign = None
        sys.modules["detectron2"] = types.ModuleType("detectron2")
        sys.modules["detectron2.layers"] = layers
    from slowfast.config.defaults import get_cfg
    from slowfast.models import video_model_builder

    cfg = get_cfg()
    try:
        cfg.merge_from_file(config)
        model_cls = video_model_builder.ResNet
    except KeyError:  # the PyPI snapshot: no MODEL.MODEL_NAME key, models chosen by arch
        import yaml

        with open(config) as f:
            raw = yaml.safe_load(f)
        raw["MODEL"].pop("MODEL_NAME")
        cfg.merge_from_other_cfg(type(cfg)(raw))
        cfg.DATA.CROP_SIZE = cfg.DATA.TRAIN_CROP_SIZE
        model_cls = video_model_builder.ResNetModel
    assert "GTA" not in cfg and "gta_slowfast" not in sys.modules
    torch.manual_seed(0)
    model = model_cls(cfg).eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(1)
    x = [torch.randn(2, 3, cfg.DATA.NUM_FRAMES, 64, 64)]
    with torch.no_grad():
        y = model(list(x))  # the model overwrites the list's entries
    torch.save({"state": state, "repr": repr(model), "x": x, "y": y}, out)


if __name__ == "__main__":
    main(*sys.argv[1:])
