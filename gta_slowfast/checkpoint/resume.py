"""
Resuming is for the same run only. ``TRAIN.AUTO_RESUME`` continues from the last checkpoint of
OUTPUT_DIR; ``check_same_run`` refuses that checkpoint when the config it stores (PySlowFast's
``save_checkpoint`` stores ``cfg.dump()``) differs from the run's in what makes a run: its
seed, data, model and schedule (``RUN_NODES``, ``RUN_KEYS``). Bookkeeping (OUTPUT_DIR, where
the data lies, NUM_GPUS and the job's size, logging and checkpoint periods, the test's views,
loader workers) may differ.
"""

from .io import CheckpointError, config_by_key

# Config nodes whose every key makes the run (keys a generation lacks are not compared).
RUN_NODES = ("MODEL", "RESNET", "NONLOCAL", "GTA", "TSM", "SLOWFAST", "X3D", "MVIT", "DATA",
             "SYNTHETIC", "TSN", "SOLVER", "BN")
# Single keys of other nodes that make the run.
RUN_KEYS = ("RNG_SEED", "TRAIN.DATASET", "TRAIN.BATCH_SIZE")
# Keys of RUN_NODES that say where the same data lies, not what it is.
LOCATION_KEYS = ("DATA.PATH_TO_DATA_DIR", "DATA.PATH_PREFIX", "DATA.PATH_LABEL_SEPARATOR",
                 "SYNTHETIC.PATH")
# How many differing keys the message lists before summarising.
LIST_LIMIT = 6


def _makes_the_run(key):
    return key not in LOCATION_KEYS and (key in RUN_KEYS or key.split(".")[0] in RUN_NODES)


def run_differences(stored, current):
    """(key, stored value, current value) of every key that makes the run where the configs
    ``stored`` and ``current``, by full key (``config_by_key``), differ."""
    return [(key, stored[key], value) for key, value in current.items()
            if key in stored and _makes_the_run(key) and stored[key] != value]


def check_same_run(cfg, checkpoint):
    """
    Checks that ``checkpoint``, which ``cfg``'s run would resume from its OUTPUT_DIR, was
    written by the same run; a checkpoint that stores no config passes.

    Args:
        cfg (CfgNode): the run's config.
        checkpoint (Checkpoint): the checkpoint read (``io.read_checkpoint``), whose stored
            config is compared.
    Raises:
        CheckpointError: naming the keys where it was trained with another config.
    """
    path, stored = checkpoint.path, checkpoint.stored_config
    if stored is None:
        return
    differ = run_differences(stored, config_by_key(cfg.dump()))
    if not differ:
        return
    shown = ", ".join(f"{key}={old!r} (this run: {new!r})" for key, old, new in differ[:LIST_LIMIT])
    more = f" and {len(differ) - LIST_LIMIT} more" if len(differ) > LIST_LIMIT else ""
    raise CheckpointError(
        f"OUTPUT_DIR {cfg.OUTPUT_DIR} holds another run: TRAIN.AUTO_RESUME would resume "
        f"{path}, trained with {shown}{more}. Give this run its own OUTPUT_DIR (to start from "
        f"that file instead, set it as TRAIN.CHECKPOINT_FILE_PATH in a new OUTPUT_DIR)"
    )
