"""Config keys of gta_slowfast, added to PySlowFast's yacs config."""

import difflib
import logging
import os
import re

from fvcore.common.config import CfgNode

logger = logging.getLogger(__name__)


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
    _add_synthetic_config(cfg)
    _add_dataset_config(cfg)

    # Seconds every collective of a job of several processes (gradient all-reduce, the
    # gathering of test scores, the meeting at start) waits for the other processes; when one
    # dies, the others end with an error after at most this long instead of waiting forever.
    cfg.DIST_TIMEOUT = 600

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

    # Temporal self-attention ("ta", "dnl", "tape", "sa_tape"): group count G of its
    # cross-channel multi-head form (paper Table 7, "TAPE w/ CCMH": head k attends to group g
    # with softmax(Q_k K_g^T)); 1 (the paper's DNL and TAPE) is plain single-head attention.
    cfg.GTA.SELF_ATTENTION_GROUPS = 1

    # Recompute every added block's internals in the backward instead of keeping them
    # (activation checkpointing, as PySlowFast main's MODEL.ACT_CHECKPOINT does for res2): less
    # memory for about one more forward of the blocks; the same results.
    cfg.GTA.ACTIVATION_CHECKPOINT = False

    # Zero-initialise the final norm of every added block so that it starts as the identity
    # (right for fine-tuning a pretrained network). Set False to train from scratch with the
    # norm scale at 1, which lets the temporal path open from the first step.
    cfg.GTA.ZERO_INIT_FINAL_NORM = True

    # Load GTA's T x T matrices from a checkpoint trained with another clip length
    # (TRAIN.CHECKPOINT_FILE_PATH, TEST.CHECKPOINT_FILE_PATH) by resampling them to this
    # model's T (both time axes, each row's total weight kept; gta_slowfast.checkpoint.resample).
    # False: such a checkpoint is refused, naming DATA.NUM_FRAMES.
    cfg.GTA.RESAMPLE_CHECKPOINT = False

    # Refuse to test or resume from a checkpoint whose stored config differs from this one in
    # a key that changes what the network computes but none of its tensors (MODEL.ARCH,
    # TSM.ENABLE / FRACTION / PLACEMENT, and where the blocks' tensors coincide NONLOCAL.TYPE,
    # NONLOCAL.INSTANTIATION, GTA.SPATIAL_POOL; gta_slowfast.checkpoint.matching.FUNCTION_KEYS);
    # fine-tuning from one is logged as a warning. False: load it anyway, with a warning.
    cfg.GTA.CHECK_CHECKPOINT_CONFIG = True
    return cfg


def _add_synthetic_config(cfg):
    """Keys of the generated order-sensitive dataset (TRAIN.DATASET / TEST.DATASET: synthetic)."""
    cfg.SYNTHETIC = CfgNode()

    # Seed of the generator; the same seed and sizes give the same videos, byte for byte.
    cfg.SYNTHETIC.SEED = 0

    # Number of training videos (classes in turn, so a multiple of 6 keeps them balanced).
    cfg.SYNTHETIC.NUM_TRAIN = 48

    # Number of test videos; val.csv and test.csv both list them.
    cfg.SYNTHETIC.NUM_TEST = 24

    # Side of the square frames, in pixels.
    cfg.SYNTHETIC.SIZE = 80

    # Frames per video (written at 30 fps).
    cfg.SYNTHETIC.VIDEO_FRAMES = 16

    # Where the videos and CSVs are written; empty: OUTPUT_DIR/synthetic_data.
    cfg.SYNTHETIC.PATH = ""


def _add_dataset_config(cfg):
    """Keys of the release datasets (gta_ssv1, gta_ssv2, gta_kinetics) and the paper's 2D
    training recipe (TSN node)."""
    if "DATA" not in cfg:
        cfg.DATA = CfgNode()

    # How the training flip (DATA.RANDOM_FLIP) treats classes whose names say "left" or
    # "right": "skip" never flips them (the paper), "swap" flips them and gives them the label
    # of the class named with the other direction (MMAction2), "flip" flips them like any other
    # class (PySlowFast). Read by the gta_* datasets.
    cfg.DATA.DIRECTIONAL_FLIP = "skip"

    # Class index order for label files that list names without indices (Something-Something
    # v1): "sorted" (names sorted, as the TSM code the paper builds on) or "file" (the file's
    # order, as MMAction2). Saved with every checkpoint's config.
    cfg.DATA.LABEL_ORDER = "sorted"

    # Frame rate of releases shipped as JPEG frame folders (Something-Something v1: 12 fps),
    # for dense sampling, which counts time at DATA.TARGET_FPS.
    cfg.DATA.FRAMES_FPS = 12.0

    if "TARGET_FPS" not in cfg.DATA:
        # Frame rate at which DATA.SAMPLING_RATE counts frames in dense sampling (PySlowFast
        # main's key; back-filled for the PyPI snapshot, whose loaders assume 30).
        cfg.DATA.TARGET_FPS = 30

    if "PATH_LABEL_SEPARATOR" not in cfg.DATA:
        # Separator of path and label in Kinetics-layout CSVs (PySlowFast main's key).
        cfg.DATA.PATH_LABEL_SEPARATOR = " "

    # Which frames of a video make a clip, for the gta_* datasets (the spatial recipe is
    # TSN.ENABLE, chosen apart from it; gta_slowfast.datasets.sampling):
    # "dense": PySlowFast's Kinetics sampling (decoder.get_start_end_idx, temporal_sampling):
    #   DATA.NUM_FRAMES frames DATA.SAMPLING_RATE apart at DATA.TARGET_FPS, one window;
    # "tsn": TSN segments as TSM's ops/dataset.py (the paper's 2D recipe): DATA.NUM_FRAMES
    #   segments, a random frame of each in training (_sample_indices), the centres in test
    #   and, as the second of two test views, the segment starts (_get_test_indices with
    #   twice_sample);
    # "ssv2": PySlowFast's Something-Something sampling (slowfast/datasets/ssv2.py,
    #   get_seq_frames; the paper's 3D recipe): DATA.NUM_FRAMES segments over the whole video,
    #   a random frame of each in training, the middle of each in test.
    cfg.DATA.TEMPORAL_SAMPLING = "dense"

    cfg.TSN = CfgNode()

    # The spatial recipe of the paper's 2D backbones (appendix C, TSM's ops/transforms.py):
    # frames resized to TSN.RESIZE, TSN multi-scale crop resized to DATA.TRAIN_CROP_SIZE in
    # training, a DATA.TEST_CROP_SIZE crop of the resized frames in test. False: PySlowFast's
    # short-side scale jitter (DATA.TRAIN_JITTER_SCALES, DATA.INV_UNIFORM_SAMPLE) and crops.
    # Temporal sampling is DATA.TEMPORAL_SAMPLING.
    cfg.TSN.ENABLE = False

    # [height, width] every frame is resized to before cropping, in training and test.
    cfg.TSN.RESIZE = [240, 320]

    # Crop sides as fractions of the short side, for the multi-scale crop.
    cfg.TSN.SCALES = [1.0, 0.875, 0.75, 0.66]

    # Largest difference, in steps of TSN.SCALES, between a crop's height and width scale.
    cfg.TSN.MAX_DISTORT = 1


class ConfigError(ValueError):
    """A config file or override that PySlowFast's config does not accept; the message names
    the file, the key, what was expected and what came."""


class UnknownConfigKey(ConfigError, KeyError):
    """A key that neither PySlowFast's config nor gta_slowfast's has (a KeyError, as yacs
    raises for one)."""

    __str__ = ValueError.__str__  # the message, not KeyError's repr of it


_MISMATCH = re.compile(
    r"Type mismatch \((.*?) vs\. (.*?)\) with values \((.*) vs\. (.*)\) for config key: "
    r"(\S+)$",
    re.DOTALL,
)


def _config_keys(node, prefix=""):
    """Every full key (``GTA.GROUPS``) of the config ``node``."""
    for name, value in node.items():
        key = f"{prefix}{name}"
        if isinstance(value, CfgNode):
            yield from _config_keys(value, f"{key}.")
        else:
            yield key


def _unknown_key(cfg, key):
    close = difflib.get_close_matches(key, list(_config_keys(cfg)), n=3, cutoff=0.6)
    return f"{key} is not a config key" + (f" (did you mean {', '.join(close)}?)" if close else "")


def _type_name(text):
    return re.sub(r"<class '(?:[\w.]+\.)?(\w+)'>", r"\1", text)


def _merge_error(cfg, err):
    """What yacs' (or YAML's) error ``err`` says, as the key, what was expected and what came."""
    problem_mark = getattr(err, "problem_mark", None)
    if problem_mark is not None:  # yaml.MarkedYAMLError
        return (f"not valid YAML at line {problem_mark.line + 1}, column "
                f"{problem_mark.column + 1}: {err.problem}")
    message = str(err.args[0]) if err.args else str(err)
    match = _MISMATCH.search(message)
    if match:
        want, got, default, value, key = match.groups()
        like = "" if "\n" in default else f", like {default}"
        return (f"{key}={value!r}: expected a value of type {_type_name(want)}{like}, got "
                f"{_type_name(got)}")
    unknown = re.search(r"Non-existent (?:config )?key: (\S+)", message)
    if unknown:
        return _unknown_key(cfg, unknown.group(1))
    return f"{type(err).__name__}: {message}"


def _is_unknown_key(err):
    text = str(err.args[0]) if err.args else ""
    return "Non-existent" in text and "key" in text


def _merged(cfg, source, merge, opts):
    """``cfg`` after ``merge(cfg)`` and the ``KEY VALUE`` pairs of ``opts``, reconciled for the
    installed PySlowFast generation; errors name ``source`` and the key or override."""
    import yaml

    from . import compat

    try:
        merge(cfg)
    except FileNotFoundError as err:  # a _BASE_ file
        raise FileNotFoundError(f"{source}: {err.strerror}: {err.filename!r} (its _BASE_)") from err
    except (KeyError, ValueError, AssertionError, yaml.YAMLError) as err:
        error = UnknownConfigKey if _is_unknown_key(err) else ConfigError
        raise error(f"{source}: {_merge_error(cfg, err)}") from err
    opts = list(opts or [])
    if len(opts) % 2:
        raise ConfigError(
            f"{source}: overrides must be KEY VALUE pairs, got an odd count ({len(opts)}): {opts}"
        )
    for key, value in zip(opts[0::2], opts[1::2]):
        try:
            cfg.merge_from_list([key, value])
        except (KeyError, ValueError, AssertionError) as err:
            error = UnknownConfigKey if _is_unknown_key(err) else ConfigError
            raise error(f"{source}: override {key} {value}: {_merge_error(cfg, err)}") from err
    return compat.finalize_cfg(cfg)


def load_config(path, opts=None):
    """
    PySlowFast's default config with the gta_slowfast keys, merged with the YAML file ``path``
    (``_BASE_`` inheritance allowed) and the ``KEY VALUE`` pairs of ``opts``; works on both
    PySlowFast generations (see ``compat.finalize_cfg``). A file that does not exist raises
    FileNotFoundError; an unknown key, a value of the wrong type or YAML that does not parse
    raises ConfigError naming the file and the key or override.
    """
    from slowfast.config.defaults import get_cfg

    if not os.path.isfile(path):
        raise FileNotFoundError(f"config file {path!r} does not exist")
    return _merged(get_cfg(), path, lambda cfg: cfg.merge_from_file(path), opts)


def _known_keys(stored, defaults, prefix=""):
    """(the part of the mapping ``stored`` whose keys the config ``defaults`` has, the full
    names of the keys it has not)."""
    known, unknown = {}, []
    for key, value in stored.items():
        if key not in defaults:
            unknown.append(f"{prefix}{key}")
        elif isinstance(value, dict) and isinstance(defaults[key], dict):
            known[key], more = _known_keys(value, defaults[key], f"{prefix}{key}.")
            unknown += more
        else:
            known[key] = value
    return known, unknown


def config_from_text(text, source, opts=None):
    """
    As ``load_config``, from YAML text: the complete config a PySlowFast checkpoint stores
    (``cfg.dump()``); ``source`` names it in errors. A checkpoint saved by the other PySlowFast
    generation stores keys the installed one does not have (the snapshot's ``DATA.CROP_SIZE``,
    main's newer nodes); those are left out and logged, naming them.
    """
    import yaml
    from slowfast.config.defaults import get_cfg

    def merge(cfg):
        stored = yaml.safe_load(text)
        if not isinstance(stored, dict):
            raise ConfigError(f"{source}: expected a YAML mapping of config keys, got "
                              f"{type(stored).__name__}")
        known, unknown = _known_keys(stored, cfg)
        if unknown:
            logger.warning("%s: keys the installed PySlowFast's config does not have, left "
                           "out: %s", source, ", ".join(unknown))
        cfg.merge_from_other_cfg(type(cfg)(known))

    return _merged(get_cfg(), source, merge, opts)
