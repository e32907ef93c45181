"""
Whole R2D + GTA models under the ways users run them besides eager float32: torch.compile,
torch.jit.trace, bfloat16 autocast on the CPU, float16 autocast with a gradient scaler on CUDA
(PySlowFast's TRAIN.MIXED_PRECISION). ``torch.jit.script`` is not supported (TOOLS.md).
"""

import copy

import pytest
import torch
from conftest import build, clip, run, small_cfg

from gta_slowfast.blocks import BlockSpec, build_variant


def training_step(model, inputs, forward=None):
    """Logits, parameter gradients and buffers of ``model`` after one forward+backward (through
    ``forward``, e.g. its compiled form, if given)."""
    model.zero_grad(set_to_none=True)
    logits = (model if forward is None else forward)(list(inputs))
    (logits * torch.linspace(-1, 1, logits.numel(), dtype=logits.dtype).reshape(
        logits.shape)).sum().backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    return logits.detach(), grads, {name: b.clone() for name, b in model.named_buffers()}


def tiny(variant="gta", **gta):
    cfg = small_cfg(variant, frames=4, crop=32, width=4, identity_init=False)
    for key, value in gta.items():
        setattr(cfg.GTA, key, value)
    return cfg


@pytest.mark.parametrize("activation_checkpoint", [False, True])
def test_torch_compile_of_a_whole_model_matches_eager(activation_checkpoint):
    """Dynamo captures the whole model, recomputation included, and AOTAutograd derives the
    same training step (float64: outputs, every gradient, the norms' running statistics).
    (The "aot_eager" backend keeps the test fast; inductor adds code generation only.)"""
    torch._dynamo.reset()
    cfg = tiny(ACTIVATION_CHECKPOINT=activation_checkpoint)
    model = build(cfg).double().train()
    eager = copy.deepcopy(model)
    inputs = [x.double() for x in clip(cfg)]
    compiled = torch.compile(model, backend="aot_eager", fullgraph=False)
    got = training_step(model, inputs, compiled)
    want = training_step(eager, inputs)
    torch.testing.assert_close(got[0], want[0], rtol=1e-10, atol=1e-10)
    for name in want[1]:
        torch.testing.assert_close(got[1][name], want[1][name], rtol=1e-9, atol=1e-10,
                                   msg=lambda m: f"{name}: {m}")
    for name in want[2]:
        torch.testing.assert_close(got[2][name], want[2][name], msg=lambda m: f"{name}: {m}")


def test_traced_model_matches_eager():
    cfg = tiny()
    model = build(cfg).double().eval()
    inputs = [x.double() for x in clip(cfg)]
    with torch.no_grad():
        traced = torch.jit.trace(model, (list(inputs),), check_trace=False)
        torch.testing.assert_close(traced(list(inputs)), run(model, inputs),
                                   rtol=1e-10, atol=1e-10)


def relative_error(got, want):
    return ((got.float() - want).norm() / want.norm()).item()


@pytest.mark.parametrize("variant", ["gta", "dnl"])
def test_bfloat16_autocast_training_step(variant):
    """CPU bfloat16 autocast: a whole model's training step gives finite logits and gradients,
    and each block's output stays near its float32 output (attention softmaxes, the region
    means and the norms run in float32)."""
    cfg = tiny(variant)
    model = build(cfg).train()
    inputs = clip(cfg)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, grads, _ = training_step(model, inputs)
    assert torch.isfinite(logits).all()
    assert all(torch.isfinite(g).all() for g in grads.values())
    torch.manual_seed(0)
    spec = BlockSpec(dim=64, num_frames=8, gta_cfg=cfg.GTA, pool_size=[1, 2, 2])
    block = build_variant(variant, spec).train()
    x = torch.randn(2, 64, 8, 14, 14)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = block(x)
    # bfloat16 keeps under 3 significant digits, compounded over the block's products.
    assert relative_error(got, block(x)) < 0.05


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("variant", ["gta", "dnl"])
def test_float16_autocast_with_grad_scaler_on_cuda(variant):
    """PySlowFast's TRAIN.MIXED_PRECISION (float16 autocast, GradScaler) on a GPU: finite,
    near float32, and an optimiser step happens (no inf/NaN gradient)."""
    cfg = small_cfg(variant, frames=8, crop=112, width=8, identity_init=False)
    model = build(cfg).cuda().train()
    reference = copy.deepcopy(model)
    inputs = [x.cuda() for x in clip(cfg)]
    scaler = torch.cuda.amp.GradScaler()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    with torch.autocast("cuda", dtype=torch.float16):
        logits = model(list(inputs))
    scaler.scale(logits.float().square().mean()).backward()
    scaler.step(optimizer)
    scaler.update()
    assert scaler.get_scale() == 2.0**16  # no inf/NaN gradient made the scaler back off
    assert torch.isfinite(logits).all()
    with torch.no_grad():
        want = reference(list(inputs))
    assert relative_error(logits, want) < 0.05
