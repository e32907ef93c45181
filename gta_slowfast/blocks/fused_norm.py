"""
The output path of the attention blocks, Eq. (4): Y = X + BN(z), z = sum_j W_j A_j + b, with the
output projection W_O = [W_1 ... W_J] applied part by part to the attention output A = [A_1; ...;
A_J] (C' channels) and a batch norm over the C output channels, as one product per part.

Training mode (batch statistics) is one autograd function. The statistics of z are those of A
carried through the linear map: mean(z) = W mean(A) + b and var(z)_c = w_c^T Cov(A) w_c, with
Cov(A) the C' x C' covariance of A's channels over the batch and positions. So the forward is
Y = X + (s W) A + (beta - s W mean(A)), s = gamma / sqrt(var(z) + eps) (b cancels in the
normalisation), and z, C channels at full resolution, is never made. The backward of the norm
needs the sums of the incoming gradient G and of G * z_hat per channel; the second is
rowdot(W, G A^T) in terms of the weight gradient's own product G A^T, and the gradient of A is
(s W)^T G minus a C' x C' correction applied to A. For the backward the function keeps A (which
the generic path keeps too), Cov(A) and C-long vectors: nothing of C channels at full resolution,
and nothing is recomputed. It is differentiable once (no double backward or forward-mode AD).

Evaluation mode (running statistics) folds the norm into the product: Y = X + (s W) A + shift.

Precision: var(z) from Cov(A) carries the rounding of Cov(A)'s entries, so in float32 it is less
exact than a batch norm's own two-pass variance where a channel's var(z) is small beside
|w_c|^2 ||Cov(A)|| (W_O's row nearly orthogonal to the directions in which A varies most);
covariance and gradients are computed from the centred A, so a large mean of A costs nothing.
"""

import itertools

import torch
from torch.autograd.function import once_differentiable
from torch.nn.modules import module as nn_module


def fused_norm_applies(norm, x):
    """Whether ``project_norm_residual`` computes Eq. (4) for ``norm`` and input ``x``: a plain
    ``BatchNorm3d`` with affine parameters and running statistics (not a synchronised or
    sub-batch norm, which keep their own statistics), float32 or float64 outside autocast, and
    no forward hook that expects the norm to be called (fvcore's and PySlowFast's precise BN
    statistics count each norm's inputs through one)."""
    hooks = nn_module._global_forward_pre_hooks or nn_module._global_forward_hooks
    return (
        type(norm) is torch.nn.BatchNorm3d
        and norm.affine
        and norm.track_running_stats
        and x.dtype in (torch.float32, torch.float64)
        and not torch.is_autocast_enabled(x.device.type)
        and not (hooks or norm._forward_pre_hooks or norm._forward_hooks)
    )


def project_norm_residual(x, parts, weights, bias, norm):
    """
    Y = X + BN(sum_j W_j A_j + b) (Eq. 4) by ``norm``'s statistics: its batch statistics in
    training mode (updating its running statistics as ``nn.BatchNorm3d`` does), its running
    statistics in evaluation mode.

    Args:
        x (Tensor): the block input X, [N, C, T, H, W], contiguous or channels-last.
        parts (list[Tensor]): A_j, [N, C_j, T, H, W] each, any strides.
        weights (list[Tensor]): W_j, [C, C_j] each.
        bias (Tensor): b, [C].
        norm (nn.BatchNorm3d): the final norm (``fused_norm_applies``).
    Returns:
        Tensor [N, C, T, H, W], stored like ``x``.
    """
    if norm.training:
        return _ProjectNormResidual.apply(x, bias, norm.weight, norm.bias, norm, *parts, *weights)
    scale = norm.weight * torch.rsqrt(norm.running_var + norm.eps)
    shift = norm.bias + scale * (bias - norm.running_mean)
    return _project(x, parts, [w * scale[:, None] for w in weights], shift)


def _matrices(tensors):
    """[N, C_j, T, H, W] tensors as [N, C_j, P] matrices, views where their strides allow."""
    return [t.reshape(t.shape[0], t.shape[1], -1) for t in tensors]


def _stored_transposed(matrix):
    """Whether the [N, R, P] ``matrix`` is stored position-major (channels last)."""
    return matrix.stride(2) != 1


def _product(left, right, transposed, out=None, alpha=1.0):
    """``left`` [R, K] times the batch ``right`` [N, K, P]: [N, R, P], stored [N, P, R] when
    ``transposed``; added (times ``alpha``) to ``out`` in place where given."""
    n = right.shape[0]
    if transposed:
        a, b = right.transpose(1, 2), left.t().expand(n, -1, -1)
        if out is None:
            return torch.bmm(a, b).transpose(1, 2)
        out.transpose(1, 2).baddbmm_(a, b, alpha=alpha)
        return out
    a, b = left.expand(n, -1, -1), right
    if out is None:
        return torch.bmm(a, b)
    return out.baddbmm_(a, b, alpha=alpha)


def _project(x, parts, weights, shift):
    """X + sum_j W_j A_j + shift, stored like ``x``."""
    n, c = x.shape[:2]
    out = x.reshape(n, c, -1) + shift[:, None]  # stored like x
    for weight, matrix in zip(weights, _matrices(parts)):
        _product(weight, matrix, _stored_transposed(out), out=out)
    return out.reshape(x.shape)


def _gram(a, b):
    """sum_n a_n b_n^T of two [N, R, P] batches: [R, R']."""
    return torch.bmm(a, b.transpose(1, 2)).sum(dim=0)


class _ProjectNormResidual(torch.autograd.Function):
    """Y = X + BN(sum_j W_j A_j + b) with batch statistics; see the module docstring."""

    @staticmethod
    def forward(ctx, x, bias, gamma, beta, norm, *parts_and_weights):
        num_parts = len(parts_and_weights) // 2
        parts, weights = parts_and_weights[:num_parts], parts_and_weights[num_parts:]
        matrices = _matrices(parts)
        count = matrices[0].shape[0] * matrices[0].shape[2]
        if count < 2:
            raise ValueError(
                f"{type(norm).__name__}: expected more than 1 value per channel when training, "
                f"got input size {list(x.shape)}")
        means = [a.mean(dim=(0, 2)) for a in matrices]
        centred = [a - m[:, None] for a, m in zip(matrices, means)]
        cov = torch.cat([torch.cat([_gram(a, b) for b in centred], dim=1) for a in centred])
        cov /= count
        del centred
        w = torch.cat(weights, dim=1)
        mean_a = torch.cat(means)
        w_mean = w @ mean_a
        # w_c^T Cov w_c, not below zero where rounding would take it there.
        var = ((w @ cov) * w).sum(dim=1).clamp_min(0)
        invstd = torch.rsqrt(var + norm.eps)
        scale = gamma * invstd
        out = _project(x, parts, [weight * scale[:, None] for weight in weights],
                       beta - scale * w_mean)
        _update_running_statistics(norm, w_mean + bias, var, count)
        ctx.save_for_backward(gamma, invstd, w, mean_a, cov, *matrices)
        ctx.splits = [weight.shape[1] for weight in weights]
        ctx.count = count
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        gamma, invstd, w, mean_a, cov, *matrices = ctx.saved_tensors
        n, c = grad_out.shape[:2]
        count = ctx.count
        g = grad_out.reshape(n, c, -1)
        # In terms of the centred A - mean(A) (whose mean is zero), as the forward's covariance:
        # the sums below then do not lose digits to a large mean.
        centred = [a - m[:, None] for a, m in zip(matrices, mean_a.split(ctx.splits))]
        sum_g = g.sum(dim=(0, 2))
        g_at = torch.cat([_gram(g, a) for a in centred], dim=1)  # sum_n G_n A_n^T, [C, C']
        sum_g_xhat = invstd * (w * g_at).sum(dim=1)
        a = gamma * invstd
        u = a * sum_g / count
        v = a * sum_g_xhat / count
        vr = v * invstd
        grad_w = a[:, None] * g_at - count * vr[:, None] * (w @ cov)
        # dL/dA = (a W)^T G - (W^T diag(v r) W) (A - mean(A)) - W^T u.
        correction = w.t() @ (w * vr[:, None])
        constant = w.t() @ u
        grad_parts = []
        rows = [slice(end - size, end)
                for end, size in zip(itertools.accumulate(ctx.splits), ctx.splits)]
        for matrix, rows_j in zip(matrices, rows):
            transposed = _stored_transposed(matrix)
            grad = _product((w[:, rows_j] * a[:, None]).t(), g, transposed)
            for matrix_k, rows_k in zip(centred, rows):
                _product(correction[rows_j][:, rows_k], matrix_k, transposed, out=grad,
                         alpha=-1.0)
            grad.sub_(constant[rows_j][:, None])
            grad_parts.append(grad.reshape(*matrix.shape[:2], *grad_out.shape[2:]))
        grad_weights = list(grad_w.split(ctx.splits, dim=1))
        return (grad_out, torch.zeros_like(sum_g), sum_g_xhat, sum_g, None, *grad_parts,
                *grad_weights)


@torch.no_grad()
def _update_running_statistics(norm, mean, var, count):
    """The running-statistics update of ``nn.BatchNorm3d`` in training mode, from the batch's
    mean and biased variance over ``count`` values per channel."""
    norm.num_batches_tracked.add_(1)
    if norm.momentum is None:
        momentum = 1.0 / float(norm.num_batches_tracked)
    else:
        momentum = norm.momentum
    norm.running_mean.lerp_(mean.to(norm.running_mean.dtype), momentum)
    unbiased = var * (count / max(count - 1, 1))
    norm.running_var.lerp_(unbiased.to(norm.running_var.dtype), momentum)
