"""The blocks alone: shapes, identity at init, gradients, bad inputs, precision, recomputation,
the checkpoint layout of GTA's matrices. (Their arithmetic: test_equations.py.)"""

import copy
import math

import pytest
import torch
from fvcore.common.config import CfgNode

from gta_slowfast.blocks import (
    VARIANT_REGISTRY,
    BlockSpec,
    GlobalTemporalAttention,
    SpatialSelfAttention,
    TemporalSelfAttention,
    build_variant,
)
from gta_slowfast.config import add_gta_config

VARIANTS = ["nonlocal", "sa", "ta", "tape", "dnl", "sa_tape", "gta"]


def gta_node(**overrides):
    cfg = CfgNode()
    cfg.NONLOCAL = CfgNode()
    add_gta_config(cfg)
    cfg.GTA.GROUPS = 4
    for key, value in overrides.items():
        setattr(cfg.GTA, key, value)
    return cfg.GTA


def spec(dim=32, frames=4, **overrides):
    return BlockSpec(dim=dim, num_frames=frames, gta_cfg=gta_node(**overrides), pool_size=[1, 2, 2])


def test_registry_has_required_variants():
    names = {name for name, _ in VARIANT_REGISTRY}
    assert set(VARIANTS) <= names


@pytest.mark.parametrize("variant", VARIANTS)
def test_shape_and_identity_at_init(variant):
    torch.manual_seed(0)
    block = build_variant(variant, spec()).train()
    as_built = copy.deepcopy(block)
    x = torch.randn(2, 32, 4, 6, 6)
    y = block(x)
    assert y.shape == x.shape
    if variant == "nonlocal":  # its zero init is applied by PySlowFast's init_weights
        stock_nonlocal_starts_as_pyslowfast_builds_it(as_built, x)
    else:
        assert torch.equal(y, x)


def stock_nonlocal_starts_as_pyslowfast_builds_it(block, x):
    """``block`` (built with seed 0 for 32 channels, pool [1, 2, 2]) is PySlowFast's own
    Nonlocal as a ResStage builds it (structure and hyper-parameters taken from a real
    ResStage), with the weights of PySlowFast's Nonlocal built with the same seed, and starts
    as the identity once PySlowFast's init_weights has run, as in a model."""
    from slowfast.models.nonlocal_helper import Nonlocal
    from slowfast.models.resnet_helper import ResStage
    from slowfast.utils.weight_init_helper import init_weights

    # A one-block res stage of 32 channels with a non-local block after block 0.
    stage = ResStage([32], [32], [1], [[1]], [1], [8], [1], [1], [[0]], [1], [[1, 2, 2]], [1],
                     instantiation="softmax")
    in_stage = stage.pathway0_nonlocal0
    assert type(block) is type(in_stage) is Nonlocal
    assert repr(block) == repr(in_stage)  # modules, widths, pooling, norm eps and momentum
    assert (block.dim_inner, block.instantiation) == (in_stage.dim_inner, in_stage.instantiation)
    assert block.bn.transform_final_bn == in_stage.bn.transform_final_bn
    torch.manual_seed(0)
    reference = Nonlocal(32, 16, [1, 2, 2], instantiation="softmax").train()
    ours, theirs = block.state_dict(), reference.state_dict()
    assert ours.keys() == theirs.keys() == in_stage.state_dict().keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert torch.equal(block(x), reference(x))
    init_weights(block, 0.01, True)
    assert torch.equal(block(x), x)


def test_unknown_variant_lists_known_ones():
    with pytest.raises(KeyError, match=r"NONLOCAL.TYPE='gtaa'.*'dnl'.*'gta'"):
        build_variant("gtaa", spec())


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradient_reaches_every_parameter(variant):
    torch.manual_seed(0)
    block = build_variant(variant, spec(ZERO_INIT_FINAL_NORM=False)).train()
    if variant == "nonlocal":
        torch.nn.init.ones_(block.bn.weight)
    x = torch.randn(2, 32, 4, 6, 6, requires_grad=True)
    block(x).square().mean().backward()
    for name, p in block.named_parameters():
        assert p.grad is not None, name
        if name.endswith("conv_out.bias"):
            # The training-mode batch norm after W_O subtracts the batch mean, bias included:
            # the bias's gradient is zero (up to rounding) while the norm uses batch statistics.
            assert p.grad.abs().max() < 1e-4, name
        else:
            assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("variant", ["gta", "dnl"])
def test_identity_init_still_trains_final_norm(variant):
    """A block that starts as the identity (zero-initialised final norms) leaves it under
    training: a few SGD steps towards a target that is not the input move the final norm
    scales off zero, the block's output away from its input, and the loss down."""
    torch.manual_seed(0)
    block = build_variant(variant, spec()).train()
    x = torch.randn(2, 32, 4, 6, 6)
    target = x + torch.randn_like(x)
    assert torch.equal(block(x), x)
    norms = [block.spatial.bn, block.temporal.bn]
    assert all(torch.count_nonzero(norm.weight) == 0 for norm in norms)
    optimizer = torch.optim.SGD(block.parameters(), lr=0.5)
    losses = []
    for _ in range(5):
        loss = (block(x) - target).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(torch.count_nonzero(norm.weight) == norm.num_features for norm in norms)
    with torch.no_grad():
        moved = (block(x) - x).abs().mean().item()
    assert moved > 1e-2 * x.abs().mean().item()
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("cls,kwargs", [
    (GlobalTemporalAttention, dict(num_frames=4, groups=2)),
    (TemporalSelfAttention, dict(num_frames=4, positional_encoding=True)),
])
def test_clip_length_mismatch_names_block_and_lengths(cls, kwargs):
    block = cls(16, 8, **kwargs)
    block.block_name = "s3.pathway0_nonlocal1.temporal"
    with pytest.raises(ValueError, match=r"s3.pathway0_nonlocal1.temporal.*T=4.*T=6"):
        block(torch.randn(1, 16, 6, 3, 3))


def test_plain_attention_accepts_any_clip_length():
    block = TemporalSelfAttention(16, 8)
    assert block(torch.randn(1, 16, 5, 3, 3)).shape == (1, 16, 5, 3, 3)
    block = SpatialSelfAttention(16, 8)
    assert block(torch.randn(1, 16, 7, 4, 4)).shape == (1, 16, 7, 4, 4)


def test_wrong_channel_count_is_named():
    block = SpatialSelfAttention(16, 8)
    with pytest.raises(
        ValueError, match=r"SpatialSelfAttention.*\[N, 16, T, H, W\].*\[1, 12, 2, 4, 4\]"
    ):
        block(torch.randn(1, 12, 2, 4, 4))


@pytest.mark.parametrize("overrides,message", [
    (dict(GROUPS=3), r"GTA.GROUPS=3 .* divide the inner channel count 8"),
    (dict(PIXEL=False, REGION=False), r"GTA.PIXEL and GTA.REGION are both False"),
    (dict(NUM_REGIONS=0), r"GTA.NUM_REGIONS must be >= 1, got 0"),
    (dict(INNER_REDUCTION=5), r"GTA.INNER_REDUCTION=5 .* 32 channels"),
])
def test_bad_gta_keys_raise_named_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        build_variant("gta", spec(**overrides))


def test_gta_ablation_switches():
    pixel_only = build_variant("gta", spec(REGION=False))
    assert hasattr(pixel_only.temporal, "pixel_attention")
    assert not hasattr(pixel_only.temporal, "region_attention")
    region_only = build_variant("gta", spec(PIXEL=False, SPATIAL=False))
    assert region_only.spatial is None
    assert not hasattr(region_only.temporal, "pixel_attention")
    no_ccmh = build_variant("gta", spec(GROUPS=1))
    assert no_ccmh.temporal.pixel_attention.shape == (1, 4, 4)
    gta = build_variant("gta", spec()).temporal
    assert gta.pixel_attention.shape == (16, 4, 4)  # G*G matrices, index head * G + group
    assert torch.equal(gta.head_matrices("pixel")[2, 3], gta.pixel_attention[2 * 4 + 3])


def test_tape_encoding_is_built_in_the_input_dtype():
    """A float64 TAPE model encodes frame positions in float64 (not float32 then cast)."""
    from gta_slowfast.blocks.temporal import sinusoidal_encoding

    enc = sinusoidal_encoding(6, 8, torch.float64)[0, :, :, 0, 0]
    assert enc.dtype == torch.float64
    # float64 rounding (a float32 encoding would be off by about 1e-8)
    assert abs(enc[2, 5].item() - math.sin(5 / 10000 ** (2 / 8))) < 1e-15
    assert abs(enc[3, 5].item() - math.cos(5 / 10000 ** (2 / 8))) < 1e-15


@pytest.mark.parametrize("variant,groups", [("tape", 2), ("sa_tape", 4), ("dnl", 2)])
def test_temporal_self_attention_builds_with_ccmh(variant, groups):
    """Table 7's "TAPE w/ CCMH" cells: GTA.SELF_ATTENTION_GROUPS reaches the block (its
    arithmetic is checked in test_equations.py); a count that does not divide is named."""
    block = build_variant(variant, spec(SELF_ATTENTION_GROUPS=groups))
    assert block.temporal.groups == groups
    with pytest.raises(ValueError, match=r"GTA.SELF_ATTENTION_GROUPS=3 .* divide .* 8"):
        build_variant(variant, spec(SELF_ATTENTION_GROUPS=3))


def test_final_norm_statistics_are_updated_once_per_training_step():
    """The backward (and the recomputation of GTA.ACTIVATION_CHECKPOINT, of the generic path)
    must not update the running statistics again: a forward+backward leaves them as a forward
    alone does."""
    torch.manual_seed(0)
    block = build_variant("gta", spec(ZERO_INIT_FINAL_NORM=False)).train()
    x = torch.randn(2, 32, 4, 6, 6, requires_grad=True)
    forward_only = copy.deepcopy(block)
    with torch.no_grad():
        forward_only(x)
    block(x).sum().backward()
    for (name, a), (_, b) in zip(block.named_buffers(), forward_only.named_buffers()):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("cls,kwargs", [
    (GlobalTemporalAttention, dict(num_frames=4, groups=2, num_regions=3)),
    (GlobalTemporalAttention, dict(num_frames=4, groups=2, pixel=False)),
    (SpatialSelfAttention, {}),
    (TemporalSelfAttention, dict(num_frames=4, positional_encoding=True)),
])
@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("channels_last", [False, True])
def test_output_norm_keeps_statistics_and_evaluates_as_batchnorm3d(cls, kwargs, momentum,
                                                                    channels_last):
    """Eq. (4)'s norm is computed from the statistics of the attention output carried through
    W_O; torch's own BatchNorm3d on W_O A + b must give the same running statistics after
    training steps, and the same evaluation output from them."""
    torch.manual_seed(0)
    part = cls(32, 16, zero_init_final_norm=False, **kwargs).double()
    part.bn.momentum = momentum
    torch.nn.init.uniform_(part.bn.weight, 0.5, 1.5)
    reference = copy.deepcopy(part.bn)

    def projected(x):
        parts = part.attend(x)
        return sum(torch.nn.functional.conv3d(a, w) for a, w in
                   zip(parts, part.output_weights(parts))) + part.conv_out.bias[:, None, None, None]

    memory = torch.channels_last_3d if channels_last else torch.contiguous_format
    for step in range(3):
        x = (torch.randn(2, 32, 4, 6, 6, dtype=torch.float64) + step).contiguous(
            memory_format=memory)
        part.train()(x)
        with torch.no_grad():
            reference.train()(projected(x))
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(part.bn, name), getattr(reference, name),
                                   rtol=1e-12, atol=1e-12, msg=name)
    with torch.no_grad():
        got = part.eval()(x)
        want = x + reference.eval()(projected(x))
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert got.is_contiguous(memory_format=memory)


def test_one_value_per_channel_in_training_is_refused_as_batchnorm3d_does():
    part = TemporalSelfAttention(32, 16, zero_init_final_norm=False).train()
    with pytest.raises(ValueError, match=r"expected more than 1 value per channel when training, "
                                         r"got input size \[1, 32, 1, 1, 1\]"):
        part(torch.randn(1, 32, 1, 1, 1))


def test_precise_bn_statistics_reach_the_blocks_norms():
    """fvcore's (and PySlowFast's) precise BN counts every norm's inputs through a forward hook:
    the blocks' final norms must be called then, and end with the statistics precise BN gives
    torch's own BatchNorm3d fed with the same inputs W_O A + b."""
    from fvcore.nn.precise_bn import update_bn_stats

    torch.manual_seed(0)
    part = SpatialSelfAttention(32, 16, zero_init_final_norm=False).double().train()
    batches = [torch.randn(2, 32, 4, 6, 6, dtype=torch.float64) + i for i in range(3)]

    class Reference(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = copy.deepcopy(part.bn)

        def forward(self, x):
            with torch.no_grad():
                parts = part.attend(x)
                z = sum(torch.nn.functional.conv3d(a, w) for a, w in
                        zip(parts, part.output_weights(parts)))
            return self.bn(z + part.conv_out.bias[:, None, None, None])

    reference = Reference().train()
    update_bn_stats(reference, batches, len(batches))
    update_bn_stats(part, batches, len(batches))
    assert reference.bn.running_var.abs().min() > 0.1  # not the estimator's initial zeros
    torch.testing.assert_close(part.bn.running_mean, reference.bn.running_mean,
                               rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(part.bn.running_var, reference.bn.running_var,
                               rtol=1e-10, atol=1e-10)


def test_output_norm_gradients_keep_their_digits_with_a_large_mean():
    """float32 gradients of Eq. (4)'s norm against float64, where the attention output's mean
    is a hundred times its spread: as close as torch's own batch norm gets (within 3x)."""
    torch.manual_seed(0)
    part = SpatialSelfAttention(64, 32, zero_init_final_norm=False)
    torch.nn.init.uniform_(part.bn.weight, 0.5, 1.5)
    a = torch.randn(2, 32, 4, 6, 6, dtype=torch.float64) * 0.1 + 10.0
    x = torch.randn(2, 64, 4, 6, 6, dtype=torch.float64)
    weights = [part.conv_out.weight.detach().reshape(64, 32).double()]

    def grads(dtype, fused):
        norm = copy.deepcopy(part.bn).to(dtype)
        w = [weight.to(dtype).detach().requires_grad_() for weight in weights]
        ai = a.to(dtype).detach().requires_grad_()
        bias = part.conv_out.bias.detach().to(dtype)
        if fused:
            from gta_slowfast.blocks.fused_norm import project_norm_residual
            y = project_norm_residual(x.to(dtype), [ai], w, bias, norm)
        else:
            z = torch.einsum("oc,nc...->no...", w[0], ai) + bias[:, None, None, None]
            y = x.to(dtype) + norm(z)
        y.mul(torch.linspace(-1, 1, y.numel(), dtype=dtype).reshape(y.shape)).sum().backward()
        return [ai.grad.double(), w[0].grad.double(), norm.weight.grad.double()]

    want = grads(torch.float64, False)
    for got, torch_bn, exact in zip(grads(torch.float32, True), grads(torch.float32, False), want):
        scale = exact.abs().max()
        assert (got - exact).abs().max() / scale <= 3 * (torch_bn - exact).abs().max() / scale


@pytest.mark.parametrize("variant", ["gta", "dnl", "sa_tape"])
def test_activation_checkpoint_gives_identical_results(variant):
    """GTA.ACTIVATION_CHECKPOINT: the same outputs, gradients and running statistics."""
    torch.manual_seed(0)
    plain = build_variant(variant, spec(ZERO_INIT_FINAL_NORM=False)).double().train()
    checkpointed = copy.deepcopy(plain)
    checkpointed.activation_checkpoint = True
    assert build_variant(variant, spec(ACTIVATION_CHECKPOINT=True)).activation_checkpoint
    x = torch.randn(2, 32, 4, 6, 6, dtype=torch.float64)
    results = []
    for block in (plain, checkpointed):
        xi = x.clone().requires_grad_()
        y = block(xi)
        (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape)).sum().backward()
        results.append((y.detach(), xi.grad, {n: p.grad for n, p in block.named_parameters()},
                        dict(block.named_buffers())))
    (y0, dx0, g0, b0), (y1, dx1, g1, b1) = results
    assert torch.equal(y0, y1) and torch.equal(dx0, dx1)
    for name in g0:
        assert torch.equal(g0[name], g1[name]), name
    for name in b0:
        assert torch.equal(b0[name], b1[name]), name


def test_gta_matrices_of_the_earlier_checkpoint_layout_load():
    """Checkpoints that store GTA's matrices as [G, G, T, T] load into the [G*G, T, T]
    parameters, matrix for matrix."""
    torch.manual_seed(0)
    block = build_variant("gta", spec())
    state = block.state_dict()
    old = {k: v.reshape(4, 4, 4, 4) if k.endswith("_attention") else v for k, v in state.items()}
    fresh = build_variant("gta", spec())
    fresh.load_state_dict(old)
    for name, value in fresh.state_dict().items():
        assert torch.equal(value, state[name]), name


def test_gta_model_converts_to_channels_last_and_computes_the_same():
    """model.to(memory_format=torch.channels_last_3d) works for a whole R2D + GTA model, whose
    logits then equal the contiguous model's."""
    from conftest import build, clip, run, small_cfg

    cfg = small_cfg("gta", identity_init=False)
    model = build(cfg).double().eval()
    x = [t.double() for t in clip(cfg)]
    with torch.no_grad():
        want = run(model, x)
        model.to(memory_format=torch.channels_last_3d)
        got = run(model, [t.contiguous(memory_format=torch.channels_last_3d) for t in x])
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
