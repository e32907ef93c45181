"""The variants inside PySlowFast's own ResNet (R2D) and SlowFast builders."""

import os
import subprocess
import sys

import pytest
import torch
from conftest import CONFIGS, REPO, build, clip, reversal_gap, run, small_cfg

import gta_slowfast
from gta_slowfast import compat
from gta_slowfast.blocks import DecoupledBlock, GlobalTemporalAttention


@pytest.mark.parametrize(
    "path", [os.path.join(CONFIGS, config) for config in gta_slowfast.list_configs()]
)
def test_every_config_loads_and_builds(path):
    cfg = gta_slowfast.load_config(path, ["NUM_GPUS", "0"])
    model = gta_slowfast.build_model(cfg)
    blocks = [m for m in model.modules() if isinstance(m, DecoupledBlock)]
    n_places = sum(len(ix) for stage in cfg.NONLOCAL.LOCATION for ix in stage)
    if cfg.NONLOCAL.TYPE == "nonlocal":
        assert not blocks
    else:
        assert len(blocks) == n_places > 0


def test_gta_config_puts_five_blocks_at_res3_res4():
    cfg = gta_slowfast.load_config(os.path.join(CONFIGS, "SSv1", "R2D_R50_GTA_8x1.yaml"))
    cfg.NUM_GPUS = 0
    model = gta_slowfast.build_model(cfg)
    names = [n for n, m in model.named_modules() if isinstance(m, DecoupledBlock)]
    assert names == [
        "s3.pathway0_nonlocal1",
        "s3.pathway0_nonlocal3",
        "s4.pathway0_nonlocal1",
        "s4.pathway0_nonlocal3",
        "s4.pathway0_nonlocal5",
    ]
    gta = model.s4.pathway0_nonlocal5.temporal
    assert isinstance(gta, GlobalTemporalAttention)
    assert gta.pixel_attention.shape == (64, 8, 8)  # G heads x G groups, T x T each


def test_identity_init_keeps_backbone_output():
    """Blocks start as the identity: R2D+GTA computes exactly what R2D computes."""
    base, gta = small_cfg("gta"), small_cfg("gta")
    base.NONLOCAL.LOCATION = [[[]]] * 4
    x = clip(base)
    m_base, m_gta = build(base).eval(), build(gta).eval()
    m_gta.load_state_dict(m_base.state_dict(), strict=False)
    with torch.no_grad():
        torch.testing.assert_close(run(m_gta, x), run(m_base, x), rtol=0, atol=0)


def variant_reversal_gap(variant):
    """Relative change of the logits when the clip's frames are reversed."""
    cfg = small_cfg(variant, identity_init=False)
    if variant == "none":
        cfg.NONLOCAL.LOCATION = [[[]]] * 4
    return reversal_gap(cfg)


@pytest.mark.parametrize("variant", ["none", "nonlocal", "sa", "ta", "dnl"])
def test_order_blind_models_are_invariant_to_reversing_the_clip(variant):
    assert variant_reversal_gap(variant) < 1e-10


@pytest.mark.parametrize("variant", ["gta", "sa_tape", "tape"])
def test_order_aware_models_see_a_reversed_clip(variant):
    assert variant_reversal_gap(variant) > 1e-2


def test_stock_config_builds_bit_identical_with_plugin(tmp_path):
    """A stock config: same weights, structure and output as PySlowFast without gta_slowfast."""
    config = os.path.join(REPO, "tests", "data", "stock_c2d_nln.yaml")
    out = tmp_path / "stock.pt"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    subprocess.run(
        [sys.executable, os.path.join(REPO, "tests", "stock_build.py"), config, str(out)],
        check=True, env=env,
    )
    stock = torch.load(out, weights_only=False)
    cfg = gta_slowfast.load_config(config)
    torch.manual_seed(0)
    model = gta_slowfast.build_model(cfg).eval()
    state = model.state_dict()
    assert list(state) == list(stock["state"])
    for key, value in stock["state"].items():
        assert torch.equal(state[key], value), key
    # Same module tree; only the top-level class name may differ between generations.
    assert repr(model).split("\n", 1)[1] == stock["repr"].split("\n", 1)[1]
    with torch.no_grad():
        assert torch.equal(run(model, stock["x"]), stock["y"])


def test_slowfast_blocks_get_each_pathways_clip_length():
    cfg = small_cfg("gta", arch="slowfast", frames=16)
    model = build(cfg)
    slow = model.s3.pathway0_nonlocal1.temporal
    fast = model.s3.pathway1_nonlocal1.temporal
    assert (slow.num_frames, fast.num_frames) == (4, 16)
    x = clip(cfg)
    assert [t.shape[2] for t in x] == [4, 16]
    with torch.no_grad():
        assert run(model.eval(), x).shape == (2, 10)


def test_nonlocal_group_folds_time():
    cfg = small_cfg("gta")
    cfg.NONLOCAL.GROUP = [[1], [2], [2], [1]]
    model = build(cfg)
    assert model.s3.pathway0_nonlocal1.temporal.num_frames == 4
    with torch.no_grad():
        assert run(model.eval(), clip(cfg)).shape == (2, 10)


def test_clip_of_another_length_names_block():
    cfg = small_cfg("gta")
    model = build(cfg).eval()
    x = [torch.randn(1, 3, 4, 64, 64)]
    with pytest.raises(ValueError, match=r"s3\.pathway0_nonlocal1\.temporal: built for clips of "
                       r"T=8 frames.*got a tensor with T=4"):
        model(x)


def test_unknown_variant_is_rejected_at_build():
    cfg = small_cfg("gta")
    cfg.NONLOCAL.TYPE = "global"
    with pytest.raises(KeyError, match="NONLOCAL.TYPE='global' is not a registered variant"):
        build(cfg)


def test_groups_not_dividing_channels_is_rejected_at_build():
    cfg = small_cfg("gta")
    cfg.GTA.GROUPS = 3
    with pytest.raises(ValueError, match=r"GTA.GROUPS=3 must be >= 1 and divide"):
        build(cfg)


def test_slowfast_frames_not_divisible_by_alpha():
    cfg = small_cfg("gta", arch="slowfast", frames=10)
    with pytest.raises(ValueError, match=r"DATA.NUM_FRAMES / SLOWFAST.ALPHA: 10 frames are not "
                       r"divisible by 4"):
        build(cfg)


@pytest.mark.skipif(not compat.DETECTRON2_STUBBED, reason="detectron2 is installed")
def test_detection_head_without_detectron2_says_what_to_do():
    cfg = small_cfg("gta")
    cfg.DETECTION.ENABLE = True
    with pytest.raises(ImportError, match=r"needs detectron2's ROIAlign.*DETECTION.ENABLE: False"):
        build(cfg)
