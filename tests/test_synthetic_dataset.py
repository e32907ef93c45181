"""
The generated synthetic dataset as PySlowFast's trainers read it (``TRAIN.DATASET: synthetic``):
its items against PySlowFast's own recipe written out here (PyAV frames, a window every
DATA.SAMPLING_RATE frames, ``(x / 255 - mean) / std``, PySlowFast's scale jitter and crops), the
model API and the data command reading it the same way, its checks.
"""

import os
import random

import av
import numpy as np
import pytest
import torch
from slowfast.datasets import transform as sf_transform
from slowfast.datasets.build import build_dataset
from test_engine import tiny_config  # noqa: F401  (the fixture)

import gta_slowfast
from gta_slowfast.datasets import sampling, synthetic
from gta_slowfast.datasets.registration import Synthetic
from gta_slowfast.engine import launch
from gta_slowfast.tools import data as data_tool

# Videos of 12 frames, clips of 4 frames every 2: 4 starts to spare.
LONGER = ["SYNTHETIC.VIDEO_FRAMES", "12"]


def decode_all(path):
    """Every frame of a video file, uint8 [T, H, W, 3], decoded from the start with PyAV."""
    with av.open(path) as container:
        return torch.from_numpy(
            np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
        )


def pyslowfast_clip(cfg, frames, index, train, spatial_idx=1):
    """PySlowFast's Kinetics recipe on the frames ``index``: normalised per channel, the
    short side jittered (train) or set to the test size, a random (train) or uniform crop."""
    clip = frames[index].float() / 255.0
    clip = ((clip - torch.tensor(cfg.DATA.MEAN)) / torch.tensor(cfg.DATA.STD)).permute(3, 0, 1, 2)
    if train:
        clip, _ = sf_transform.random_short_side_scale_jitter(clip, *cfg.DATA.TRAIN_JITTER_SCALES)
        clip, _ = sf_transform.random_crop(clip, cfg.DATA.TRAIN_CROP_SIZE)
    else:
        size = cfg.DATA.TEST_CROP_SIZE
        clip, _ = sf_transform.random_short_side_scale_jitter(clip, size, size)
        clip, _ = sf_transform.uniform_crop(clip, size, spatial_idx)
    return clip


def test_windows_every_sampling_rate_frames():
    # 16 frames, 8 every 2: no room, start 0
    assert sampling.strided_indices(16, 8, 2, 0, 1).tolist() == [0, 2, 4, 6, 8, 10, 12, 14]
    # 20 frames, 4 every 2: starts 0..12; the second of two views starts at the last one
    assert sampling.strided_indices(20, 4, 2, 1, 2).tolist() == [12, 14, 16, 18]
    # past the end: the last frame repeated
    assert sampling.strided_indices(4, 4, 2, 0, 1).tolist() == [0, 2, 3, 3]
    # one view: the middle start, floored (12 - 8 = 4 to spare: start 2)
    assert sampling.strided_indices(12, 4, 2, 0, 1).tolist() == [2, 4, 6, 8]


def test_synthetic_items_are_what_the_trainer_expects(tiny_config):  # noqa: F811
    cfg = gta_slowfast.load_config(tiny_config)
    dataset = Synthetic(cfg, "train")
    item = dataset[3]
    frames, label = item[0], item[1]
    assert [f.shape for f in frames] == [(3, 4, 32, 32)]
    assert label == 3 and item[2] == 3
    assert len(dataset) == 12


def test_synthetic_rejects_a_wrong_class_count(tiny_config):  # noqa: F811
    cfg = gta_slowfast.load_config(tiny_config, ["MODEL.NUM_CLASSES", "5"])
    with pytest.raises(ValueError, match=r"MODEL.NUM_CLASSES=5, but the synthetic dataset has 6"):
        Synthetic(cfg, "train")


def test_unreadable_synthetic_video_fails_with_its_name(tiny_config, tmp_path):  # noqa: F811
    cfg = gta_slowfast.load_config(tiny_config)
    dataset = Synthetic(cfg, "train")
    with open(dataset.split.entries[0].path, "wb") as f:
        f.write(b"garbage")
    with pytest.raises(RuntimeError, match=r"video .*train_00000.mp4 cannot be decoded"):
        dataset[0]
    torch.manual_seed(0)


def test_test_views_are_pyslowfasts_recipe_on_evenly_spaced_windows(tiny_config):  # noqa: F811
    cfg = gta_slowfast.load_config(tiny_config, LONGER + ["TEST.NUM_ENSEMBLE_VIEWS", "2"])
    test, val = build_dataset("synthetic", cfg, "test"), build_dataset("synthetic", cfg, "val")
    assert len(test) == 2 * len(val) == 12
    for video in range(len(val)):
        entry = val.split.entries[video]
        frames = decode_all(entry.path)
        assert frames.shape[0] == 12
        # validation: the middle window; test: the first and the last
        for item, index in ((val[video], [2, 4, 6, 8]), (test[2 * video], [0, 2, 4, 6]),
                            (test[2 * video + 1], [4, 6, 8, 10])):
            expected = pyslowfast_clip(cfg, frames, index, train=False)
            assert torch.equal(item[0][0], expected)
            assert item[1] == entry.label == video % 6


def test_training_clips_are_pyslowfasts_jitter_and_crop_never_flipped(tiny_config):  # noqa: F811
    cfg = gta_slowfast.load_config(tiny_config, LONGER)
    assert cfg.DATA.RANDOM_FLIP  # PySlowFast's default: the synthetic set has no flip all the same
    dataset = build_dataset("synthetic", cfg, "train")
    for index in range(6):
        frames = decode_all(dataset.split.entries[index].path)
        np.random.seed(index)
        random.seed(index)
        before = random.getstate()
        item = dataset[index]
        assert random.getstate() == before  # no flip drawn
        np.random.seed(index)
        start = np.random.randint(0, 4 + 1)
        expected = pyslowfast_clip(cfg, frames, [start + 2 * i for i in range(4)], train=True)
        assert torch.equal(item[0][0], expected)
        assert item[1] == index % 6


def test_load_clip_is_the_test_view_of_the_dataset(tiny_config):  # noqa: F811
    cfg = gta_slowfast.load_config(tiny_config, LONGER + ["TEST.NUM_ENSEMBLE_VIEWS", "2"])
    dataset = build_dataset("synthetic", cfg, "test")
    path = dataset.split.entries[1].path
    for view in range(2):
        (clip,) = gta_slowfast.load_clip(path, cfg, view=view)
        assert torch.equal(clip[0], dataset[2 + view][0][0])


def test_class_names_are_the_datasets(tiny_config):  # noqa: F811
    from gta_slowfast.evaluation import dataset_class_names

    cfg = gta_slowfast.load_config(tiny_config)
    assert dataset_class_names(cfg) == list(synthetic.CLASS_NAMES)
    assert build_dataset("synthetic", cfg, "val").class_names == list(synthetic.CLASS_NAMES)


def test_generated_data_is_reused_and_a_changed_manifest_regenerated(tiny_config, monkeypatch):  # noqa: F811
    cfg = gta_slowfast.load_config(tiny_config)
    first = build_dataset("synthetic", cfg, "train").split.entries[0].path
    written = []
    original = synthetic.write_video
    monkeypatch.setattr(synthetic, "write_video", lambda *a: written.append(a) or original(*a))
    reused = build_dataset("synthetic", cfg, "train")
    assert written == [] and reused.split.entries[0].path == first
    manifest = os.path.join(cfg.SYNTHETIC.PATH, synthetic.MANIFEST)
    with open(manifest) as f:
        text = f.read()
    with open(manifest, "w") as f:  # a dataset written by an earlier layout
        f.write(text.replace(synthetic.FORMAT, "an-earlier-format"))
    regenerated = build_dataset("synthetic", cfg, "test")
    assert len(written) == 12 + 6 and len(regenerated) == 6
    assert torch.equal(regenerated[0][0][0], build_dataset("synthetic", cfg, "test")[0][0][0])


def test_preflight_builds_and_decodes_the_synthetic_splits(tiny_config, caplog):  # noqa: F811
    cfg = gta_slowfast.load_config(tiny_config)
    with caplog.at_level("INFO"):
        launch.preflight(cfg)
    assert "synthetic train split: 12 videos listed, all present" in caplog.text
    assert "synthetic test split: 6 videos listed, all present" in caplog.text


def test_data_command_reads_the_synthetic_splits(tiny_config, capsys):  # noqa: F811
    assert data_tool.main(["--cfg", tiny_config]) == 0
    out = capsys.readouterr().out
    for split, count in (("train", 12), ("val", 6), ("test", 6)):
        assert (f"{split}: {count} videos, 6 classes in the label file, 6 used, 0 missing, "
                f"0 unreadable") in out
