"""
The config keys gta_slowfast adds to PySlowFast's yacs config, all in one function,
``add_gta_slowfast_config`` (PySlowFast's ``custom_config.add_custom_config`` hook, written as its
``slowfast/config/defaults.py``): one banner section a node, one comment line a key. What the
keys mean at length is in the docs; ``gta_slowfast/__init__.py`` adds them to PySlowFast's
default config on import.
"""

from fvcore.common.config import CfgNode


def add_gta_slowfast_config(cfg):
    """
    Adds every key of gta_slowfast to the PySlowFast config ``cfg`` in place.

    The defaults keep PySlowFast's behaviour (``NONLOCAL.TYPE: nonlocal``, ``TSM.ENABLE: False``,
    ``TSN.ENABLE: False``, ``DATA.TEMPORAL_SAMPLING: dense``). Keys PySlowFast main defines that
    the installed PySlowFast lacks (``DATA.TARGET_FPS``, ``DATA.PATH_LABEL_SEPARATOR``) are added
    with main's defaults; those it has are left as they are.

    Args:
        cfg (CfgNode): a PySlowFast config (``slowfast.config.defaults.get_cfg()``); a bare
            ``CfgNode`` gets the ``NONLOCAL`` and ``DATA`` nodes it lacks.

    Returns:
        CfgNode: ``cfg`` itself. A config that has the keys already is returned unchanged, so
        calling it twice is harmless and keeps the values set in between.

    Raises:
        AttributeError: ``cfg`` is frozen (``cfg.freeze()``) and lacks the keys.
    """
    if "GTA" in cfg:
        return cfg

    # ---------------------------------------------------------------------------- #
    # Non-local options
    # ---------------------------------------------------------------------------- #
    if "NONLOCAL" not in cfg:
        cfg.NONLOCAL = CfgNode()

    # Block at every NONLOCAL.LOCATION: nonlocal (PySlowFast's), gta, dnl, sa, ta, tape, sa_tape.
    cfg.NONLOCAL.TYPE = "nonlocal"

    # ---------------------------------------------------------------------------- #
    # GTA options (the blocks gta_slowfast adds)
    # ---------------------------------------------------------------------------- #
    cfg.GTA = CfgNode()

    # Inner channels = block channels // INNER_REDUCTION (every variant but nonlocal).
    cfg.GTA.INNER_REDUCTION = 4

    # Max-pool kernel [h, w] of the spatial self-attention's keys and values; [1, 1]: none.
    cfg.GTA.SPATIAL_POOL = [2, 2]

    # gta: spatial self-attention before GTA (False: Pixel / Region GTA alone, Table 7).
    cfg.GTA.SPATIAL = True

    # gta: use Pixel GTA (a T x T attention over time at every pixel).
    cfg.GTA.PIXEL = True

    # gta: use Region GTA (a T x T attention over time on learned regions).
    cfg.GTA.REGION = True

    # gta: number of regions R of Region GTA.
    cfg.GTA.NUM_REGIONS = 8

    # gta: group (head) count G of the cross-channel multi-head attention; 1: no CCMH.
    cfg.GTA.GROUPS = 8

    # ta, dnl, tape, sa_tape: group count G of the temporal self-attention; 1: single head.
    cfg.GTA.SELF_ATTENTION_GROUPS = 1

    # Recompute the added blocks' internals in the backward (activation checkpointing).
    cfg.GTA.ACTIVATION_CHECKPOINT = False

    # Zero-initialise each added block's final norm, so that it starts as the identity.
    cfg.GTA.ZERO_INIT_FINAL_NORM = True

    # Resample GTA's T x T matrices of a checkpoint of another clip length (False: refuse it).
    cfg.GTA.RESAMPLE_CHECKPOINT = False

    # Refuse a checkpoint whose stored config differs in a key that changes the computation.
    cfg.GTA.CHECK_CHECKPOINT_CONFIG = True

    # ---------------------------------------------------------------------------- #
    # TSM options (Temporal Shift Module in PySlowFast's ResNet)
    # ---------------------------------------------------------------------------- #
    cfg.TSM = CfgNode()

    # Shift part of the channels of every residual block along time (single-pathway ResNet).
    cfg.TSM.ENABLE = False

    # Fraction of the channels shifted each way, in (0, 0.5].
    cfg.TSM.FRACTION = 0.125

    # Where the shift acts: residual (the residual branch's input) or inplace (the block's).
    cfg.TSM.PLACEMENT = "residual"

    # ---------------------------------------------------------------------------- #
    # TSN options (the spatial recipe of the paper's 2D backbones)
    # ---------------------------------------------------------------------------- #
    cfg.TSN = CfgNode()

    # Resize and TSN multi-scale crop (False: PySlowFast's scale jitter and crops).
    cfg.TSN.ENABLE = False

    # [height, width] every frame is resized to before cropping.
    cfg.TSN.RESIZE = [240, 320]

    # Crop sides of the multi-scale crop, as fractions of the short side.
    cfg.TSN.SCALES = [1.0, 0.875, 0.75, 0.66]

    # Largest difference, in steps of TSN.SCALES, between a crop's height and width scale.
    cfg.TSN.MAX_DISTORT = 1

    # ---------------------------------------------------------------------------- #
    # Data options (read by the gta_* datasets)
    # ---------------------------------------------------------------------------- #
    if "DATA" not in cfg:
        cfg.DATA = CfgNode()

    # Training flip of classes named left / right: skip, swap (to the other class) or flip.
    cfg.DATA.DIRECTIONAL_FLIP = "skip"

    # Class order of label files listing names without indices: sorted or file.
    cfg.DATA.LABEL_ORDER = "sorted"

    # Frame rate of releases shipped as JPEG frame folders (Something-Something v1: 12).
    cfg.DATA.FRAMES_FPS = 12.0

    # Frames of a clip: dense (PySlowFast's Kinetics), tsn (TSM's segments) or ssv2.
    cfg.DATA.TEMPORAL_SAMPLING = "dense"

    if "TARGET_FPS" not in cfg.DATA:
        # Frame rate at which dense sampling counts DATA.SAMPLING_RATE (PySlowFast main's key).
        cfg.DATA.TARGET_FPS = 30

    if "PATH_LABEL_SEPARATOR" not in cfg.DATA:
        # Separator of path and label in Kinetics-layout CSVs (PySlowFast main's key).
        cfg.DATA.PATH_LABEL_SEPARATOR = " "

    # ---------------------------------------------------------------------------- #
    # Synthetic options (the generated dataset, TRAIN.DATASET: synthetic)
    # ---------------------------------------------------------------------------- #
    cfg.SYNTHETIC = CfgNode()

    # Seed of the generator; the same seed and sizes give the same videos, byte for byte.
    cfg.SYNTHETIC.SEED = 0

    # Number of training videos (classes in turn: a multiple of 6 keeps them balanced).
    cfg.SYNTHETIC.NUM_TRAIN = 48

    # Number of test videos; val.csv and test.csv both list them.
    cfg.SYNTHETIC.NUM_TEST = 24

    # Side of the square frames, in pixels.
    cfg.SYNTHETIC.SIZE = 80

    # Frames per video (written at 30 fps).
    cfg.SYNTHETIC.VIDEO_FRAMES = 16

    # Where the videos and CSVs are written; empty: OUTPUT_DIR/synthetic_data.
    cfg.SYNTHETIC.PATH = ""

    # ---------------------------------------------------------------------------- #
    # Misc options
    # ---------------------------------------------------------------------------- #
    # Seconds a collective of a job of several processes waits for the others.
    cfg.DIST_TIMEOUT = 600
    return cfg


def add_gta_config(cfg):
    """
    The name of ``add_gta_slowfast_config`` in earlier releases (it adds every key, the ``TSM``
    node included).

    Args:
        cfg (CfgNode): a PySlowFast config.

    Returns:
        CfgNode: ``cfg``, with gta_slowfast's keys.
    """
    return add_gta_slowfast_config(cfg)
