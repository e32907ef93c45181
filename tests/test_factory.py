"""The model API: create_model, list_configs, load_clip."""

import os
import pickle

import pytest
import torch
from conftest import CONFIGS
from releases import make_ssv2
from slowfast.datasets.build import build_dataset
from test_engine import run_net, tiny_config  # noqa: F401  (the fixture)

import gta_slowfast


def test_list_configs_lists_the_shipped_configs():
    listed = gta_slowfast.list_configs()
    on_disk = sorted(os.path.relpath(os.path.join(d, f), CONFIGS)
                     for d, _, files in os.walk(CONFIGS) for f in files if f.endswith(".yaml"))
    assert listed == on_disk and "SSv1/R2D_R50_GTA_8x1.yaml" in listed
    assert gta_slowfast.list_configs("Synthetic/") == [
        "Synthetic/R2D_R50.yaml", "Synthetic/R2D_R50_DNL.yaml", "Synthetic/R2D_R50_GTA.yaml"]


def test_create_model_by_name_is_the_configured_model_in_eval_mode():
    model = gta_slowfast.create_model("SSv1/R2D_R50_GTA_8x1.yaml", num_classes=10,
                                      opts=["RESNET.WIDTH_PER_GROUP", "8"])
    assert not model.training and model.cfg.MODEL.NUM_CLASSES == 10
    assert type(model.s4.pathway0_nonlocal5).__name__ != "Nonlocal"
    with pytest.raises(FileNotFoundError, match="'SSv9/nothing.yaml' is neither a file nor one of"):
        gta_slowfast.create_model("SSv9/nothing.yaml")


def test_create_model_gives_the_launchers_scores(tiny_config, tmp_path):  # noqa: F811
    result = run_net("--cfg", tiny_config, "--trainer", "fallback", "TEST.SAVE_RESULTS_PATH",
                     "preds.pkl")
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "out"
    with open(out / "preds.pkl", "rb") as f:
        scores, labels = pickle.load(f)
    checkpoint = out / "checkpoints" / "checkpoint_epoch_00001.pyth"
    model = gta_slowfast.create_model(tiny_config, checkpoint=str(checkpoint))
    dataset = build_dataset("synthetic", model.cfg, "test")
    with torch.no_grad():
        for video in range(len(dataset)):
            clip = [x.unsqueeze(0) for x in dataset[video][0]]
            torch.testing.assert_close(model(clip)[0], torch.as_tensor(scores[video]).float(),
                                       atol=1e-5, rtol=1e-4)


def test_load_clip_is_the_test_view_of_the_dataset(tmp_path):
    root = make_ssv2(str(tmp_path / "ssv2"), per_class=(1, 1, 0))
    cfg = gta_slowfast.load_config(
        os.path.join(CONFIGS, "SSv2", "R2D_R50_GTA_8x1.yaml"),
        ["DATA.PATH_TO_DATA_DIR", root, "MODEL.NUM_CLASSES", "6", "NUM_GPUS", "0"],
    )
    dataset = build_dataset("gta_ssv2", cfg, "test")
    clip = gta_slowfast.load_clip(dataset.split.entries[2].path, cfg)
    assert clip[0].shape == (1, 3, 8, 224, 224)
    torch.testing.assert_close(clip[0][0], dataset[2][0][0])
