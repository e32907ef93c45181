"""Building pieces shared by the attention blocks: projections and the residual base."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from fvcore.nn.weight_init import c2_msra_fill


def projection(dim_in, dim_out):
    """A 1x1x1 convolution, the linear map W of Eq. (1) applied at every position."""
    conv = nn.Conv3d(dim_in, dim_out, kernel_size=1, stride=1, padding=0)
    c2_msra_fill(conv)
    return conv


def memory_format(x):
    """``torch.channels_last_3d`` if the 5-d ``x`` is stored channels-last, else contiguous."""
    if x.is_contiguous(memory_format=torch.channels_last_3d) and not x.is_contiguous():
        return torch.channels_last_3d
    return torch.contiguous_format


def fused_projection(x, convs):
    """
    The 1x1x1 convolutions ``convs`` applied to ``x`` as one convolution, their outputs
    concatenated along channels in order. One product reads ``x`` once and, in the backward, gives
    one input gradient instead of one per projection; the modules keep their own parameters.
    """
    if len(convs) == 1:
        return convs[0](x)
    weight = torch.cat([conv.weight for conv in convs])
    bias = torch.cat([conv.bias for conv in convs])
    return F.conv3d(x, weight, bias)


class ResidualAttention(nn.Module):
    """
    Residual wrapper of Eq. (4), Y = X + Norm(A W_O): subclasses compute the attention output A
    (``attend``, returning ``[N, out_inner, T, H, W]``); this class applies the output projection
    W_O, the final norm and the residual sum.

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
        raise NotImplementedError

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
        # attend may return any strides; the output projection, the norm and the residual sum
        # run in the memory format of x, so the network around the block is unaffected.
        attended = self.attend(x).contiguous(memory_format=memory_format(x))
        return x + self.bn(self.conv_out(attended))


def attention_softmax(logits, dim=-1):
    """Softmax over ``dim``, computed in at least float32 precision (AMP safety)."""
    if logits.dtype in (torch.float16, torch.bfloat16):
        return torch.softmax(logits.float(), dim=dim).to(logits.dtype)
    return torch.softmax(logits, dim=dim)
