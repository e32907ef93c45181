"""
Train and test a video model with GTA through PySlowFast's own trainer.

    python projects/gta/run_net.py --cfg configs/Synthetic/R2D_R50_GTA.yaml
    gta-run-net --cfg configs/SSv1/R2D_R50_GTA_8x1.yaml NUM_GPUS 8 DATA.PATH_TO_DATA_DIR ...

The trainer is PySlowFast's ``tools/train_net.py`` / ``tools/test_net.py`` of your checkout
(found from the installed ``slowfast`` package, ``--slowfast-root`` or ``$PYSLOWFAST_ROOT``),
run unchanged through PySlowFast's ``launch_job`` (one process per GPU, multi-node with
``--init_method``, ``--num_shards``, ``--shard_id``). Where PySlowFast has no trainer (the PyPI
snapshot), a compact loop made of PySlowFast's parts runs instead; the log says which.
"""

import argparse
import logging
import os
import sys

import torch

from .. import compat, load_config
from ..checkpoint import preflight as check_checkpoints
from ..datasets.checks import check_datasets
from . import fallback, upstream
from .json_stats import write_json_stats

logger = logging.getLogger(__name__)


def parse_args(argv=None):
    """PySlowFast's run_net.py arguments, plus the choice of trainer."""
    parser = argparse.ArgumentParser(
        prog="run_net.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--shard_id", type=int, default=0, help="rank of this machine")
    parser.add_argument("--num_shards", type=int, default=1, help="number of machines")
    parser.add_argument(
        "--init_method", default="tcp://localhost:9999", help="torch.distributed init method"
    )
    parser.add_argument(
        "--cfg", dest="cfg_files", nargs="+", required=True, help="config file(s), run in turn"
    )
    parser.add_argument(
        "--trainer",
        choices=("auto", "upstream", "fallback"),
        default="auto",
        help="auto: PySlowFast's tools/ if the checkout has them, else the fallback loop",
    )
    parser.add_argument(
        "--slowfast-root",
        default=None,
        help=f"PySlowFast checkout whose tools/ to run (default: ${upstream.ROOT_ENV}, or the "
        "checkout of the installed slowfast package)",
    )
    parser.add_argument(
        "opts",
        nargs=argparse.REMAINDER,
        default=None,
        help="KEY VALUE config overrides (see slowfast/config/defaults.py and "
        "gta_slowfast/config.py)",
    )
    args = parser.parse_args(argv)
    # --cfg takes one or more files; what follows the last .yaml file are KEY VALUE overrides.
    files = [f for f in args.cfg_files if f.endswith((".yaml", ".yml"))]
    if not files or args.cfg_files[: len(files)] != files:
        parser.error(f"--cfg expects .yaml files first, got {args.cfg_files}")
    args.opts = args.cfg_files[len(files):] + (args.opts or [])
    args.cfg_files = files
    return args


def run_config(args, path):
    """The config of ``path`` with the command's overrides, checked as PySlowFast checks it."""
    cfg = load_config(path, args.opts)
    cfg.NUM_SHARDS = args.num_shards
    cfg.SHARD_ID = args.shard_id
    if compat.GENERATION == "main":
        from slowfast.config.defaults import assert_and_infer_cfg

        cfg = assert_and_infer_cfg(cfg)
    if cfg.NUM_GPUS > torch.cuda.device_count():
        raise ValueError(
            f"NUM_GPUS={cfg.NUM_GPUS} but {torch.cuda.device_count()} CUDA devices are "
            f"available (config {path}); add 'NUM_GPUS 0' to run on the CPU"
        )
    os.makedirs(os.path.join(cfg.OUTPUT_DIR, "checkpoints"), exist_ok=True)
    return cfg


# Module-level so that torch.multiprocessing can send them to worker processes; importing this
# module there imports gta_slowfast, which registers the blocks before the model is built.
def upstream_train(cfg):
    train, _ = upstream.load(upstream.find_checkout())
    if not cfg.NUM_GPUS:
        upstream.allow_cpu_run()
    return train(cfg)


def upstream_test(cfg):
    import slowfast.utils.distributed as du

    _, test = upstream.load(upstream.find_checkout())
    if not cfg.NUM_GPUS:
        upstream.allow_cpu_run()
    if du.is_master_proc(max(cfg.NUM_GPUS, 1) * cfg.NUM_SHARDS):
        write_json_stats(cfg.OUTPUT_DIR)  # main's TestMeter logs test_final to stdout only
    return test(cfg)


def select_trainer(choice, slowfast_root=None):
    """(description, train, test) of the trainer to use."""
    root = None if choice == "fallback" else upstream.find_checkout(slowfast_root)
    if root:
        os.environ[upstream.ROOT_ENV] = root  # for the worker processes
        upstream.load(root)  # fail here, with the import error, not inside a worker
        return f"PySlowFast trainer (tools/ of {root})", upstream_train, upstream_test
    if choice == "upstream":
        raise FileNotFoundError(
            "--trainer upstream: the installed PySlowFast has no tools/train_net.py (the PyPI "
            "snapshot has none); pass --slowfast-root or set $PYSLOWFAST_ROOT to a checkout"
        )
    return (
        f"gta_slowfast fallback loop on PySlowFast's parts ({compat.GENERATION})",
        fallback.train,
        fallback.test,
    )


def launch_job(cfg, init_method, func):
    """PySlowFast's launch_job: one process per GPU when NUM_GPUS > 1, else in this process
    (returning what ``func`` returns)."""
    if cfg.NUM_GPUS <= 1:
        return func(cfg=cfg)
    if compat.GENERATION == "main":
        from slowfast.utils.misc import launch_job as upstream_launch_job

        return upstream_launch_job(cfg=cfg, init_method=init_method, func=func)
    import slowfast.utils.multiprocessing as mpu

    return torch.multiprocessing.spawn(
        mpu.run,
        nprocs=cfg.NUM_GPUS,
        args=(cfg.NUM_GPUS, func, init_method, cfg.SHARD_ID, cfg.NUM_SHARDS, "nccl", cfg),
    )


def preflight(cfg, pyslowfast_loader=False):
    """
    Clear errors before any worker starts: dataset files, and checkpoints that do not fit, loaded
    into a CPU copy of the model as the run will load them (``gta_slowfast.checkpoint.preflight``;
    ``pyslowfast_loader``: PySlowFast's trainer will load them, with PySlowFast's loader).
    Returns the checkpoints' LoadReports.
    """
    check_datasets(cfg)
    return check_checkpoints(cfg, pyslowfast_loader=pyslowfast_loader)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s: %(filename)s: %(lineno)4d]: %(message)s", stream=sys.stdout)
    description, train, test = select_trainer(args.trainer, args.slowfast_root)
    logger.info("Trainer: %s", description)
    for path in args.cfg_files:
        cfg = run_config(args, path)
        preflight(cfg, pyslowfast_loader=train is upstream_train)
        if cfg.TRAIN.ENABLE:
            launch_job(cfg, args.init_method, train)
        if cfg.TEST.ENABLE:
            views = [1, 3, 5, 7, 10] if cfg.TEST.NUM_ENSEMBLE_VIEWS == -1 else [None]
            for num_views in views:
                if num_views is not None:
                    cfg.TEST.NUM_ENSEMBLE_VIEWS = num_views
                result = launch_job(cfg, args.init_method, test)
                if isinstance(result, tuple):
                    print(f"{path}: test top-1 {result[0]:.2f} %, top-5 {result[1]:.2f} %")
        for node, what in (("DEMO", "tools/demo_net.py"), ("TENSORBOARD", "tools/visualization.py")):
            if node in cfg and cfg[node].ENABLE:
                logger.warning(
                    "%s.ENABLE is set; run_net.py trains and tests only. Run PySlowFast's %s "
                    "after 'import gta_slowfast' for it.", node, what
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
