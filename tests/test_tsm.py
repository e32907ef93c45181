"""Temporal shift (TSM) in PySlowFast's own ResNet: the shift, its placement, cost and configs."""

import copy
import os

import pytest
import torch
from conftest import CONFIGS, build, clip, reversal_gap, run, small_cfg
from fvcore.nn import FlopCountAnalysis

import gta_slowfast
from gta_slowfast.complexity import model_complexity
from gta_slowfast.tsm import TemporalShift, shift_fold, temporal_shift


def reference_shift(x, fold):
    """TSM's shift written frame by frame: the first fold channels of frame t come from t + 1,
    the next fold from t - 1 (zeros beyond the clip), the rest from t."""
    out = torch.zeros_like(x)
    frames = x.shape[2]
    for t in range(frames):
        if t + 1 < frames:
            out[:, :fold, t] = x[:, :fold, t + 1]
        if t >= 1:
            out[:, fold : 2 * fold, t] = x[:, fold : 2 * fold, t - 1]
        out[:, 2 * fold :, t] = x[:, 2 * fold :, t]
    return out


def tsm_cfg(variant="none", fraction=0.125, placement="residual", **kwargs):
    """small_cfg with the shift on; variant "none": no attention block."""
    cfg = small_cfg("gta" if variant == "none" else variant, **kwargs)
    if variant == "none":
        cfg.NONLOCAL.LOCATION = [[[]]] * 4
    cfg.TSM.ENABLE = True
    cfg.TSM.FRACTION = fraction
    cfg.TSM.PLACEMENT = placement
    return cfg


@pytest.mark.parametrize(
    "shape, fold",
    [((2, 16, 8, 3, 5), 2), ((1, 64, 2, 1, 1), 8), ((3, 8, 5, 4, 4), 4), ((1, 9, 3, 2, 2), 1)],
)
def test_shift_matches_frame_by_frame_reference(shape, fold):
    torch.manual_seed(0)
    x = torch.randn(shape)
    torch.testing.assert_close(temporal_shift(x, fold), reference_shift(x, fold), rtol=0, atol=0)


def test_fold_is_the_fraction_of_the_channels():
    assert shift_fold(64, 0.125) == 8
    assert shift_fold(256, 0.25) == 64
    assert shift_fold(30, 0.1) == 3
    assert shift_fold(7, 0.125) == 0


@pytest.mark.parametrize("placement", ["residual", "inplace"])
@pytest.mark.parametrize("fraction", [0.125, 0.25])
def test_placement_and_fraction_in_the_model(placement, fraction):
    """In s3.pathway0_res1 (64 channels): the residual branch sees the shifted input; the
    shortcut sees it only with "inplace"."""
    cfg = tsm_cfg(fraction=fraction, placement=placement)
    model = build(cfg).double().eval()
    block = model.s3.pathway0_res1
    seen = {}
    model.s3.pathway0_res0.register_forward_hook(lambda m, i, out: seen.update(x=out))
    block.branch2.register_forward_pre_hook(lambda m, args: seen.update(branch_in=args[0]))
    block.branch2.register_forward_hook(lambda m, i, out: seen.update(branch_out=out))
    block.register_forward_hook(lambda m, i, out: seen.update(out=out))
    with torch.no_grad():
        run(model, [t.double() for t in clip(cfg)])

    fold = int(64 * fraction)
    shifted = reference_shift(seen["x"], fold)
    torch.testing.assert_close(seen["branch_in"], shifted, rtol=0, atol=0)
    shortcut = shifted if placement == "inplace" else seen["x"]
    torch.testing.assert_close(seen["out"], torch.relu(shortcut + seen["branch_out"]))
    hooked = block if placement == "inplace" else block.branch2
    hooks = [h for h in hooked._forward_pre_hooks.values() if isinstance(h, TemporalShift)]
    assert [h.fold for h in hooks] == [fold]


def test_every_residual_block_is_shifted():
    model = build(tsm_cfg())
    hooks = [
        (name, h)
        for name, m in model.named_modules()
        for h in m._forward_pre_hooks.values()
        if isinstance(h, TemporalShift)
    ]
    assert len(hooks) == 3 + 4 + 6 + 3
    assert hooks[0][0] == "s2.pathway0_res0.branch2" == hooks[0][1].name
    assert hooks[-1][0] == "s5.pathway0_res2.branch2"


@pytest.mark.parametrize("variant", ["none", "gta", "dnl", "nonlocal"])
def test_state_dict_is_the_stock_models(variant):
    """Same keys, shapes and (same seed) values as without the shift: checkpoints interchange."""
    plain_cfg = tsm_cfg(variant)
    plain_cfg.TSM.ENABLE = False
    plain, shifted = build(plain_cfg).state_dict(), build(tsm_cfg(variant)).state_dict()
    assert list(shifted) == list(plain)
    for key, value in plain.items():
        assert torch.equal(shifted[key], value), key


@pytest.mark.parametrize("variant", ["gta", "dnl", "nonlocal"])
def test_runs_with_every_block_type(variant):
    cfg = tsm_cfg(variant)
    model = build(cfg).eval()
    x = clip(cfg)
    with torch.no_grad():
        y = run(model, x)
        y_copy = run(copy.deepcopy(model), x)  # the shift travels with the module
    assert y.shape == (2, 10)
    torch.testing.assert_close(y_copy, y, rtol=0, atol=0)


def test_same_params_and_flops_as_r2d():
    """No parameter, no FLOP, and no operator fvcore would warn about as unsupported."""
    plain_cfg, shift_cfg = tsm_cfg(), tsm_cfg()
    plain_cfg.TSM.ENABLE = False
    assert model_complexity(shift_cfg) == model_complexity(plain_cfg)
    unsupported = []
    for cfg in (plain_cfg, shift_cfg):
        with torch.no_grad():
            flops = FlopCountAnalysis(build(cfg).eval(), (clip(cfg),))
            flops.unsupported_ops_warnings(False)
            flops.total()
            unsupported.append(dict(flops.unsupported_ops()))
    assert unsupported[1] == unsupported[0]


def tsm_reversal_gap(enable):
    cfg = tsm_cfg(identity_init=False)
    cfg.TSM.ENABLE = enable
    return reversal_gap(cfg)


def test_shift_makes_r2d_see_frame_order():
    assert tsm_reversal_gap(enable=False) < 1e-10
    assert tsm_reversal_gap(enable=True) > 1e-2


def test_single_frame_clip_is_rejected():
    cfg = tsm_cfg(frames=1)
    model = build(cfg).eval()
    with pytest.raises(ValueError, match=r"TSM.ENABLE=True: s2.pathway0_res0.branch2 shifts "
                       r"channels along time and needs clips .* with T > 1, got T=1"):
        run(model, clip(cfg))


def test_slowfast_is_rejected():
    cfg = small_cfg("gta", arch="slowfast", frames=16)
    cfg.TSM.ENABLE = True
    with pytest.raises(ValueError, match=r"TSM.ENABLE=True is supported for the single-pathway "
                       r"ResNet only, got the 'SlowFast' model"):
        build(cfg)


def test_unknown_placement_is_rejected():
    with pytest.raises(ValueError, match=r"TSM.PLACEMENT must be one of \['residual', "
                       r"'inplace'\], got 'block'"):
        build(tsm_cfg(placement="block"))


@pytest.mark.parametrize("fraction", [0.0, 0.75])
def test_fraction_out_of_range_is_rejected(fraction):
    with pytest.raises(ValueError, match=rf"TSM.FRACTION must be in \(0, 0.5\], got {fraction}"):
        build(tsm_cfg(fraction=fraction))


def test_fraction_shifting_no_channel_is_rejected():
    with pytest.raises(ValueError, match=r"TSM.FRACTION=0.05 shifts no channel of "
                       r"s2.pathway0_res0 \(8 channels\)"):
        build(tsm_cfg(fraction=0.05))


@pytest.mark.parametrize(
    "path", [os.path.join(CONFIGS, config) for config in gta_slowfast.list_configs("R2D_R50_TSM_")
             if config.startswith("SSv")]
)
def test_tsm_configs(path):
    cfg = gta_slowfast.load_config(path, ["NUM_GPUS", "0"])
    assert cfg.TSM.ENABLE and cfg.TSM.FRACTION == 0.125 and cfg.TSM.PLACEMENT == "residual"
    assert cfg.MODEL.NUM_CLASSES == 174 and cfg.DATA.RANDOM_FLIP and cfg.TSN.ENABLE
    assert cfg.DATA.DIRECTIONAL_FLIP == "skip"
    assert (cfg.SOLVER.MAX_EPOCH, cfg.SOLVER.BASE_LR, cfg.TRAIN.BATCH_SIZE) == (50, 0.01, 32)
    assert cfg.SOLVER.STEPS == [0, 30, 40, 45] and cfg.SOLVER.WARMUP_EPOCHS == 2.0
    assert (cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS) == (1, 1)
    assert cfg.TRAIN.CHECKPOINT_INFLATE and cfg.TRAIN.CHECKPOINT_TYPE == "pytorch"
    assert cfg.DATA.NUM_FRAMES == (16 if "16x1" in path else 8)
    model = gta_slowfast.build_model(cfg)
    shifts = [h for m in model.modules() for h in m._forward_pre_hooks.values()
              if isinstance(h, TemporalShift)]
    assert len(shifts) == 16
    if "GTA" in path:
        assert model.s4.pathway0_nonlocal5.temporal.num_frames == cfg.DATA.NUM_FRAMES
