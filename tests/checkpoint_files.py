"""
Checkpoints for the checkpoint tests: small configs (``cfg_of``), models given the BN statistics
of training (``trained``), files in the model zoo's formats (``model_zoo_files``: PyTorch as
PySlowFast's ``save_checkpoint`` writes it, Caffe2 pickles named by PySlowFast's converter's
rules read backwards), and the test-only runs several of them test.
"""

import pickle
import re

import numpy as np
import slowfast.models.optimizer as optim
import slowfast.utils.checkpoint as cu
import torch
import yaml
from conftest import build, clip, small_cfg
from slowfast.utils.c2_model_loading import get_name_convert_func

from gta_slowfast import checkpoint as ck
from gta_slowfast import compat

CROP = 32  # pixels; the tests here are about weights, not resolution


def cfg_of(variant="gta", arch="2d", **kwargs):
    """conftest's small_cfg at CROP pixels."""
    return small_cfg(variant, arch=arch, crop=CROP, **kwargs)



def plain_cfg(arch="2d", **kwargs):
    """cfg_of without blocks: the backbone a model-zoo checkpoint was trained as."""
    cfg = cfg_of("nonlocal", arch=arch, **kwargs)
    paths = len(cfg.DATA.INPUT_CHANNEL_NUM)
    cfg.NONLOCAL.LOCATION = [[[]] * paths] * 4
    return cfg


def nonlocal_cfg(arch="2d"):
    """cfg_of with PySlowFast's stock non-local blocks at the GTA places, on pathway 0 only
    (Caffe2 names exist for the slow pathway's blocks only)."""
    cfg = cfg_of("nonlocal", arch=arch)
    if arch == "slowfast":
        cfg.NONLOCAL.LOCATION = [[[], []], [[1, 3], []], [[1, 3, 5], []], [[], []]]
    return cfg


def trained(model, cfg, seed=5):
    """Gives every BN random affine parameters, as after training (so that every stock
    non-local block, whose final BN scale starts at 0, computes something), and the running
    statistics of a batch of random clips."""
    gen = torch.Generator().manual_seed(seed)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for norm in norms:
            norm.weight.copy_(torch.rand(norm.num_features, generator=gen) * 0.5 + 0.5)
            norm.bias.copy_(torch.randn(norm.num_features, generator=gen) * 0.1)
            norm.reset_running_stats()
            norm.momentum = None  # cumulative average: the statistics of the batch
        model.train()
        model(list(clip(cfg, seed=seed)))
    for norm in norms:
        norm.momentum = 0.1
    return model.eval()


def logits(model, inputs):
    """The head's projection output (before the test-time softmax), in eval mode."""
    out = []
    handle = model.head.projection.register_forward_hook(lambda m, i, o: out.append(o))
    model.eval()
    with torch.no_grad():
        model(list(inputs))
    handle.remove()
    return out[0]


def save_pyslowfast(model, cfg, directory, epoch):
    """A checkpoint as the installed PySlowFast's save_checkpoint writes it (with the epoch,
    optimizer state and config of a training run); returns its path."""
    cfg = cfg.clone()
    cfg.OUTPUT_DIR = str(directory)
    optimizer = optim.construct_optimizer(model, cfg)
    return cu.save_checkpoint(str(directory), model, optimizer, epoch, cfg)


def block_tensors(model):
    return [k for k in model.state_dict() if ck.BLOCK_KEY.match(k)]


def final_norm_scales_of(state):
    """The final BN scale of every residual part of every added block in ``state``."""
    return {k: v for k, v in state.items()
            if re.search(r"_nonlocal\d+\.(spatial|temporal)\.bn\.weight$", k)}


def final_norm_scales(model):
    return final_norm_scales_of(model.state_dict())


BN_C2 = {"weight": "s", "bias": "b", "running_mean": "rm", "running_var": "riv"}
CONV_C2 = {"weight": "w", "bias": "b"}
LAST_BLOCK = {"2": 2, "3": 3, "4": 5}  # ResNet-50: res2_2, res3_3, res4_5 feed the fusions


def _t(pathway):
    return "t_" if pathway == "1" else ""


C2_MODULES = [
    (r"s1\.pathway(\d)_stem\.conv", lambda m: f"{_t(m[1])}conv1", CONV_C2),
    (r"s1\.pathway(\d)_stem\.bn", lambda m: f"{_t(m[1])}res_conv1_bn", BN_C2),
    (r"s(\d)\.pathway(\d)_res(\d+)\.branch2\.([abc])",
     lambda m: f"{_t(m[2])}res{m[1]}_{m[3]}_branch2{m[4]}", CONV_C2),
    (r"s(\d)\.pathway(\d)_res(\d+)\.branch2\.([abc])_bn",
     lambda m: f"{_t(m[2])}res{m[1]}_{m[3]}_branch2{m[4]}_bn", BN_C2),
    (r"s(\d)\.pathway(\d)_res(\d+)\.branch1", lambda m: f"{_t(m[2])}res{m[1]}_{m[3]}_branch1",
     CONV_C2),
    (r"s(\d)\.pathway(\d)_res(\d+)\.branch1_bn",
     lambda m: f"{_t(m[2])}res{m[1]}_{m[3]}_branch1_bn", BN_C2),
    (r"s1_fuse\.conv_f2s", lambda m: "t_pool1_subsample", CONV_C2),
    (r"s1_fuse\.bn", lambda m: "t_pool1_subsample_bn", BN_C2),
    (r"s(\d)_fuse\.conv_f2s", lambda m: f"t_res{m[1]}_{LAST_BLOCK[m[1]]}_branch2c_bn_subsample",
     CONV_C2),
    (r"s(\d)_fuse\.bn", lambda m: f"t_res{m[1]}_{LAST_BLOCK[m[1]]}_branch2c_bn_subsample_bn",
     BN_C2),
    (r"s(\d)\.pathway0_nonlocal(\d+)\.conv_(theta|phi|g|out)",
     lambda m: f"nonlocal_conv{m[1]}_{m[2]}_{m[3]}", CONV_C2),
    (r"s(\d)\.pathway0_nonlocal(\d+)\.bn", lambda m: f"nonlocal_conv{m[1]}_{m[2]}_bn", BN_C2),
    (r"head\.projection", lambda m: "pred", CONV_C2),
]


def caffe2_name(name):
    """The Caffe2 blob name of a PySlowFast tensor: slowfast/utils/c2_model_loading.py's rules,
    read backwards."""
    module, leaf = name.rsplit(".", 1)
    for pattern, base, leaves in C2_MODULES:
        match = re.fullmatch(pattern, module)
        if match:
            return f"{base(match)}_{leaves[leaf]}"
    raise KeyError(f"no Caffe2 name for {name}")


def save_caffe2(model, path, two_d=False):
    """``model`` as a Caffe2 checkpoint ({"blobs": {name: array}}, with the solver blobs a
    Caffe2 checkpoint also holds); ``two_d``: kernels of time size 1 stored 2D, as ImageNet
    models. Checks the names against PySlowFast's converter."""
    convert_name = get_name_convert_func()
    blobs = {}
    for name, tensor in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue  # no Caffe2 counterpart
        blob = caffe2_name(name)
        assert convert_name(blob) == name, (blob, convert_name(blob), name)
        array = tensor.numpy().copy()
        if two_d and array.ndim == 5 and array.shape[2] == 1:
            array = array[:, :, 0]
        blobs[blob] = array
        blobs[blob + "_momentum"] = np.zeros_like(array)
    blobs["lr"] = np.array([0.1], dtype=np.float32)
    blobs["model_iter"] = np.array([1000], dtype=np.int64)
    with open(path, "wb") as f:
        pickle.dump({"blobs": blobs}, f, protocol=2)
    return str(path)


def train_step(model, cfg, inputs):
    """One SGD step (PySlowFast's optimizer and cross-entropy) on ``inputs``."""
    optimizer = optim.construct_optimizer(model, cfg)
    model.train()
    labels = torch.arange(inputs[0].shape[0]) % cfg.MODEL.NUM_CLASSES
    loss = torch.nn.functional.cross_entropy(model(list(inputs)), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def write_config(cfg, path):
    """``cfg`` as a YAML file that load_config reads on either generation."""
    data = yaml.safe_load(cfg.dump())
    if compat.GENERATION == "main":
        data["DATA"].pop("CROP_SIZE")  # set by small_cfg for the snapshot, unknown to main
    path.write_text(yaml.safe_dump(data))
    return str(path)


# The files of model_zoo_files, made once a session (every checkpoint test module shares them).
_MODEL_ZOO = {}


def model_zoo_files(tmp_path_factory):
    """Pretrained-format checkpoints: plain SlowFast and R2D (PyTorch), stock-NL SlowFast and
    R2D (Caffe2 and PyTorch), and the models they hold."""
    if _MODEL_ZOO:
        return _MODEL_ZOO
    root = tmp_path_factory.mktemp("ckpt")
    out = {}
    for arch in ("slowfast", "2d"):
        cfg = plain_cfg(arch)
        model = trained(build(cfg, seed=11), cfg)
        out[f"plain_{arch}"] = (save_pyslowfast(model, cfg, root / f"plain_{arch}", 39), model)
        nl_cfg = nonlocal_cfg(arch)
        nl = trained(build(nl_cfg, seed=12), nl_cfg)
        out[f"c2_{arch}"] = (save_caffe2(nl, root / f"nl_{arch}.pkl"), nl)
    nl = out["c2_2d"][1]
    path = root / "nl_2d.pyth"
    torch.save({"model_state": nl.state_dict()}, path)
    out["nl_2d"] = (str(path), nl)
    _MODEL_ZOO.update(out)
    return _MODEL_ZOO


def without_blocks(nl_model, arch):
    """The stock-NL ``nl_model``'s network with its non-local blocks removed (strict load)."""
    model = build(plain_cfg(arch))
    state = {k: v for k, v in nl_model.state_dict().items() if not ck.BLOCK_KEY.match(k)}
    model.load_state_dict(state, strict=True)
    return model


def cfg_of_a_test_only_run(tmp_path, train_checkpoint):
    """A test-only run (TRAIN.ENABLE False) of the GTA model on the synthetic set (6 classes)
    with no TEST.CHECKPOINT_FILE_PATH and no checkpoint in OUTPUT_DIR: PySlowFast's test then
    loads TRAIN.CHECKPOINT_FILE_PATH."""
    cfg = cfg_of("gta")
    cfg.OUTPUT_DIR = str(tmp_path / "out")
    cfg.TRAIN.DATASET = cfg.TEST.DATASET = "synthetic"
    cfg.MODEL.NUM_CLASSES = 6
    cfg.TRAIN.ENABLE, cfg.TEST.ENABLE = False, True
    cfg.TRAIN.CHECKPOINT_FILE_PATH = str(train_checkpoint)
    return cfg


def seven_class_checkpoint(tmp_path):
    cfg = cfg_of("gta")
    cfg.MODEL.NUM_CLASSES = 7
    path = tmp_path / "seven.pyth"
    torch.save({"model_state": build(cfg, seed=3).state_dict()}, path)
    return path


HEAD_REFUSED = (r"(?s)seven.pyth does not fit the model \(testing and resuming take every "
                r"tensor of the model from it, head included.*head.projection.weight: checkpoint "
                r"\[7, 256\], model \[6, 256\].*head.projection.bias: checkpoint \[7\], "
                r"model \[6\].*MODEL.NUM_CLASSES")
