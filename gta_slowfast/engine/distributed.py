"""
Where this process stands in a job of several, however the cluster started it, numbered as
PySlowFast numbers its processes (``slowfast/utils/multiprocessing.py``: machine ``SHARD_ID``
of ``NUM_SHARDS``, ``NUM_GPUS`` processes a machine, rank ``SHARD_ID * NUM_GPUS +
local_rank``).

- torchrun (``python -m torch.distributed.run``) sets ``RANK``, ``LOCAL_RANK``,
  ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``, ``GROUP_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` in
  each process it starts; the process group is initialised with ``env://``.
- SLURM's ``srun`` (one task a process) sets ``SLURM_PROCID`` (the rank), ``SLURM_LOCALID``,
  ``SLURM_NTASKS``, ``SLURM_NODEID``, ``SLURM_NNODES`` and ``SLURM_JOB_NODELIST``; the job
  meets at ``MASTER_ADDR:MASTER_PORT`` where set, else at the first host of the node list on
  a port derived from ``SLURM_JOB_ID``.
- PySlowFast's ``--num_shards/--shard_id/--init_method`` with one process a machine (CPU runs,
  ``NUM_GPUS`` 0 or 1); with ``NUM_GPUS > 1`` PySlowFast's ``launch_job`` spawns the processes
  itself, as it always has.

Every collective of the job waits at most ``DIST_TIMEOUT`` seconds for the other processes:
when one dies, the others end with an error instead of waiting forever.
"""

import datetime
import itertools
import re
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .. import compat

# The port a SLURM job meets on without MASTER_PORT: this base plus SLURM_JOB_ID modulo the
# span, so that two jobs sharing a first node do not collide.
SLURM_PORT_BASE = 20000
SLURM_PORT_SPAN = 20000


@dataclass(frozen=True)
class Job:
    """This process's place in the job: ``rank`` of ``world_size`` processes, ``local_rank``
    of the ``local_world_size`` on machine ``node_rank`` of ``num_nodes``."""

    started_by: str  # "torchrun", "srun", "--num_shards" or "one process"
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    node_rank: int = 0
    num_nodes: int = 1
    init_method: str = ""

    @property
    def external(self):
        """Whether a launcher outside this command started the job's processes (torchrun,
        srun, or one command a machine with --num_shards): this process is one of them."""
        return self.started_by != "one process"

    def describe(self, backend, timeout):
        return (
            f"Distributed job: world size {self.world_size}, rank {self.rank} (local rank "
            f"{self.local_rank} of {self.local_world_size} on node {self.node_rank} of "
            f"{self.num_nodes}), backend {backend}, started by {self.started_by}, init "
            f"{self.init_method}, collective timeout {timeout} s (DIST_TIMEOUT)"
        )


def expand_nodelist(nodelist):
    """
    The host names of a SLURM node list in its compressed form, in order, as ``scontrol show
    hostnames`` gives them: ``node[01-03,07],gpu5`` -> node01, node02, node03, node07, gpu5
    (zero padding kept; several bracket groups in one name multiply out).
    """
    names, depth, start = [], 0, 0
    for i, char in enumerate(nodelist + ","):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            if nodelist[start:i]:
                names.append(nodelist[start:i])
            start = i + 1
    if depth != 0 or not names:
        raise ValueError(f"SLURM_JOB_NODELIST={nodelist!r} is not a SLURM node list")
    hosts = []
    for name in names:
        parts = re.split(r"\[([^\]]*)\]", name)  # text, ranges, text, ranges, ..., text
        choices = []
        for index, part in enumerate(parts):
            if index % 2 == 0:
                choices.append([part])
                continue
            expanded = []
            for item in part.split(","):
                bounds = item.split("-")
                if not all(b.isdigit() for b in bounds) or len(bounds) > 2:
                    raise ValueError(
                        f"SLURM_JOB_NODELIST={nodelist!r}: {item!r} is not a number or range"
                    )
                low, high = bounds[0], bounds[-1]
                expanded += [str(n).zfill(len(low)) for n in range(int(low), int(high) + 1)]
            choices.append(expanded)
        hosts += ["".join(combo) for combo in itertools.product(*choices)]
    return hosts


def _int(environ, name):
    try:
        return int(environ[name])
    except ValueError:
        raise ValueError(f"${name}={environ[name]!r} is not an integer") from None


def _torchrun_job(environ):
    rank, world = _int(environ, "RANK"), _int(environ, "WORLD_SIZE")
    local_rank = _int(environ, "LOCAL_RANK") if "LOCAL_RANK" in environ else 0
    local_world = _int(environ, "LOCAL_WORLD_SIZE") if "LOCAL_WORLD_SIZE" in environ else world
    node = _int(environ, "GROUP_RANK") if "GROUP_RANK" in environ else rank // local_world
    return Job("torchrun", rank, world, local_rank, local_world, node,
               world // max(local_world, 1), "env://")


def _slurm_job(environ):
    rank, world = _int(environ, "SLURM_PROCID"), _int(environ, "SLURM_NTASKS")
    nodes = _int(environ, "SLURM_NNODES") if "SLURM_NNODES" in environ else 1
    if world % nodes:
        raise ValueError(
            f"$SLURM_NTASKS={world} tasks on $SLURM_NNODES={nodes} nodes: PySlowFast's ranks "
            f"need the same number of tasks on every node (sbatch --ntasks-per-node)"
        )
    addr = environ.get("MASTER_ADDR")
    if not addr:
        if "SLURM_JOB_NODELIST" not in environ:
            raise ValueError("srun job: neither $MASTER_ADDR nor $SLURM_JOB_NODELIST is set")
        addr = expand_nodelist(environ["SLURM_JOB_NODELIST"])[0]
    if environ.get("MASTER_PORT"):
        port = _int(environ, "MASTER_PORT")
    else:
        job_id = _int(environ, "SLURM_JOB_ID") if "SLURM_JOB_ID" in environ else 0
        port = SLURM_PORT_BASE + job_id % SLURM_PORT_SPAN
    local_rank = _int(environ, "SLURM_LOCALID") if "SLURM_LOCALID" in environ else 0
    node = _int(environ, "SLURM_NODEID") if "SLURM_NODEID" in environ else 0
    return Job("srun", rank, world, local_rank, world // nodes, node, nodes,
               f"tcp://{addr}:{port}")


def job_of(environ, num_shards=1, shard_id=0, init_method="", num_gpus=0):
    """
    The ``Job`` this process belongs to: started by torchrun (``RANK`` and ``WORLD_SIZE``
    set), by srun (``SLURM_PROCID`` set and ``SLURM_NTASKS`` > 1: a batch script's single
    task is not a job of several), by one command a machine with PySlowFast's
    ``--num_shards`` (when ``num_gpus`` <= 1; PySlowFast's launch_job spawns more), else one
    process. Raises naming the variable or flag whose value does not fit.
    """
    if "RANK" in environ and "WORLD_SIZE" in environ:
        job = _torchrun_job(environ)
    elif "SLURM_PROCID" in environ and "SLURM_NTASKS" in environ and \
            _int(environ, "SLURM_NTASKS") > 1:
        job = _slurm_job(environ)
    elif num_shards > 1 and num_gpus <= 1:
        job = Job("--num_shards", shard_id, num_shards, 0, 1, shard_id, num_shards, init_method)
    else:
        return Job("one process")
    expected = job.node_rank * job.local_world_size + job.local_rank
    if not (0 <= job.rank < job.world_size and job.rank == expected
            and job.local_world_size * job.num_nodes == job.world_size):
        raise ValueError(
            f"{job.started_by} started rank {job.rank} of {job.world_size} as local rank "
            f"{job.local_rank} of {job.local_world_size} on node {job.node_rank} of "
            f"{job.num_nodes}: PySlowFast numbers ranks node by node (rank = node * processes "
            f"a node + local rank = {expected}), with the same number of processes on every node"
        )
    return job


def backend_of(cfg):
    """The backend of ``cfg``'s job: PySlowFast's DIST_BACKEND (nccl) on GPUs, gloo on the
    CPU."""
    return cfg.DIST_BACKEND if cfg.NUM_GPUS else "gloo"


# The job this process joined (Job, backend, timeout), for the logs' first lines.
_joined = None


def init_process_group(job, backend, timeout, gpus=False):
    """Joins this process to ``job``'s process group: every collective (and the meeting
    itself) waits at most ``timeout`` seconds for the other processes. With ``gpus``, this
    process drives GPU ``local_rank``, as in PySlowFast's ``multiprocessing.run``."""
    global _joined
    if gpus:
        torch.cuda.set_device(job.local_rank)
    dist.init_process_group(
        backend=backend,
        init_method=job.init_method,
        world_size=job.world_size,
        rank=job.rank,
        timeout=datetime.timedelta(seconds=timeout),
    )
    _joined = (job, backend, timeout)


def describe_process():
    """One line: the job's world size, this process's rank and the backend."""
    if _joined is not None and dist.is_initialized():
        return _joined[0].describe(*_joined[1:])
    if dist.is_available() and dist.is_initialized():  # PySlowFast's launch_job spawned it
        return (f"Distributed job: world size {world_size()}, rank {rank()}, backend "
                f"{dist.get_backend()}, started by PySlowFast's launch_job")
    return "Job: one process (world size 1, rank 0), no process group"


_machine_groups_made = False


def make_machine_groups(cfg):
    """
    PySlowFast main's per-machine process groups, as its trainer makes them first
    (``du.init_distributed_training``: one group of ``processes_per_machine`` ranks a machine;
    BN.NORM_TYPE sync_batchnorm synchronises over BN.NUM_SYNC_DEVICES of them), for a job of
    several processes; once a process (``compat.init_machine_groups``; the snapshot needs
    none). PySlowFast's own call skips CPU jobs (NUM_GPUS 0).
    """
    global _machine_groups_made
    if world_size() == 1 or _machine_groups_made:
        return
    compat.init_machine_groups(processes_per_machine(cfg), cfg.SHARD_ID)
    _machine_groups_made = True


def collective_failure(err):
    """Whether ``err`` is a collective of the job failing (a peer closed its connection, or
    DIST_TIMEOUT passed) rather than a bug of this process."""
    if isinstance(err, dist.DistError):
        return True
    text = str(err)
    return isinstance(err, RuntimeError) and any(
        word in text for word in ("Gloo", "gloo", "NCCL", "Connection closed by peer",
                                  "Connection reset by peer", "Timed out", "timed out"))


def world_size():
    """Processes in the job (1 outside one)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank():
    """This process's rank in the job (0 outside one)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main_process():
    """Whether this process writes the job's files (checkpoints, logs, results): rank 0.
    (PySlowFast's ``is_master_proc(NUM_GPUS * NUM_SHARDS)`` divides by NUM_GPUS, which is 0
    in a CPU job.)"""
    return rank() == 0


def processes_per_machine(cfg):
    """How many processes of the job share one machine (PySlowFast's NUM_GPUS, on a CPU job
    the processes a node): TRAIN.BATCH_SIZE is the batch of one machine, divided by this."""
    return max(world_size() // max(cfg.NUM_SHARDS, 1), 1)


class ShardSampler(torch.utils.data.Sampler):
    """Items ``rank``, ``rank + world``, ... of a dataset in order: every item on exactly one
    process, none repeated (torch's DistributedSampler pads the shards to one length with
    repeated items), for the validation and test passes, whose scores are summed over the
    job once at the end."""

    def __init__(self, dataset, rank, world):
        self.indices = list(range(rank, len(dataset), world))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self):
        return len(self.indices)


def reduce_over_job(tensors, op=dist.ReduceOp.SUM):
    """Reduces each tensor in place over the job with ``op`` (no-op outside a job); returns
    them."""
    if world_size() > 1:
        for tensor in tensors:
            dist.all_reduce(tensor, op=op)
    return tensors
