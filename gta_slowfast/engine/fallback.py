"""
A compact train / multi-view test loop made of PySlowFast's own parts (dataset registry and
loader, optimizer, LR policy, losses, checkpoints, meters, JSON stats), for installs without
PySlowFast's ``tools/`` (the PyPI snapshot), and for jobs of several CPU processes (which
PySlowFast's trainer cannot run). It follows ``tools/train_net.py`` and ``tools/test_net.py``
of PySlowFast: the same config keys, checkpoint files, and log lines.

In a job of several processes (``engine.distributed``), each trains on its own shard of the
training set, reshuffled every epoch (torch's DistributedSampler, as PySlowFast's loader and
``shuffle_dataset``), under DistributedDataParallel (gradients averaged over the job, so the
weights stay the same on every process); batch norm is per process or synchronised as the
model's BN.NORM_TYPE builds it. Validation and test passes read disjoint shards and sum their
counts and per-video scores over the job once at the end, so every test view is counted once.
Only rank 0 writes checkpoints, ``stdout.log``, ``json_stats.log`` and the saved scores.
"""

import logging as std_logging
import os
import pickle

import numpy as np
import slowfast.models.losses as losses
import slowfast.models.optimizer as optim
import slowfast.utils.distributed as du
import slowfast.utils.logging as logging
import slowfast.utils.misc as misc
import torch
from fvcore.nn.precise_bn import get_bn_modules, update_bn_stats
from slowfast.datasets.build import build_dataset
from slowfast.utils.meters import TestMeter, TrainMeter, ValMeter

from .. import build_model, compat, dummy_inputs
from ..checkpoint import load_for_test, resume_or_initialize
from ..checkpoint.saving import save_checkpoint
from ..complexity import count_gflops
from ..evaluation import topks_correct
from . import distributed
from .json_stats import write_json_stats
from .upstream import TOP_K

logger = logging.get_logger(__name__)


def setup(cfg):
    """Seeds, and logging to stdout, OUTPUT_DIR/stdout.log and (the summary JSON stats)
    OUTPUT_DIR/json_stats.log, as PySlowFast main's trainer does: on rank 0 only (the other
    processes of a job log warnings and errors), starting with the job's size, this rank and
    the backend."""
    np.random.seed(cfg.RNG_SEED)
    torch.manual_seed(cfg.RNG_SEED)
    master = distributed.is_main_process()
    if master:
        os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
        write_json_stats(cfg.OUTPUT_DIR)
    compat.setup_logging(cfg.OUTPUT_DIR, write_file=master)
    if not master:
        for handler in std_logging.root.handlers:
            handler.setLevel(std_logging.WARNING)
    logger.info(distributed.describe_process())
    distributed.make_machine_groups(cfg)


def construct_loader(cfg, split):
    """PySlowFast's data loader for ``split``; also on CPU (NUM_GPUS: 0). In a job of several
    processes, the batch of one machine (TRAIN.BATCH_SIZE, TEST.BATCH_SIZE) is divided among
    its processes, as PySlowFast divides it by NUM_GPUS; training reads a DistributedSampler
    shard (reshuffled by ``set_epoch``), validation and test a ``ShardSampler`` shard."""
    world = distributed.world_size()
    loader = compat.pyslowfast_loader(cfg, split) if world == 1 else None
    if loader is not None:
        return loader
    train = split == "train"
    dataset = build_dataset(cfg.TEST.DATASET if split == "test" else cfg.TRAIN.DATASET, cfg, split)
    batch = cfg.TEST.BATCH_SIZE if split == "test" else cfg.TRAIN.BATCH_SIZE
    per_machine = distributed.processes_per_machine(cfg)
    if batch % per_machine:
        raise ValueError(
            f"{'TEST' if split == 'test' else 'TRAIN'}.BATCH_SIZE={batch} (the batch of one "
            f"machine) is not divisible by the job's {per_machine} processes a machine"
        )
    sampler = None
    if world > 1 and train:
        sampler = torch.utils.data.distributed.DistributedSampler(dataset)
    elif world > 1:
        sampler = distributed.ShardSampler(dataset, distributed.rank(), world)
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch // per_machine,
        shuffle=train and sampler is None,
        sampler=sampler,
        num_workers=cfg.DATA_LOADER.NUM_WORKERS,
        pin_memory=cfg.DATA_LOADER.PIN_MEMORY,
        drop_last=train,
    )


def log_model_info(model, cfg):
    """Logs the model, its parameter count and its GFLOPs for one training clip (fvcore)."""
    net = model.module if hasattr(model, "module") else model
    logger.info("Model:\n{}".format(net))
    params = misc.params_count(net)
    device = next(net.parameters()).device
    gflops = count_gflops(net, ([x.to(device) for x in dummy_inputs(cfg)],))
    logger.info("Params: {:,}".format(params))
    logger.info("Flops: {:,} G".format(gflops))
    return gflops, params


def _to_device(inputs, labels, cfg):
    if not cfg.NUM_GPUS:
        return inputs, labels
    inputs = [x.cuda(non_blocking=True) for x in inputs]
    return inputs, labels.cuda(non_blocking=True)


def accuracy_ks(num_classes):
    """(1, k): the top-k accuracies the loop reports, k = TOP_K as PySlowFast's trainer, or
    the class count where there are fewer classes (``top4_acc`` with 4 classes)."""
    return 1, min(TOP_K, num_classes)


def _topk_errors(preds, labels, num_classes):
    ks = accuracy_ks(num_classes)
    return [(1.0 - x / preds.size(0)) * 100.0 for x in topks_correct(preds, labels, ks)]


def train_epoch(train_loader, model, optimizer, train_meter, cur_epoch, cfg):
    """One epoch of SGD with PySlowFast's per-iteration learning-rate schedule."""
    model.train()
    train_meter.iter_tic()
    data_size = len(train_loader)
    loss_fun = losses.get_loss_func(cfg.MODEL.LOSS_FUNC)(reduction="mean")
    for cur_iter, batch in enumerate(train_loader):
        compat.data_toc(train_meter)
        inputs, labels = _to_device(batch[0], batch[1], cfg)
        lr = optim.get_epoch_lr(cur_epoch + float(cur_iter) / data_size, cfg)
        optim.set_lr(optimizer, lr)
        preds = model(inputs)
        loss = loss_fun(preds, labels)
        misc.check_nan_losses(loss.detach())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        top1_err, top5_err = _topk_errors(preds, labels, cfg.MODEL.NUM_CLASSES)
        if distributed.world_size() > 1:
            loss, top1_err, top5_err = du.all_reduce([loss.detach(), top1_err, top5_err])
        train_meter.iter_toc()
        compat.update_train_meter(
            train_meter, float(top1_err), float(top5_err), loss.item(), lr,
            labels.size(0) * distributed.world_size(),
        )
        train_meter.log_iter_stats(cur_epoch, cur_iter)
        if cur_iter + 1 < data_size:
            train_meter.iter_tic()  # the next iteration's time starts with loading its batch
    # The timer still holds the last iteration's time: PySlowFast's meters estimate the ETA of
    # the epoch line from it as they do for the iteration lines (restarted, it would be ~0).
    train_meter.log_epoch_stats(cur_epoch)
    train_meter.reset()


@torch.no_grad()
def eval_epoch(val_loader, model, val_meter, cur_epoch, cfg):
    """Top-1/top-5 error of one clip per validation video; in a job, each process's counts
    over its shard, summed over the job before the epoch's line. The shards may differ in
    length by a batch, so the pass runs the model outside DDP (whose forward syncs buffers)."""
    model = model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
    model.eval()
    val_meter.iter_tic()
    for cur_iter, batch in enumerate(val_loader):
        compat.data_toc(val_meter)
        inputs, labels = _to_device(batch[0], batch[1], cfg)
        preds = model(inputs)
        top1_err, top5_err = _topk_errors(preds, labels, cfg.MODEL.NUM_CLASSES)
        val_meter.iter_toc()
        val_meter.update_stats(float(top1_err), float(top5_err), labels.size(0))
        val_meter.log_iter_stats(cur_epoch, cur_iter)
        if cur_iter + 1 < len(val_loader):
            val_meter.iter_tic()
    totals = torch.tensor([val_meter.num_top1_mis, val_meter.num_top5_mis,
                           val_meter.num_samples], dtype=torch.float64)
    distributed.reduce_over_job([totals])
    val_meter.num_top1_mis, val_meter.num_top5_mis = float(totals[0]), float(totals[1])
    val_meter.num_samples = int(totals[2])
    val_meter.log_epoch_stats(cur_epoch)
    val_meter.reset()


def _periodic(cur_epoch, period, max_epoch):
    return (cur_epoch + 1) % period == 0 or cur_epoch + 1 == max_epoch


def data_parallel(model, cfg):
    """``model`` under DistributedDataParallel in a job of several processes whose model
    PySlowFast's builder did not wrap (CPU processes, one GPU a process), else as it is."""
    if distributed.world_size() == 1 or isinstance(
            model, torch.nn.parallel.DistributedDataParallel):
        return model
    device = [torch.cuda.current_device()] if cfg.NUM_GPUS else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=device)


def train(cfg):
    """Trains ``cfg``'s model for SOLVER.MAX_EPOCH epochs, checkpointing under OUTPUT_DIR."""
    setup(cfg)
    logger.info("Trainer: gta_slowfast fallback loop (PySlowFast %s)", compat.generation_name())
    logger.info("Train with config:\n{}".format(cfg))
    model = build_model(cfg)
    if distributed.is_main_process():
        log_model_info(model, cfg)
    optimizer = optim.construct_optimizer(model, cfg)
    start_epoch = resume_or_initialize(cfg, model, optimizer)
    model = data_parallel(model, cfg)
    train_loader = construct_loader(cfg, "train")
    val_loader = construct_loader(cfg, "val")
    train_meter = TrainMeter(len(train_loader), cfg)
    val_meter = ValMeter(len(val_loader), cfg)
    logger.info("Start epoch: {}".format(start_epoch + 1))
    for cur_epoch in range(start_epoch, cfg.SOLVER.MAX_EPOCH):
        if isinstance(train_loader.sampler, torch.utils.data.distributed.DistributedSampler):
            train_loader.sampler.set_epoch(cur_epoch)
        train_epoch(train_loader, model, optimizer, train_meter, cur_epoch, cfg)
        if cfg.BN.USE_PRECISE_STATS and len(get_bn_modules(model)) > 0:
            num_iters = min(cfg.BN.NUM_BATCHES_PRECISE, len(train_loader))
            update_bn_stats(
                model,
                ([x.cuda() for x in b[0]] if cfg.NUM_GPUS else b[0] for b in train_loader),
                num_iters,
            )
        if _periodic(cur_epoch, cfg.TRAIN.CHECKPOINT_PERIOD, cfg.SOLVER.MAX_EPOCH):
            if distributed.is_main_process():
                save_checkpoint(cfg, model, optimizer, cur_epoch)
        if _periodic(cur_epoch, cfg.TRAIN.EVAL_PERIOD, cfg.SOLVER.MAX_EPOCH):
            eval_epoch(val_loader, model, val_meter, cur_epoch, cfg)


@torch.no_grad()
def test(cfg):
    """
    Multi-view test: TEST.NUM_ENSEMBLE_VIEWS clips x TEST.NUM_SPATIAL_CROPS crops per video,
    scores summed per video (over the job's processes too, each having tested its shard of
    the views). Logs ``test_final`` JSON stats (``top1_acc`` and ``top<k>_acc``, k of
    ``accuracy_ks``) and returns (top-1, top-k) in %.
    """
    setup(cfg)
    logger.info("Trainer: gta_slowfast fallback loop (PySlowFast %s)", compat.generation_name())
    model = build_model(cfg)
    load_for_test(cfg, model)
    # Shards may differ in length by a batch: no DDP forward (it syncs buffers).
    model = model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
    test_loader = construct_loader(cfg, "test")
    num_clips = cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS
    num_videos = len(test_loader.dataset) // num_clips
    meter = TestMeter(num_videos, num_clips, cfg.MODEL.NUM_CLASSES, len(test_loader))
    model.eval()
    meter.iter_tic()
    for cur_iter, batch in enumerate(test_loader):
        compat.data_toc(meter)
        inputs, labels = _to_device(batch[0], batch[1], cfg)
        video_idx = batch[2]
        preds = model(inputs)
        meter.iter_toc()
        meter.update_stats(preds.detach().cpu(), labels.detach().cpu(), video_idx.detach().cpu())
        meter.log_iter_stats(cur_iter)
        meter.iter_tic()
    # Views of one video may be on several processes: sum (with main's TEST.ENSEMBLE_METHOD
    # max: the max of) the per-video scores; labels are >= 0 where a process saw a video.
    ensemble = torch.distributed.ReduceOp.MAX if compat.ensemble_method(
        meter) == "max" else torch.distributed.ReduceOp.SUM
    distributed.reduce_over_job([meter.video_preds], op=ensemble)
    distributed.reduce_over_job([meter.clip_count])
    distributed.reduce_over_job([meter.video_labels], op=torch.distributed.ReduceOp.MAX)
    if not bool((meter.clip_count == num_clips).all()):
        logger.warning("clip count {} ~= num clips {}".format(meter.clip_count, num_clips))
    ks = accuracy_ks(cfg.MODEL.NUM_CLASSES)
    correct = topks_correct(meter.video_preds, meter.video_labels, ks)
    top1, top5 = [float(c) / num_videos * 100.0 for c in correct]
    logging.log_json_stats(
        {"split": "test_final", "top1_acc": "{:.2f}".format(top1),
         "top{}_acc".format(ks[1]): "{:.2f}".format(top5)}
    )
    save_path = cfg.TEST.SAVE_RESULTS_PATH
    if save_path and distributed.is_main_process():
        path = os.path.join(cfg.OUTPUT_DIR, save_path)
        with open(path, "wb") as f:
            pickle.dump([meter.video_preds, meter.video_labels], f)
        logger.info("Saved the test predictions to {}".format(path))
    return top1, top5
