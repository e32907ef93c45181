"""Config keys of gta_slowfast, added to PySlowFast's yacs config."""

from fvcore.common.config import CfgNode


def add_gta_config(cfg):
    """
    Adds the keys of gta_slowfast to a PySlowFast config ``cfg`` in place and returns it.

    ``NONLOCAL.TYPE`` chooses the block PySlowFast's builders place wherever
    ``NONLOCAL.LOCATION`` puts a non-local block; its default keeps stock behaviour. The ``GTA``
    node holds the knobs of the blocks this package adds. Calling it twice is harmless.
    """
    # Block placed at every NONLOCAL.LOCATION, a name of gta_slowfast.VARIANT_REGISTRY:
    # "nonlocal" (PySlowFast's own Nonlocal, the default), "gta" (spatial self-attention + Global
    # Temporal Attention), "dnl" (spatial + temporal self-attention), "sa", "ta", "tape",
    # "sa_tape" (the ablations of the paper's Table 2b / 7).
    if "TYPE" not in cfg.NONLOCAL:
        cfg.NONLOCAL.TYPE = "nonlocal"
    if "GTA" in cfg:
        return cfg
    cfg.GTA = CfgNode()

    # Inner channels of every attention = block channels // INNER_REDUCTION (all variants but
    # "nonlocal", which keeps PySlowFast's channels // 2).
    cfg.GTA.INNER_REDUCTION = 4

    # Spatial max-pool kernel [h, w] applied to keys and values of the spatial self-attention,
    # after their projection; [1, 1] disables it.
    cfg.GTA.SPATIAL_POOL = [2, 2]

    # "gta" variant: spatial self-attention before GTA (False gives Pixel/Region GTA alone,
    # Table 7).
    cfg.GTA.SPATIAL = True

    # "gta" variant: use Pixel GTA (a T x T attention over time at every pixel).
    cfg.GTA.PIXEL = True

    # "gta" variant: use Region GTA (a T x T attention over time on learned regions).
    cfg.GTA.REGION = True

    # "gta" variant: number of regions R that Region GTA assigns each frame's pixels to.
    cfg.GTA.NUM_REGIONS = 8

    # "gta" variant: group count G of the cross-channel multi-head attention (N_h = G heads);
    # 1 disables CCMH. Must divide the inner channels at every block.
    cfg.GTA.GROUPS = 8

    # Zero-initialise the final norm of every added block so that it starts as the identity
    # (right for fine-tuning a pretrained network). Set False to train from scratch with the
    # norm scale at 1, which lets the temporal path open from the first step.
    cfg.GTA.ZERO_INIT_FINAL_NORM = True
    return cfg


def load_config(path, opts=None):
    """
    PySlowFast's default config with the gta_slowfast keys, merged with the YAML file ``path``
    (``_BASE_`` inheritance allowed) and the ``KEY VALUE`` pairs of ``opts``; works on both
    PySlowFast generations (see ``compat.finalize_cfg``).
    """
    import os

    from slowfast.config.defaults import get_cfg

    from . import compat

    if not os.path.isfile(path):
        raise FileNotFoundError(f"config file {path!r} does not exist")
    cfg = get_cfg()
    cfg.merge_from_file(path)
    if opts:
        if len(opts) % 2:
            raise ValueError(f"opts must be KEY VALUE pairs, got an odd count: {list(opts)}")
        cfg.merge_from_list(list(opts))
    return compat.finalize_cfg(cfg)
