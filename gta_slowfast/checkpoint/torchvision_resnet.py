"""
The name map of torchvision's ImageNet ResNet-50 onto PySlowFast's R2D-50 (MODEL.ARCH 2d):
which torchvision tensor becomes which PySlowFast tensor, of which shape
(``torchvision_resnet50_layout``), and the conversion of a state dict by it
(``convert_torchvision_resnet50``), 2D kernels given a time axis of size 1. The
``convert torchvision`` command writes the result as a PySlowFast checkpoint.
"""

from collections import OrderedDict

import torch

# Blocks per stage of ResNet-50 (torchvision layer1..layer4 = PySlowFast res2..res5).
RESNET50_BLOCKS = (3, 4, 6, 3)
BN_TENSORS = ("weight", "bias", "running_mean", "running_var")
# torchvision's ImageNet classifier, dropped: the video head starts from PySlowFast's init.
CLASSIFIER_PREFIX = "fc."


def torchvision_resnet50_layout():
    """
    (torchvision name, PySlowFast name, shape, required) of every tensor of torchvision's
    ResNet-50 but its classifier, in torchvision's order. ``num_batches_tracked`` is optional
    (checkpoints saved before PyTorch 0.4.1 lack it).
    """
    rows = []

    def conv(src, dst, shape):
        rows.append((f"{src}.weight", f"{dst}.weight", shape, True))

    def bn(src, dst, channels):
        rows.extend((f"{src}.{t}", f"{dst}.{t}", (channels,), True) for t in BN_TENSORS)
        rows.append((f"{src}.num_batches_tracked", f"{dst}.num_batches_tracked", (), False))

    conv("conv1", "s1.pathway0_stem.conv", (64, 3, 7, 7))
    bn("bn1", "s1.pathway0_stem.bn", 64)
    dim_in = 64
    for stage, num_blocks in enumerate(RESNET50_BLOCKS):
        width = 64 * 2**stage
        dim_out = 4 * width
        for index in range(num_blocks):
            src, dst = f"layer{stage + 1}.{index}", f"s{stage + 2}.pathway0_res{index}"
            # Stride on the 3x3 convolution "b" (torchvision v1.5; PySlowFast STRIDE_1X1 False).
            convs = (("a", dim_in, width, 1), ("b", width, width, 3), ("c", width, dim_out, 1))
            for i, (name, c_in, c_out, k) in enumerate(convs, start=1):
                conv(f"{src}.conv{i}", f"{dst}.branch2.{name}", (c_out, c_in, k, k))
                bn(f"{src}.bn{i}", f"{dst}.branch2.{name}_bn", c_out)
            if index == 0:
                conv(f"{src}.downsample.0", f"{dst}.branch1", (dim_out, dim_in, 1, 1))
                bn(f"{src}.downsample.1", f"{dst}.branch1_bn", dim_out)
            dim_in = dim_out
    return rows


def unwrap_state_dict(obj, path="state dict"):
    """The state dict in a loaded checkpoint ``obj``: bare or under "state_dict" / "model"."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
        if obj and all(k.startswith("module.") for k in obj):
            obj = OrderedDict((k[len("module.") :], v) for k, v in obj.items())
        return obj
    raise ValueError(f"{path}: expected a state dict (a dict of tensors), got {type(obj).__name__}")


def shape_of(tensor):
    """A tensor's shape as a list, or the type of what is not a tensor, for messages."""
    return list(tensor.shape) if torch.is_tensor(tensor) else type(tensor).__name__


def convert_torchvision_resnet50(state_dict, source="state dict"):
    """
    Maps a torchvision ResNet-50 ``state_dict`` to PySlowFast's R2D-50 names and shapes.

    Args:
        state_dict (dict): torchvision's ``resnet50().state_dict()`` (``unwrap_state_dict``).
        source (str): where it comes from, for messages.
    Returns:
        tuple: (converted state dict, names of the dropped classifier tensors).
    Raises:
        ValueError: a state dict of another depth or layout, naming the first missing,
            misshapen or unexpected tensor.
    """
    converted = OrderedDict()
    used = set()
    for src, dst, shape, required in torchvision_resnet50_layout():
        if src not in state_dict:
            if required:
                raise ValueError(
                    f"{source}: not a torchvision ResNet-50: missing tensor {src!r} "
                    f"(expected shape {list(shape)})"
                )
            continue
        tensor = state_dict[src]
        if not torch.is_tensor(tensor) or tuple(tensor.shape) != shape:
            raise ValueError(
                f"{source}: not a torchvision ResNet-50: tensor {src!r} has shape "
                f"{shape_of(tensor)}, expected {list(shape)}"
            )
        converted[dst] = tensor.unsqueeze(2) if tensor.dim() == 4 else tensor
        used.add(src)
    rest = [k for k in state_dict if k not in used]
    unexpected = [k for k in rest if not k.startswith(CLASSIFIER_PREFIX)]
    if unexpected:
        first = unexpected[0]
        raise ValueError(
            f"{source}: not a torchvision ResNet-50: unexpected tensor {first!r} (shape "
            f"{shape_of(state_dict[first])}; {len(unexpected)} unexpected in all), another depth "
            f"or layout?"
        )
    return converted, rest
