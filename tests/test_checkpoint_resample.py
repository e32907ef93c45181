"""Clip-length transfer of GTA checkpoints: the resampling, the loader, the convert command."""

import numpy as np
import pytest
import slowfast.utils.checkpoint as cu
import torch
from conftest import build, small_cfg

from gta_slowfast.checkpoint import CheckpointError, load_checkpoint, preflight
from gta_slowfast.checkpoint.resample import resample_temporal_attention, resampling_matrix
from gta_slowfast.tools import convert

MATRICES = ("pixel_attention", "region_attention")


def test_lengthening_is_linear_interpolation_between_frame_centres():
    old = (np.arange(8) + 0.5) / 8
    new = (np.arange(16) + 0.5) / 16
    reference = np.stack([np.interp(new, old, np.eye(8)[j]) for j in range(8)], axis=1)
    np.testing.assert_allclose(resampling_matrix(8, 16).numpy(), reference, atol=1e-12)


def test_shortening_averages_the_frames_of_each_segment():
    np.testing.assert_allclose(resampling_matrix(16, 8).numpy(),
                               np.kron(np.eye(8), [[0.5, 0.5]]), atol=1e-12)
    # 3 -> 2: each new frame covers one and a half old frames
    np.testing.assert_allclose(resampling_matrix(3, 2).numpy(),
                               [[2 / 3, 1 / 3, 0], [0, 1 / 3, 2 / 3]], atol=1e-12)


def test_same_length_is_the_identity():
    weight = torch.randn(2, 2, 8, 8, dtype=torch.float64)
    assert torch.equal(resample_temporal_attention(weight, 8), weight)


@pytest.mark.parametrize("new_t", [4, 12, 16])
def test_rows_keep_their_total_weight(new_t):
    torch.manual_seed(0)
    weight = torch.randn(3, 3, 8, 8, dtype=torch.float64)
    resampled = resample_temporal_attention(weight, new_t)
    assert resampled.shape == (3, 3, new_t, new_t)
    expected = torch.einsum("ot,...t->...o", resampling_matrix(8, new_t), weight.sum(-1))
    torch.testing.assert_close(resampled.sum(-1), expected)
    constant = torch.ones(8, 8, dtype=torch.float64) / 8  # a mean over time stays a mean
    torch.testing.assert_close(resample_temporal_attention(constant, new_t),
                               torch.full((new_t, new_t), 1.0 / new_t, dtype=torch.float64))


def saved_8_frame_model(tmp_path):
    cfg = small_cfg("gta", frames=8, identity_init=False)
    cfg.OUTPUT_DIR = str(tmp_path)
    model = build(cfg, seed=3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return model, cu.save_checkpoint(str(tmp_path), model, optimizer, 0, cfg)


def test_another_clip_length_loads_only_when_asked_and_is_reported(tmp_path):
    source, path = saved_8_frame_model(tmp_path)
    model16 = build(small_cfg("gta", frames=16, identity_init=False), seed=4)
    with pytest.raises(CheckpointError, match=r"T=8 in the checkpoint, T=16 in the model.*"
                                              r"DATA.NUM_FRAMES.*GTA.RESAMPLE_CHECKPOINT True"):
        load_checkpoint(path, model16, mode="exact")
    report = load_checkpoint(path, model16, mode="exact", resample=True)
    names = sorted(n for n in source.state_dict() if n.endswith(MATRICES))
    assert sorted(report.resampled) == names and len(names) == 10
    assert report.resampled[names[0]] == ((4, 8, 8), (4, 16, 16))
    assert f"resampled: {names[0]} [4, 8, 8] -> [4, 16, 16]" in report.summary()
    for name in names:
        torch.testing.assert_close(model16.state_dict()[name],
                                   resample_temporal_attention(source.state_dict()[name], 16))
    kept = [n for n in source.state_dict() if n not in names]
    assert all(torch.equal(model16.state_dict()[n], source.state_dict()[n]) for n in kept)


@pytest.mark.parametrize("mode", ["finetune", "exact"])
def test_the_refusal_names_num_frames_both_clip_lengths_and_the_ways_out(tmp_path, mode):
    _, path = saved_8_frame_model(tmp_path)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path, build(small_cfg("gta", frames=16)), mode=mode)
    message = str(error.value)
    assert "T=8 in the checkpoint, T=16 in the model; all: 8 vs 16" in message
    assert "its stored config has DATA.NUM_FRAMES 8): set DATA.NUM_FRAMES to the clip length " \
        "the checkpoint was trained with" in message
    assert "resample them to this model's with GTA.RESAMPLE_CHECKPOINT True (or python -m " \
        f"gta_slowfast.tools.convert resample --src {path} --dst RESAMPLED.pyth --num-frames " \
        "16)" in message


def test_convert_resample_writes_what_the_loader_resamples(tmp_path, capsys):
    source, path = saved_8_frame_model(tmp_path)
    dst = str(tmp_path / "gta_16.pyth")
    code = convert.main(["resample", "--src", path, "--dst", dst, "--num-frames", "16"])
    out = capsys.readouterr().out
    assert code == 0 and "10 GTA matrices resampled from 8- to 16-frame clips" in out
    direct = build(small_cfg("gta", frames=16, identity_init=False), seed=5)
    load_checkpoint(path, direct, mode="exact", resample=True)
    converted = build(small_cfg("gta", frames=16, identity_init=False), seed=6)
    report = load_checkpoint(dst, converted, mode="exact")
    assert not report.resampled
    for name, value in direct.state_dict().items():
        assert torch.equal(converted.state_dict()[name], value), name


def test_pyslowfasts_trainer_is_told_to_convert_first(tmp_path):
    _, path = saved_8_frame_model(tmp_path)
    cfg = small_cfg("gta", frames=16, identity_init=False)
    cfg.OUTPUT_DIR = str(tmp_path / "run")
    cfg.TRAIN.ENABLE, cfg.TEST.CHECKPOINT_FILE_PATH = False, path
    cfg.GTA.RESAMPLE_CHECKPOINT = True
    assert preflight(cfg)[0].resampled  # gta_slowfast's loader (the fallback loop) resamples
    with pytest.raises(CheckpointError, match="convert resample --src .* --num-frames 16"):
        preflight(cfg, pyslowfast_loader=True)
