"""
Train and test a video model with GTA through PySlowFast's own trainer.

    python projects/gta/run_net.py --cfg configs/Synthetic/R2D_R50_GTA.yaml
    gta-run-net --cfg configs/SSv1/R2D_R50_GTA_8x1.yaml NUM_GPUS 8 DATA.PATH_TO_DATA_DIR ...

The trainer is PySlowFast's ``tools/train_net.py`` / ``tools/test_net.py`` of your checkout
(found from the installed ``slowfast`` package, ``--slowfast-root`` or ``$PYSLOWFAST_ROOT``),
run unchanged through PySlowFast's ``launch_job`` (one process per GPU, multi-node with
``--init_method``, ``--num_shards``, ``--shard_id``). Where PySlowFast has no trainer (the PyPI
snapshot), a compact loop made of PySlowFast's parts runs instead; the log says which.

Processes started by torchrun or srun (one a GPU, or several CPU processes with NUM_GPUS 0)
run as one job in the process they were started in, numbered as PySlowFast numbers them
(``engine.distributed``); so do CPU runs of one command a machine with ``--num_shards``.

Every config is checked before anything runs (its keys and values, its model built once on the
CPU, its datasets and checkpoints); a mistake ends the command with one line naming the file
and the key, file or id, and exit status 2 (--debug: the traceback). Each test keeps the
per-video scores (TEST.SAVE_RESULTS_PATH, test_predictions.pkl when unset) and writes per-class
results beside them under OUTPUT_DIR.
"""

import logging
import os
import sys
import traceback

import slowfast.utils.distributed as du
import torch

from .. import cli, compat, load_config
from ..blocks import check_variant
from ..checkpoint import cpu_cfg, test_plan
from ..checkpoint import preflight as check_checkpoints
from ..checkpoint.saving import atomic_pyslowfast_saves
from ..config import ConfigError
from ..datasets.checks import check_datasets
from ..datasets.video_dataset import keep_data_location
from ..evaluation import RESULT_FILES, keep_test_predictions, write_test_results
from ..models import build_model
from . import distributed, fallback, upstream
from .json_stats import FILENAME as JSON_STATS_FILE
from .json_stats import write_json_stats

logger = logging.getLogger(__name__)

# View counts tested in turn when TEST.NUM_ENSEMBLE_VIEWS is -1, as PySlowFast's run_net.py.
ALL_VIEW_COUNTS = (1, 3, 5, 7, 10)


def parser():
    """PySlowFast's run_net.py arguments, plus the choice of trainer and ``--debug``."""
    parser = cli.argument_parser("gta_slowfast.engine.launch", __doc__, fallback="run_net.py")
    parser.add_argument("--shard_id", type=int, default=0, help="rank of this machine")
    parser.add_argument("--num_shards", type=int, default=1, help="number of machines")
    parser.add_argument(
        "--init_method", default="tcp://localhost:9999", help="torch.distributed init method"
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
    cli.add_config_arguments(
        parser,
        cfg_help="config file(s), run in turn; KEY VALUE overrides may follow the last one",
        opts_help="KEY VALUE config overrides (see slowfast/config/defaults.py and "
        "gta_slowfast/config/defaults.py)",
    )
    return parser


def parse_args(argv=None):
    """The command's arguments: ``args.cfg_files``, ``args.opts`` (KEY VALUE overrides: what
    follows the last config file), the trainer, PySlowFast's multi-node options, ``debug``."""
    return cli.parse_config_arguments(parser(), argv)


def run_config(args, path, job=distributed.Job("one process")):
    """The config of ``path`` with the command's overrides, checked as PySlowFast checks it;
    in a ``job`` started by torchrun or srun, NUM_SHARDS and SHARD_ID are its node count and
    this node, and NUM_GPUS (when not 0) must be its processes a node."""
    cfg = load_config(path, args.opts)
    cfg.NUM_SHARDS = job.num_nodes if job.external else args.num_shards
    cfg.SHARD_ID = job.node_rank if job.external else args.shard_id
    if job.external and cfg.NUM_GPUS and cfg.NUM_GPUS != job.local_world_size:
        raise ConfigError(
            f"NUM_GPUS={cfg.NUM_GPUS}, but {job.started_by} started {job.local_world_size} "
            f"processes on this node: NUM_GPUS is PySlowFast's processes (one GPU each) of a "
            f"machine; set NUM_GPUS {job.local_world_size}, or NUM_GPUS 0 for CPU processes"
        )
    try:
        cfg = compat.assert_and_infer_cfg(cfg)
    except AssertionError as err:  # bare asserts: name the check that failed
        check = traceback.extract_tb(err.__traceback__)[-1].line
        raise ConfigError(
            f"PySlowFast's assert_and_infer_cfg refuses the config: {check}"
            + (f" ({err})" if str(err) else "")
        ) from err
    if cfg.NUM_GPUS > torch.cuda.device_count():
        raise ValueError(
            f"NUM_GPUS={cfg.NUM_GPUS} but {torch.cuda.device_count()} CUDA devices are "
            f"available (config {path}); add 'NUM_GPUS 0' to run on the CPU"
        )
    return cfg


# Module-level so that torch.multiprocessing can send them to worker processes; importing this
# module there imports gta_slowfast, which registers the blocks before the model is built.
def upstream_train(cfg):
    train, _ = upstream.load(upstream.find_checkout())
    atomic_pyslowfast_saves()
    if not cfg.NUM_GPUS:
        upstream.allow_cpu_run()
    return train(cfg)


def upstream_test(cfg):
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
        f"gta_slowfast fallback loop on PySlowFast's parts ({compat.generation_name()})",
        fallback.train,
        fallback.test,
    )


def launch_job(cfg, init_method, func, job=distributed.Job("one process")):
    """PySlowFast's launch_job: one process per GPU when NUM_GPUS > 1, else in this process
    (returning what ``func`` returns); in this process, too, when it is one of a ``job``
    started outside (torchrun, srun, --num_shards), whose process group it has joined."""
    if cfg.NUM_GPUS <= 1 or job.external:
        return func(cfg=cfg)
    return compat.launch_job(cfg, init_method, func)


def build_cpu_model(cfg):
    """The model of ``cfg``, built on the CPU. An unknown NONLOCAL.TYPE (also where
    NONLOCAL.LOCATION places no block, so it is not ignored) and a block that cannot be built
    raise their own errors; PySlowFast's builders' own failures on the config (bare asserts,
    lookups) raise a ConfigError naming the builder's line."""
    check_variant(cfg.NONLOCAL.TYPE)
    try:
        return build_model(cpu_cfg(cfg))
    except (AssertionError, IndexError, KeyError, TypeError) as err:
        frame = traceback.extract_tb(err.__traceback__)[-1]
        raise ConfigError(
            f"PySlowFast's model builder fails on this config (MODEL.ARCH={cfg.MODEL.ARCH!r}, "
            f"RESNET.DEPTH={cfg.RESNET.DEPTH}): {type(err).__name__}"
            f"{f': {err}' if str(err) else ''} at {os.path.basename(frame.filename)}:"
            f"{frame.lineno}: {frame.line}"
        ) from err


def preflight(cfg, pyslowfast_loader=False):
    """
    Clear errors before any worker starts: the model, built once on the CPU (a block that
    cannot be built names its place and keys), dataset files, and checkpoints that do not fit,
    loaded into a CPU copy of the model as the run will load them
    (``gta_slowfast.checkpoint.preflight``; ``pyslowfast_loader``: PySlowFast's trainer will
    load them, with PySlowFast's loader). Returns the checkpoints' LoadReports.
    """
    built = build_cpu_model(cfg)
    check_datasets(cfg)
    return check_checkpoints(cfg, pyslowfast_loader=pyslowfast_loader, built=built)


def view_counts(cfg):
    """The view counts (clips per video) a test of ``cfg`` runs: TEST.NUM_ENSEMBLE_VIEWS, each
    of ALL_VIEW_COUNTS where it is -1, or PySlowFast main's TEST.NUM_TEMPORAL_CLIPS."""
    if cfg.TEST.NUM_ENSEMBLE_VIEWS == -1:
        return list(ALL_VIEW_COUNTS)
    return list(cfg.TEST.get("NUM_TEMPORAL_CLIPS", None) or [cfg.TEST.NUM_ENSEMBLE_VIEWS])


def test_runs(cfg):
    """
    (config, results folder) of each test of ``cfg``: one per view count, each saving its
    per-video scores (``evaluation.keep_test_predictions``); where there are several, the
    scores and results of n clips go to the folder ``test_<n>_clips`` of OUTPUT_DIR.
    """
    counts = view_counts(cfg)
    runs = []
    for count in counts:
        run = cfg.clone()
        run.TEST.NUM_ENSEMBLE_VIEWS = count
        if "NUM_TEMPORAL_CLIPS" in run.TEST:  # main's test_net loops over it itself
            run.TEST.NUM_TEMPORAL_CLIPS = [count]
        subdir = f"test_{count}_clips" if len(counts) > 1 else ""
        keep_test_predictions(run, subdir)
        runs.append((run, os.path.join(cfg.OUTPUT_DIR, subdir) if subdir else cfg.OUTPUT_DIR))
    return runs


def views_of(cfg):
    """"3 clips x 3 crops": the views per video of the test of ``cfg``."""
    clips, crops = cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS
    return f"{clips} clip{'s' * (clips != 1)} x {crops} crop{'s' * (crops != 1)}"


def report_per_class_results(cfg, output_dir, title):
    """Writes the per-class results of the test of ``cfg`` under ``output_dir`` and logs where
    they are; a test whose scores cannot give them (e.g. multi-label) gets a warning."""
    try:
        summary = write_test_results(cfg, title, output_dir)
    except (ValueError, FileNotFoundError) as err:
        logger.warning("No per-class results for %s: %s", title, err)
        return None
    logger.info(
        "%s: mean class accuracy %.2f %% (top-1 %.2f %%, %d videos); per-class results in %s "
        "(scores: %s)", title, summary["mean_class_acc"], summary["top1_acc"], summary["videos"],
        ", ".join(os.path.join(output_dir, name) for name in RESULT_FILES),
        os.path.join(cfg.OUTPUT_DIR, cfg.TEST.SAVE_RESULTS_PATH),
    )
    return summary


# Where a test-only run in a training run's OUTPUT_DIR writes its logs and results.
TEST_ONLY_DIR = "test_only"


def test_only_folder(cfg):
    """
    ``cfg``, or for a test-only run (TRAIN.ENABLE False) in the OUTPUT_DIR of a training run
    (its json_stats.log records training epochs), a copy that writes its stdout.log,
    json_stats.log, scores and per-class results to OUTPUT_DIR/test_only instead of over the
    training run's, and tests what it would have tested there: TEST.CHECKPOINT_FILE_PATH, else
    the last checkpoint of OUTPUT_DIR, on the same data.
    """
    stats = os.path.join(cfg.OUTPUT_DIR, JSON_STATS_FILE)
    if cfg.TRAIN.ENABLE or not os.path.isfile(stats):
        return cfg
    with open(stats) as f:
        if '"_type": "train_epoch"' not in f.read():
            return cfg
    own = cfg.clone()
    own.defrost()
    plan = test_plan(cfg)
    if plan is not None and not cfg.TEST.CHECKPOINT_FILE_PATH:
        own.TEST.CHECKPOINT_FILE_PATH, own.TEST.CHECKPOINT_TYPE = plan.path, plan.kind
    keep_data_location(cfg, own)
    own.OUTPUT_DIR = os.path.join(cfg.OUTPUT_DIR, TEST_ONLY_DIR)
    logger.info("Test only, in the OUTPUT_DIR of a training run: logs and results go to %s",
                own.OUTPUT_DIR)
    return own


def fallback_for_job(job, cfg, train):
    """The fallback loop's (description, train, test) where PySlowFast's trainer (``train``)
    cannot run ``job``: it runs distributed only with NUM_GPUS > 1 processes a machine, each
    moving its tensors to a GPU with ``.cuda()``, so a job of several CPU processes (or of one
    GPU a machine) runs the fallback loop; None where it can."""
    if train is not upstream_train or job.world_size == 1 or cfg.NUM_GPUS > 1:
        return None
    what = "CPU processes" if not cfg.NUM_GPUS else "machines of one GPU"
    return (
        f"gta_slowfast fallback loop on PySlowFast's parts ({compat.generation_name()}): "
        f"PySlowFast's trainer runs distributed only on GPUs, NUM_GPUS > 1 a machine, and this "
        f"job has {job.world_size} {what}",
        fallback.train,
        fallback.test,
    )


def main(argv=None):
    """``run_net.py``: checks every config (the config itself, its model, datasets and
    checkpoints) before any run, then trains and tests each in turn; as one process of a job
    where torchrun, srun or --num_shards started several."""
    p = parser()
    args = cli.parse_config_arguments(p, argv)
    cli.setup_logging("[%(levelname)s: %(filename)s: %(lineno)4d]: %(message)s", stream=sys.stdout)
    with cli.reported_errors(p, args.debug):
        job = distributed.job_of(os.environ)  # torchrun, srun
        description, train, test = select_trainer(args.trainer, args.slowfast_root)
        cfgs = []
        for path in args.cfg_files:
            with cli.about(path):
                cfgs.append((path, test_only_folder(run_config(args, path, job))))
        if not job.external:
            job = distributed.job_of({}, args.num_shards, args.shard_id, args.init_method,
                                     cfgs[0][1].NUM_GPUS)
        if job.rank:
            logging.getLogger().setLevel(logging.WARNING)  # rank 0 speaks for the job
        description, train, test = fallback_for_job(job, cfgs[0][1], train) or (
            description, train, test)
        logger.info("Trainer: %s", description)
        for path, cfg in cfgs:
            with cli.about(path):
                if train is upstream_train:
                    upstream.check_config(cfg)
                preflight(cfg, pyslowfast_loader=train is upstream_train)
    try:
        if job.external:
            first = cfgs[0][1]
            distributed.init_process_group(job, distributed.backend_of(first),
                                           first.DIST_TIMEOUT, gpus=first.NUM_GPUS > 0)
            logger.info(distributed.describe_process())
        run_all(args, cfgs, train, test, job)
    except Exception as err:
        if not (job.external and distributed.collective_failure(err)) or args.debug:
            raise
        reason = " ".join(str(err).split())[:300]
        p.exit(1, f"{p.prog}: error: rank {job.rank} of {job.world_size}: the job "
                       f"lost a process (the meeting at {job.init_method} or a collective "
                       f"failed, or waited DIST_TIMEOUT={cfgs[0][1].DIST_TIMEOUT} s): "
                       f"{type(err).__name__}: {reason}\n")
    if job.external:
        torch.distributed.destroy_process_group()
    return 0


def run_all(args, cfgs, train, test, job):
    """Trains and tests each (path, config) of ``cfgs`` in turn, as ``job``'s process."""
    for path, cfg in cfgs:
        if job.rank == 0:
            os.makedirs(os.path.join(cfg.OUTPUT_DIR, "checkpoints"), exist_ok=True)
        if cfg.TRAIN.ENABLE:
            launch_job(cfg, args.init_method, train, job)
        if cfg.TEST.ENABLE:
            runs = test_runs(cfg)
            for run, results_dir in runs:
                result = launch_job(run, args.init_method, test, job)
                views = views_of(run)
                if job.rank != 0 or args.shard_id != 0:
                    continue  # the process that saved the scores reports them
                report_per_class_results(run, results_dir, f"{path} ({views})")
                if isinstance(result, tuple):  # the fallback loop's (top-1, top-k)
                    k = fallback.accuracy_ks(run.MODEL.NUM_CLASSES)[1]
                    print(f"{path}: test top-1 {result[0]:.2f} %, top-{k} {result[1]:.2f} %"
                          + (f" ({views})" if len(runs) > 1 else ""))
        for node, what in (("DEMO", "tools/demo_net.py"),
                           ("TENSORBOARD", "tools/visualization.py")):
            if node in cfg and cfg[node].ENABLE:
                logger.warning(
                    "%s.ENABLE is set; run_net.py trains and tests only. Run PySlowFast's %s "
                    "after 'import gta_slowfast' for it.", node, what
                )


if __name__ == "__main__":
    sys.exit(main())
