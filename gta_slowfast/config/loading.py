"""
Loading a config: PySlowFast's default config (with gta_slowfast's keys) merged with a YAML file
or a checkpoint's stored config and ``KEY VALUE`` overrides, on either PySlowFast generation.
What yacs and YAML raise is translated into ``ConfigError`` / ``UnknownConfigKey``, whose
message names the file, the key, what was expected and what came.
"""

import difflib
import logging
import os
import re

import yaml
from fvcore.common.config import CfgNode
from slowfast.config.defaults import get_cfg

from .. import compat

logger = logging.getLogger(__name__)


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
    PySlowFast's default config with the gta_slowfast keys, merged with a YAML file and
    overrides, as PySlowFast's own ``load_config`` does, on either PySlowFast generation (see
    ``compat.finalize_cfg``).

    Args:
        path (str): the YAML file; ``_BASE_`` inheritance allowed.
        opts (list of str, optional): ``KEY VALUE`` overrides, merged after the file.

    Returns:
        CfgNode: the merged config.

    Raises:
        FileNotFoundError: ``path``, or a ``_BASE_`` it names, does not exist.
        UnknownConfigKey: the file or an override sets a key the config does not have (the
            message names it and the keys closest to it).
        ConfigError: a value of the wrong type, YAML that does not parse or an odd number of
            ``opts``, naming the file and the key or override.
    """
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
    (``cfg.dump()``). A checkpoint saved by the other PySlowFast generation stores keys the
    installed one does not have (the snapshot's ``DATA.CROP_SIZE``, main's newer nodes); those
    are left out and logged, naming them.

    Args:
        text (str): the YAML text of a config.
        source (str): what the text is, for errors and the log (``the config stored in ...``).
        opts (list of str, optional): ``KEY VALUE`` overrides, merged after the text.

    Returns:
        CfgNode: the merged config.

    Raises:
        UnknownConfigKey: an override names a key the config does not have.
        ConfigError: the text is not a YAML mapping, or a value or override does not fit.
    """
    return _merged(get_cfg(), source, lambda cfg: _merge_stored(cfg, yaml.safe_load(text), source),
                   opts)


def config_from_mapping(stored, source, opts=None):
    """
    As ``config_from_text``, from a config already parsed: the nested mapping a read checkpoint
    holds (``Checkpoint.config_tree``), so that its YAML is parsed once.

    Args:
        stored (dict): the config's keys, nested as in its YAML.
        source (str): what the config is, for errors and the log.
        opts (list of str, optional): ``KEY VALUE`` overrides, merged after it.

    Returns:
        CfgNode: the merged config.

    Raises:
        UnknownConfigKey: an override names a key the config does not have.
        ConfigError: ``stored`` is not a mapping, or a value or override does not fit.
    """
    return _merged(get_cfg(), source, lambda cfg: _merge_stored(cfg, stored, source), opts)


def _merge_stored(cfg, stored, source):
    """Merges the stored config ``stored`` into ``cfg``, leaving out (and logging) the keys the
    installed PySlowFast's config does not have."""
    if not isinstance(stored, dict):
        raise ConfigError(f"{source}: expected a YAML mapping of config keys, got "
                          f"{type(stored).__name__}")
    known, unknown = _known_keys(stored, cfg)
    if unknown:
        logger.warning("%s: keys the installed PySlowFast's config does not have, left "
                       "out: %s", source, ", ".join(unknown))
    cfg.merge_from_other_cfg(type(cfg)(known))
