"""
The pre-flight check: every checkpoint a run loads, loaded into a CPU copy of its model before
a job starts, as the run will load it; and, where PySlowFast's own trainer will load it, a check
that PySlowFast's loader gives the same weights and epoch.
"""

import contextlib
import copy
import io

import slowfast.models.optimizer as optim
import slowfast.utils.checkpoint as cu
import torch

from ..models import build_model, cpu_cfg
from .io import LIST_LIMIT, CheckpointError, epoch_number
from .loading import RESUME_SOURCE, check_training_start, test_plan, train_plan
from .matching import group_names
from .resume import check_same_run


@contextlib.contextmanager
def _quiet(module_logger):
    """Silences a PySlowFast module's log and prints (its per-tensor lines)."""
    disabled = module_logger.disabled
    module_logger.disabled = True
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        module_logger.disabled = disabled


def check_pyslowfast_agrees(plan, built, loaded, report, cfg):
    """
    Runs PySlowFast's ``load_checkpoint`` for ``plan`` as its trainer calls it, on a copy of the
    model as ``built``, and checks that it gives the weights of ``loaded`` (loaded by
    gta_slowfast) and the epoch of ``report``. Raises naming the tensors where they differ, or
    PySlowFast's error.
    """
    net = copy.deepcopy(built)
    optimizer = optim.construct_optimizer(net, cfg) if plan.purpose == "train" else None
    # TRAIN.CHECKPOINT_IN_INIT is not passed: it rewrites only ViT / MViT tensors.
    kwargs = dict(
        inflation=plan.inflate,
        convert_from_caffe2=plan.kind == "caffe2",
        epoch_reset=plan.epoch_reset,
        clear_name_pattern=plan.clear_name_pattern,
    )
    where = f"checkpoint {plan.path} ({plan.source})"
    fallback = (
        "run with --trainer fallback (gta_slowfast's loader), or write a checkpoint of the "
        "target model with python -m gta_slowfast.tools.convert nonlocal"
    )
    try:
        with _quiet(cu.logger):
            epoch = cu.load_checkpoint(plan.path, net, False, optimizer, **kwargs)
    except Exception as err:
        hint = ""
        if isinstance(err, AssertionError) and plan.inflate and report.unused:
            hint = (
                f" With TRAIN.CHECKPOINT_INFLATE True it needs every tensor of the checkpoint "
                f"in the model, and {len(report.unused)} are not: {group_names(report.unused)}. "
                f"Set TRAIN.CHECKPOINT_INFLATE False if no kernel needs inflating, or"
            )
        raise CheckpointError(
            f"{where}: PySlowFast's loader, which its trainer runs, fails on it "
            f"({type(err).__name__}: {err}).{hint or ' To load it,'} {fallback}"
        ) from err
    expected, got = loaded.state_dict(), net.state_dict()
    differ = [k for k in expected if not torch.equal(expected[k], got[k])]
    if differ:
        hint = ""
        if plan.kind == "caffe2" and any(k in report.loaded for k in differ):
            hint = (
                " (PySlowFast's Caffe2 loader neither inflates kernels nor gives 2D kernels a "
                "time axis)"
            )
        raise CheckpointError(
            f"{where}: PySlowFast's loader, which its trainer runs, would load "
            f"{len(differ)} tensors otherwise than gta_slowfast's loader{hint}: "
            f"{differ[:LIST_LIMIT]}; {fallback}"
        )
    if epoch != report.epoch:
        raise CheckpointError(
            f"{where}: PySlowFast's loader would continue after epoch {epoch_number(epoch)}, "
            f"gta_slowfast's after epoch {epoch_number(report.epoch)}"
        )


def preflight(cfg, pyslowfast_loader=False, built=None):
    """
    Loads, into a CPU copy of ``cfg``'s model (and, for training, its optimizer), every
    checkpoint a run of ``cfg`` loads before it trains or tests, as the run will, so that a
    checkpoint that does not fit fails now with the tensors named, not inside a worker. Each
    file is read once: the resume check (``resume.check_same_run``) and the load share it.

    Args:
        cfg (CfgNode): the run's config.
        pyslowfast_loader (bool): PySlowFast's own trainer will load them, so PySlowFast's
            loader must give the same weights and epoch (``check_pyslowfast_agrees``).
        built (nn.Module): the model of ``cpu_cfg(cfg)`` as built, if the caller has one (it
            is copied, not changed).
    Returns:
        list of LoadReport: one a checkpoint loaded, in the run's order.
    Raises:
        CheckpointError: a checkpoint that cannot be read or loaded, a resume of another run,
            a start with nothing to train, or a load PySlowFast's loader would do otherwise.
    """
    plans = [train_plan(cfg)] if cfg.TRAIN.ENABLE else []
    # After training, the test loads the checkpoint training writes, unless one is given.
    if cfg.TEST.ENABLE and (cfg.TEST.CHECKPOINT_FILE_PATH or not cfg.TRAIN.ENABLE):
        plans.append(test_plan(cfg))
    plans = [plan for plan in plans if plan is not None]
    if not plans:
        return []
    probe_cfg = cpu_cfg(cfg)
    if built is None:
        built = build_model(probe_cfg)
    reports = []
    for plan in plans:
        checkpoint = plan.read()
        if plan.purpose == "train" and plan.source == RESUME_SOURCE:
            check_same_run(cfg, checkpoint)
        model = copy.deepcopy(built)
        optimizer = optim.construct_optimizer(model, probe_cfg) if plan.purpose == "train" else None
        report = plan.load(model, optimizer, checkpoint)
        if plan.purpose == "train":
            check_training_start(cfg, plan, report)
        if pyslowfast_loader and report.resampled:
            raise CheckpointError(
                f"{plan.source} ({plan.path}): GTA.RESAMPLE_CHECKPOINT resamples "
                f"{len(report.resampled)} GTA matrices, but PySlowFast's trainer loads the file "
                f"with its own loader, which cannot. Resample the file first: python -m "
                f"gta_slowfast.tools.convert resample --src {plan.path} --dst RESAMPLED.pyth "
                f"--num-frames {cfg.DATA.NUM_FRAMES}, and load that"
            )
        if pyslowfast_loader:
            check_pyslowfast_agrees(plan, built, model, report, probe_cfg)
        reports.append(report)
    return reports
