"""
Building pieces shared by the attention blocks: projections, attention, the residual base.

The blocks do arithmetic and keep for the backward only what it needs. Projections read the block
input where it is (no channels-last copy of it is made and kept), and the projections that read
the same input are one product (their weights stacked). Attention runs through PyTorch's fused
kernel (``scaled_dot_product_attention``: no attention map is kept), max-pooled keys and values
keep their argmax, not the map they were pooled from. The output path, Eq. (4)'s
X + BN(A W_O), is one product per part in training and in evaluation (``fused_norm``): nothing of
C channels at full resolution is kept for the backward or recomputed in it. Where that path does
not apply (``fused_norm_applies``: autocast or half precision, a synchronised, sub-batch or hooked
norm such as precise BN's; and tracing, ``torch.compile``), the final
norm's input is recomputed in the backward from the attention output (C' channels) by one 1x1
convolution rather than kept. While a module is traced (fvcore's FLOP count, ``torch.jit.trace``),
attention is written out as the two matmuls and the softmax it computes, so that every
multiply-add is counted.
"""

import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F
from fvcore.nn.weight_init import c2_msra_fill
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint

from .fused_norm import fused_norm_applies, project_norm_residual


def projection(dim_in, dim_out):
    """A 1x1x1 convolution, the linear map W of Eq. (1) applied at every position."""
    conv = nn.Conv3d(dim_in, dim_out, kernel_size=1, stride=1, padding=0)
    c2_msra_fill(conv)
    return conv


def project_channels_last(x, weight, bias=None):
    """
    The 1x1x1 convolution of ``weight`` ([C_out, C] or a conv's [C_out, C, 1, 1, 1]) and
    ``bias`` applied to ``x`` [N, C, T, H, W], returned as [N, T, H*W, C_out] (channels last), as
    one batched matrix product over a transposed view of ``x``: ``x`` itself is what the
    backward keeps, not a reordered copy of it.
    """
    n, c, t, h, w = x.shape
    weight = weight.reshape(-1, c)
    # flatten(2) is a view of x stored either way; so is its transpose, which bmm reads as is.
    out = torch.bmm(x.flatten(2).transpose(1, 2), weight.t().expand(n, c, -1))
    if bias is not None:
        out = out + bias
    return out.reshape(n, t, h * w, weight.shape[0])


def project_stacked(x, convs):
    """
    The 1x1x1 convolutions ``convs`` of ``x`` [N, C, T, H, W] as one product (their weights
    stacked): [N, T, H*W, sum of their output channels], channels last, in the order of
    ``convs``. One read of ``x`` instead of one per convolution, and in the backward one product
    for the gradient of ``x`` instead of one each and their sum.
    """
    weight = torch.cat([conv.weight.reshape(conv.weight.shape[0], -1) for conv in convs])
    return project_channels_last(x, weight, torch.cat([conv.bias for conv in convs]))


def attention(q, k, v, scale):
    """
    softmax(q k^T * scale) v over the last two dims of [B, H, L, E] queries and [B, H, S, E]
    keys and values (any strides with E contiguous). Runs PyTorch's fused kernel (flash /
    memory-efficient on GPU, the fused CPU kernel), which keeps no attention map for the
    backward; written out while tracing, so that fvcore counts both products.
    """
    if torch.jit.is_tracing():
        return attention_softmax((q * scale) @ k.transpose(-2, -1)) @ v
    return F.scaled_dot_product_attention(q, k, v, scale=scale)


def attention_softmax(logits, dim=-1):
    """Softmax over ``dim``, computed in at least float32 precision (AMP safety)."""
    if logits.dtype in (torch.float16, torch.bfloat16):
        return torch.softmax(logits.float(), dim=dim).to(logits.dtype)
    return torch.softmax(logits, dim=dim)


def window_max(x, window):
    """
    Max-pools [N, T, H, W, C] (channels last) over non-overlapping ``window`` (h, w) windows,
    dropping the rows and columns that do not fill one (as ``nn.MaxPool3d`` does), into
    [N, T, H/h * W/w, C]. The backward keeps the argmax of each window, not ``x``.
    """
    n, t, h, w, c = x.shape
    ph, pw = window
    oh, ow = h // ph, w // pw
    x = x[:, :, : oh * ph, : ow * pw]
    # Channels stay innermost: the copy moves rows of C values, the max runs across them.
    windows = x.reshape(n, t, oh, ph, ow, pw, c).permute(0, 1, 2, 4, 3, 5, 6)
    return windows.reshape(n, t, oh * ow, ph * pw, c).max(dim=3).values


def recomputed(function, *inputs, modules):
    """
    ``function(*inputs)``, keeping for the backward only ``inputs`` and recomputing the rest
    there (``torch.utils.checkpoint``, non-reentrant); the batch norms of ``modules`` do not
    update their running statistics a second time when recomputed. Runs plainly without
    gradients and while tracing.
    """
    if not torch.is_grad_enabled() or torch.jit.is_tracing():
        return function(*inputs)
    if torch.compiler.is_compiling():
        return checkpoint(function, *inputs, use_reentrant=False)
    return checkpoint(
        function,
        *inputs,
        use_reentrant=False,
        context_fn=lambda: (contextlib.nullcontext(), frozen_norm_statistics(modules)),
    )


@contextlib.contextmanager
def frozen_norm_statistics(module):
    """Batch norms of ``module`` normalise as they do, but leave their running statistics (and
    batch count) as they are: for recomputing a forward that already updated them."""
    norms = [m for m in module.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    saved = [(m.momentum, m.num_batches_tracked.clone()) for m in norms]
    for norm in norms:
        norm.momentum = 0.0
    try:
        yield
    finally:
        for norm, (momentum, count) in zip(norms, saved):
            norm.momentum = momentum
            norm.num_batches_tracked.copy_(count)


class ResidualAttention(nn.Module):
    """
    Residual wrapper of Eq. (4), Y = X + Norm(A W_O): subclasses compute the attention output A
    (``attend``) as a list of parts whose channels, in order, are the input channels of the
    output projection W_O; this class applies W_O (one product per part, summed: the same as W_O
    on their concatenation, without making it), the final norm and the residual sum. The output
    is stored like the input (contiguous or channels-last).

    With ``zero_init_final_norm`` the final norm's scale starts at zero, so a freshly inserted block
    is the identity, as PySlowFast's ``Nonlocal`` does; inserting it into a pretrained network then
    leaves the network's output unchanged until fine-tuning moves the scale.

    Blocks whose parameters depend on the clip length (``num_frames`` not None) check the temporal
    size of every input and name themselves (``block_name``) in the error.
    """

    def __init__(
        self,
        dim,
        out_inner,
        num_frames=None,
        norm_module=nn.BatchNorm3d,
        zero_init_final_norm=True,
        norm_eps=1e-5,
        norm_momentum=0.1,
    ):
        super().__init__()
        self.dim = dim
        self.num_frames = num_frames
        self.block_name = type(self).__name__
        self.conv_out = projection(out_inner, dim)
        self.bn = norm_module(num_features=dim, eps=norm_eps, momentum=norm_momentum)
        # Read by PySlowFast's init_weights, should it be run again over the model.
        self.bn.transform_final_bn = zero_init_final_norm
        if zero_init_final_norm:
            nn.init.zeros_(self.bn.weight)

    def attend(self, x):
        """The attention output A of ``x``: a list of [N, C_j, T, H, W] tensors (any strides)."""
        raise NotImplementedError

    def output_weights(self, parts):
        """The columns of W_O that apply to each part of ``attend``'s output, in order."""
        return self.conv_out.weight.split([part.shape[1] for part in parts], dim=1)

    def _normalized_projection(self, *parts):
        """Norm(A W_O), W_O applied part by part."""
        projected = None
        for part, weight in zip(parts, self.output_weights(parts)):
            y = F.conv3d(part, weight)
            projected = y if projected is None else projected + y
        return self.bn(projected + self.conv_out.bias.reshape(-1, 1, 1, 1))

    def forward(self, x):
        if x.dim() != 5 or x.shape[1] != self.dim:
            raise ValueError(
                f"{self.block_name}: expected a tensor [N, {self.dim}, T, H, W], "
                f"got shape {list(x.shape)}"
            )
        if self.num_frames is not None and x.shape[2] != self.num_frames:
            raise ValueError(
                f"{self.block_name}: built for clips of T={self.num_frames} frames at this "
                f"stage, got a tensor with T={x.shape[2]} (shape {list(x.shape)}); "
                f"the block's temporal parameters are tied to the clip length in the config "
                f"(DATA.NUM_FRAMES, SLOWFAST.ALPHA, the arch's temporal pooling)"
            )
        fmt = memory_format(x)
        x = x.contiguous(memory_format=fmt)
        parts = self.attend(x)
        if fused_norm_applies(self.bn, x) and not (
            torch.jit.is_tracing() or torch.compiler.is_compiling()
        ):
            weights = [w.reshape(w.shape[0], -1) for w in self.output_weights(parts)]
            return project_norm_residual(x, parts, weights, self.conv_out.bias, self.bn)
        normalized = recomputed(self._normalized_projection, *parts, modules=self.bn)
        return (x + normalized).contiguous(memory_format=fmt)


def memory_format(x):
    """``torch.channels_last_3d`` if the 5-d ``x`` is stored channels-last, else contiguous."""
    if x.is_contiguous(memory_format=torch.channels_last_3d) and not x.is_contiguous():
        return torch.channels_last_3d
    return torch.contiguous_format
