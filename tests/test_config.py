"""The config schema gta_slowfast adds to PySlowFast's, and loading configs with it
(gta_slowfast.config)."""

import glob
import importlib.util
import logging
import os
import re

import pytest
import yaml
from conftest import CONFIGS, requires_main
from fvcore.common.config import CfgNode

import gta_slowfast
from gta_slowfast.config import (
    ConfigError,
    UnknownConfigKey,
    add_gta_slowfast_config,
    config_from_text,
)
from gta_slowfast.tsm import add_tsm_config

SHIPPED = sorted(glob.glob(os.path.join(CONFIGS, "**", "*.yaml"), recursive=True))

# Every key gta_slowfast's config defines, by full name: the names users write in their YAML
# files and overrides. DATA.TARGET_FPS and DATA.PATH_LABEL_SEPARATOR are PySlowFast main's,
# added only where the installed PySlowFast lacks them.
SCHEMA = {
    "NONLOCAL.TYPE",
    "GTA.INNER_REDUCTION", "GTA.SPATIAL_POOL", "GTA.SPATIAL", "GTA.PIXEL", "GTA.REGION",
    "GTA.NUM_REGIONS", "GTA.GROUPS", "GTA.SELF_ATTENTION_GROUPS", "GTA.ACTIVATION_CHECKPOINT",
    "GTA.ZERO_INIT_FINAL_NORM", "GTA.RESAMPLE_CHECKPOINT", "GTA.CHECK_CHECKPOINT_CONFIG",
    "TSM.ENABLE", "TSM.FRACTION", "TSM.PLACEMENT",
    "TSN.ENABLE", "TSN.RESIZE", "TSN.SCALES", "TSN.MAX_DISTORT",
    "DATA.DIRECTIONAL_FLIP", "DATA.LABEL_ORDER", "DATA.FRAMES_FPS", "DATA.TEMPORAL_SAMPLING",
    "DATA.TARGET_FPS", "DATA.PATH_LABEL_SEPARATOR",
    "SYNTHETIC.SEED", "SYNTHETIC.NUM_TRAIN", "SYNTHETIC.NUM_TEST", "SYNTHETIC.SIZE",
    "SYNTHETIC.VIDEO_FRAMES", "SYNTHETIC.PATH",
    "DIST_TIMEOUT",
}


def full_keys(node, prefix=""):
    """{full key name: value} of every leaf of a config or a YAML mapping."""
    found = {}
    for name, value in node.items():
        if isinstance(value, dict):
            found.update(full_keys(value, f"{prefix}{name}."))
        else:
            found[f"{prefix}{name}"] = value
    return found


def pyslowfast_defaults():
    """PySlowFast's default config as its slowfast/config/defaults.py builds it, from a fresh
    run of that module: without the keys importing gta_slowfast added to the loaded one."""
    spec = importlib.util.find_spec("slowfast.config.defaults")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._C


def keys_set_by_shipped_configs():
    used = set()
    for path in SHIPPED:
        with open(path) as f:
            stored = yaml.safe_load(f)
        stored.pop("_BASE_", None)
        used |= set(full_keys(stored))
    return used


def test_it_adds_exactly_the_schema_and_changes_no_pyslowfast_key():
    upstream = full_keys(pyslowfast_defaults())
    assert "GTA" not in {key.split(".")[0] for key in upstream}  # a fresh, untouched config
    ours = full_keys(add_gta_slowfast_config(pyslowfast_defaults()))
    assert set(ours) - set(upstream) == SCHEMA - set(upstream)
    assert {key: ours[key] for key in upstream} == upstream


def test_every_key_of_every_shipped_config_exists_after_it():
    upstream = set(full_keys(pyslowfast_defaults()))
    ours = set(full_keys(add_gta_slowfast_config(pyslowfast_defaults())))
    # Keys of PySlowFast main that the installed generation lacks and gta_slowfast.compat
    # back-fills on import (none on main, whose keys the configs are written in).
    backfilled = set(full_keys(gta_slowfast.get_cfg())) - ours
    used = keys_set_by_shipped_configs()
    assert used - upstream, "the shipped configs set gta_slowfast keys"
    assert not used - ours - backfilled
    assert not (used - upstream - backfilled) - SCHEMA


@requires_main
def test_on_main_importing_adds_only_the_schema_to_pyslowfasts_defaults():
    ours = add_gta_slowfast_config(pyslowfast_defaults())
    assert full_keys(gta_slowfast.get_cfg()) == full_keys(ours)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: os.path.relpath(path, CONFIGS))
def test_every_shipped_config_merges_into_pyslowfasts_default_config(path):
    cfg = gta_slowfast.get_cfg()  # PySlowFast's own get_cfg, after the import
    cfg.merge_from_file(path)
    assert cfg.NONLOCAL.TYPE in gta_slowfast.VARIANT_REGISTRY


def test_calling_it_twice_is_harmless():
    once = add_gta_slowfast_config(pyslowfast_defaults())
    dump = once.dump()
    assert add_gta_slowfast_config(once) is once and once.dump() == dump
    once.GTA.GROUPS = 4
    once.TSM.ENABLE = True
    add_gta_slowfast_config(once)
    assert once.GTA.GROUPS == 4 and once.TSM.ENABLE  # values set in between are kept
    assert add_gta_slowfast_config(gta_slowfast.get_cfg()).dump() == gta_slowfast.get_cfg().dump()


@pytest.mark.parametrize("add", [gta_slowfast.add_gta_config, gta_slowfast.add_tsm_config,
                                 add_tsm_config], ids=["add_gta_config", "add_tsm_config",
                                                       "tsm.add_tsm_config"])
def test_the_earlier_names_add_the_same_keys(add):
    expected = add_gta_slowfast_config(pyslowfast_defaults()).dump()
    assert add(pyslowfast_defaults()).dump() == expected
    bare = add(CfgNode())  # what the block tests build on
    assert set(full_keys(bare)) == SCHEMA


def test_config_keys_reach_pyslowfast_defaults():
    from slowfast.config.defaults import get_cfg

    cfg = get_cfg()
    assert cfg.NONLOCAL.TYPE == "nonlocal"
    assert cfg.GTA.GROUPS == 8 and cfg.GTA.NUM_REGIONS == 8 and cfg.GTA.INNER_REDUCTION == 4


def test_missing_config_file_is_named():
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        gta_slowfast.load_config("nope.yaml")


def test_unknown_config_key_is_rejected(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("GTA:\n  GROUP: 8\n")
    with pytest.raises(KeyError, match="GTA.GROUP"):
        gta_slowfast.load_config(str(bad))


@pytest.mark.parametrize("overrides,error,message", [
    (["GTA.GROUP", "2"], UnknownConfigKey,
     r"{cfg}: override GTA.GROUP 2: GTA.GROUP is not a config key \(did you mean GTA.GROUPS"),
    (["GTA.GROUPS", "two"], ConfigError,
     r"{cfg}: override GTA.GROUPS two: GTA.GROUPS='two': expected a value of type int, like 8, "
     r"got str"),
    (["GTA.GROUPS"], ConfigError, r"{cfg}: overrides must be KEY VALUE pairs, got an odd count"),
])
def test_a_bad_override_names_the_file_and_the_key(overrides, error, message):
    path = os.path.join(CONFIGS, "SSv1", "R2D_R50_8x1.yaml")
    with pytest.raises(error, match=message.format(cfg=re.escape(path))):
        gta_slowfast.load_config(path, overrides)


def test_a_stored_config_loses_the_keys_pyslowfast_lacks_naming_them(caplog):
    stored = gta_slowfast.get_cfg()
    stored.GTA.GROUPS = 4
    text = stored.dump().replace("GTA:\n", "GTA:\n  FROM_ANOTHER_GENERATION: 1\n", 1)
    with caplog.at_level(logging.WARNING):
        cfg = config_from_text(text, "the stored config", ["NUM_GPUS", "0"])
    assert cfg.GTA.GROUPS == 4 and "FROM_ANOTHER_GENERATION" not in cfg.GTA
    assert "the stored config: keys the installed PySlowFast's config does not have, left out: " \
           "GTA.FROM_ANOTHER_GENERATION" in caplog.text
    with pytest.raises(ConfigError, match="expected a YAML mapping of config keys, got list"):
        config_from_text("- 1\n", "the stored config")
