"""One job in several processes: how torchrun, srun and PySlowFast's shard flags number them,
gradients averaged over the job, and two-process runs of run_net.py on 127.0.0.1 (gloo): one
set of checkpoints and logs, every test view counted once, a lost process ending the job, and
the rerun resuming."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch
from conftest import REPO
from test_engine import TINY, check_per_class_results, json_stats

from gta_slowfast import compat
from gta_slowfast.engine import distributed, upstream
from gta_slowfast.engine.distributed import Job, expand_nodelist, job_of

# Seconds a collective of the two-process runs waits for the other process.
TIMEOUT = 20
# Variables of a launcher that must not leak into the processes a test starts.
LAUNCH_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK",
                    "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID")


@pytest.mark.parametrize("nodelist,hosts", [
    ("node07", ["node07"]),
    ("node[01-03]", ["node01", "node02", "node03"]),
    ("node[01-02,10],gpu5", ["node01", "node02", "node10", "gpu5"]),
    ("rack[1-2]-n[8-9]", ["rack1-n8", "rack1-n9", "rack2-n8", "rack2-n9"]),
    ("a[098-100]", ["a098", "a099", "a100"]),
])
def test_slurm_node_lists_expand_as_scontrol_shows_them(nodelist, hosts):
    assert expand_nodelist(nodelist) == hosts


def test_a_broken_node_list_is_named():
    with pytest.raises(ValueError, match=r"SLURM_JOB_NODELIST='node\[01-03'"):
        expand_nodelist("node[01-03")


def test_torchrun_numbering():
    env = dict(RANK="11", LOCAL_RANK="3", WORLD_SIZE="16", LOCAL_WORLD_SIZE="8", GROUP_RANK="1",
               MASTER_ADDR="10.0.0.1", MASTER_PORT="29500")
    assert job_of(env) == Job("torchrun", 11, 16, 3, 8, 1, 2, "env://")


def test_srun_numbering_meets_at_the_first_node():
    env = dict(SLURM_PROCID="9", SLURM_LOCALID="1", SLURM_NTASKS="16", SLURM_NODEID="1",
               SLURM_NNODES="2", SLURM_JOB_NODELIST="gpu[17-18]", SLURM_JOB_ID="4242")
    assert job_of(env) == Job("srun", 9, 16, 1, 8, 1, 2, "tcp://gpu17:24242")
    env.update(MASTER_ADDR="10.1.1.1", MASTER_PORT="1234")
    assert job_of(env).init_method == "tcp://10.1.1.1:1234"


def test_one_slurm_task_and_gpu_shards_are_not_a_job_of_ours():
    assert not job_of(dict(SLURM_PROCID="0", SLURM_NTASKS="1")).external
    # NUM_GPUS > 1: PySlowFast's launch_job spawns the processes of each shard itself.
    assert not job_of({}, num_shards=2, shard_id=1, init_method="tcp://h:1", num_gpus=8).external
    assert job_of({}, num_shards=2, shard_id=1, init_method="tcp://h:1", num_gpus=0) == Job(
        "--num_shards", 1, 2, 0, 1, 1, 2, "tcp://h:1")


def test_ranks_not_numbered_node_by_node_are_refused():
    env = dict(RANK="1", LOCAL_RANK="0", WORLD_SIZE="4", LOCAL_WORLD_SIZE="2", GROUP_RANK="1")
    with pytest.raises(ValueError, match=r"torchrun started rank 1 of 4 as local rank 0 of 2 "
                       r"on node 1 of 2: PySlowFast numbers ranks node by node"):
        job_of(env)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmallModel(torch.nn.Module):
    """A linear classifier of one-pathway clips, taking them as PySlowFast's models do."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3 * 4 * 4, 6)

    def forward(self, inputs):
        return self.fc(inputs[0].flatten(1))


def _train_two_steps(rank, port, results):
    """One process of a two-process job: two steps of the fallback loop's train_epoch on a
    small model under ``data_parallel``, each process on its own batches; after every step
    (when the loader is asked for the next batch) the weights of both processes are gathered."""
    import slowfast.models.optimizer as optim
    import torch.distributed as dist
    from slowfast.utils.meters import TrainMeter

    import gta_slowfast
    from gta_slowfast.engine import fallback

    job = Job("--num_shards", rank, 2, 0, 1, rank, 2, f"tcp://127.0.0.1:{port}")
    distributed.init_process_group(job, "gloo", TIMEOUT)
    cfg = gta_slowfast.load_config(os.path.join(results, "tiny.yaml"))
    torch.manual_seed(0)
    model = SmallModel()
    optimizer = optim.construct_optimizer(model, cfg)
    torch.manual_seed(rank)  # different weights on rank 1: DDP starts both from rank 0's
    for p in model.parameters():
        p.data.add_(torch.randn_like(p) * rank)
    model = fallback.data_parallel(model, cfg)
    batches = torch.load(os.path.join(results, "batches.pt"))
    seen = []

    def loader():
        for inputs, labels in batches[rank]:
            yield [inputs], labels
            gathered = [None, None]
            dist.all_gather_object(gathered, [p.detach().clone() for p in model.parameters()])
            seen.append(gathered)

    class Loader(list):
        def __iter__(self):
            return loader()

    fallback.train_epoch(Loader(batches[rank]), model, optimizer,
                         TrainMeter(len(batches[rank]), cfg), 0, cfg)
    if rank == 0:
        torch.save(seen, os.path.join(results, "weights.pt"))
    dist.destroy_process_group()


def test_gradients_are_averaged_and_the_weights_stay_identical(tmp_path):
    """Two processes, each on its own half of every batch: after every step both hold the
    same weights, those of one process trained by the same optimizer on the whole batch (the
    mean loss over both halves; PySlowFast's SGD: momentum, weight decay)."""
    import slowfast.models.optimizer as optim

    import gta_slowfast

    (tmp_path / "tiny.yaml").write_text(TINY.format(data=tmp_path / "d", out=tmp_path / "o"))
    torch.manual_seed(1)
    halves = [[(torch.randn(2, 3, 1, 4, 4), torch.randint(0, 6, (2,))) for _ in range(2)]
              for _ in range(2)]
    torch.save(halves, tmp_path / "batches.pt")
    cfg = gta_slowfast.load_config(str(tmp_path / "tiny.yaml"))
    torch.manual_seed(0)
    model = SmallModel()
    optimizer = optim.construct_optimizer(model, cfg)
    expected = []
    for step in range(2):
        inputs = torch.cat([halves[0][step][0], halves[1][step][0]])
        labels = torch.cat([halves[0][step][1], halves[1][step][1]])
        optim.set_lr(optimizer, optim.get_epoch_lr(step / 2, cfg))
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model([inputs]), labels).backward()
        optimizer.step()
        expected.append([p.detach().clone() for p in model.parameters()])
    # fork: the processes start with this one's imports, in a fraction of spawn's time
    torch.multiprocessing.start_processes(_train_two_steps, args=(free_port(), str(tmp_path)),
                                          nprocs=2, start_method="fork")
    seen = torch.load(tmp_path / "weights.pt")
    for step in range(2):
        rank0, rank1 = seen[step]
        for a, b, ref in zip(rank0, rank1, expected[step]):
            assert torch.equal(a, b)
            torch.testing.assert_close(a, ref, rtol=1e-5, atol=1e-6)


def _wait_for_a_stalled_peer(rank, port, results):
    """Rank 0 all-reduces while rank 1, alive, never joins: rank 0's collective must fail
    after the group's timeout (1 s), as a collective failure of the job."""
    import torch.distributed as dist

    job = Job("--num_shards", rank, 2, 0, 1, rank, 2, f"tcp://127.0.0.1:{port}")
    distributed.init_process_group(job, "gloo", 1)
    if rank == 1:
        time.sleep(3)
        return
    try:
        dist.all_reduce(torch.ones(1))
        outcome = "returned"
    except Exception as err:
        outcome = f"{distributed.collective_failure(err)} {type(err).__name__}: {err}"
    with open(os.path.join(results, "outcome.txt"), "w") as f:
        f.write(outcome)


def test_a_collective_waits_for_a_stalled_process_only_as_long_as_the_timeout(tmp_path):
    torch.multiprocessing.start_processes(_wait_for_a_stalled_peer,
                                          args=(free_port(), str(tmp_path)), nprocs=2,
                                          start_method="fork")
    outcome = (tmp_path / "outcome.txt").read_text()
    assert outcome.startswith("True ") and "imed out" in outcome, outcome


def write_config(tmp_path):
    text = TINY.format(data=tmp_path / "data", out=tmp_path / "out") + f"DIST_TIMEOUT: {TIMEOUT}\n"
    path = tmp_path / "tiny.yaml"
    path.write_text(text)
    return str(path)


def clean_env(**variables):
    env = {k: v for k, v in os.environ.items()
           if k not in LAUNCH_VARIABLES and not k.startswith("SLURM_")}
    env.update(PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS="1", **variables)
    return env


RUN_NET = os.path.join(REPO, "projects", "gta", "run_net.py")


def start(args, env, log):
    return subprocess.Popen([sys.executable, RUN_NET, *args], env=env, stdout=log,
                            stderr=subprocess.STDOUT, text=True)


def finish(processes, logs):
    codes = []
    for process in processes:
        try:
            codes.append(process.wait(timeout=TIMEOUT + 240))
        except subprocess.TimeoutExpired:
            process.kill()
            codes.append("hung")
    return codes, [open(log).read() for log in logs]


def check_one_job(out, clips, epochs, lost=()):
    """What one job of two processes leaves: rank 0's log, one record of each epoch and of the
    test, and every test view of every video counted once in the scores and per-class files.
    ``lost``: records that a process lost mid-job may or may not have let rank 0 write."""
    log = open(os.path.join(out, "stdout.log")).read()
    first = log.splitlines()[0]
    assert "Distributed job: world size 2, rank 0 (" in first and "backend gloo" in first, first
    kinds = [(s.get("_type", s.get("split")), s.get("epoch")) for s in json_stats(out)]
    for record in lost:
        assert kinds.count(record) <= 1, kinds
        kinds = [kind for kind in kinds if kind != record]
    expected = []
    for epoch in range(1, epochs + 1):
        expected += [("train_epoch", f"{epoch}/{epochs}"), ("val_epoch", f"{epoch}/{epochs}")]
    expected = [kind for kind in expected if kind not in lost]
    assert kinds == expected + [("test_final", None)]
    scores = check_per_class_results(out, os.path.join(out, "test_predictions.pkl"))
    assert scores.shape == (6, 6)
    torch.testing.assert_close(scores.sum(1), torch.full((6,), float(clips)))
    names = sorted(os.listdir(os.path.join(out, "checkpoints")))
    assert names == [f"checkpoint_epoch_{e:05d}.pyth" for e in range(1, epochs + 1)]


def test_torchrun_runs_one_job_in_two_processes(tmp_path):
    """torchrun --nproc_per_node 2 on the CPU: the fallback loop over gloo, one set of
    checkpoints and logs written by rank 0, the test's 3 views of each video spread over both
    processes and summed once. On PySlowFast main, batch norm synchronised over both
    processes (its NaiveSyncBatchNorm3d, over the machine's process group)."""
    sync = ["BN.NORM_TYPE", "sync_batchnorm", "BN.NUM_SYNC_DEVICES", "2"]
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--master_addr", "127.0.0.1", "--master_port", str(free_port()), RUN_NET,
         "--cfg", write_config(tmp_path), "TEST.NUM_ENSEMBLE_VIEWS", "3",
         *(sync if compat.GENERATION == "main" else [])],
        env=clean_env(), capture_output=True, text=True, timeout=TIMEOUT + 240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("test top-1") == 1
    if upstream.find_checkout() is not None:  # PySlowFast main's trainer needs GPUs for this
        assert result.stdout.count("PySlowFast's trainer runs distributed only on GPUs, "
                                   "NUM_GPUS > 1 a machine, and this job has 2 CPU processes") == 1
    check_one_job(str(tmp_path / "out"), clips=3, epochs=1)
    if compat.GENERATION == "main":
        assert "NaiveSyncBatchNorm3d" in open(tmp_path / "out" / "stdout.log").read()
    first = open(tmp_path / "out" / "stdout.log").readline()
    assert first.rstrip().endswith(
        "Distributed job: world size 2, rank 0 (local rank 0 of 2 on node 0 of 1), backend "
        "gloo, started by torchrun, init env://, collective timeout 20 s (DIST_TIMEOUT)")


def test_srun_job_loses_a_process_and_the_rerun_with_shard_flags_resumes(tmp_path):
    """Two processes started as srun starts them (their SLURM variables, meeting at the first
    host of SLURM_JOB_NODELIST); rank 1 is killed once epoch 1 is saved: rank 0 ends with an
    error within DIST_TIMEOUT. The rerun, two processes with PySlowFast's --num_shards flags,
    resumes from that checkpoint and finishes the job."""
    config = [write_config(tmp_path), "SOLVER.MAX_EPOCH", "2"]
    out = tmp_path / "out"
    port = str(free_port())
    logs = [str(tmp_path / f"srun{rank}.log") for rank in range(2)]
    processes = [
        start(["--cfg", *config], clean_env(
            SLURM_PROCID=str(rank), SLURM_LOCALID=str(rank), SLURM_NTASKS="2", SLURM_NODEID="0",
            SLURM_NNODES="1", SLURM_JOB_NODELIST="127.0.0.[1-2]", SLURM_JOB_ID="7",
            MASTER_PORT=port), open(log, "w"))
        for rank, log in enumerate(logs)
    ]
    first = out / "checkpoints" / "checkpoint_epoch_00001.pyth"
    while not first.exists() and processes[1].poll() is None:
        time.sleep(0.05)
    processes[1].send_signal(signal.SIGKILL)
    codes, outputs = finish(processes, logs)
    assert first.exists(), outputs
    assert codes[0] not in (0, "hung"), outputs[0][-3000:]
    assert "error: rank 0 of 2: the job lost a process" in outputs[0], outputs[0][-3000:]
    assert sorted(os.listdir(out / "checkpoints")) == ["checkpoint_epoch_00001.pyth"]

    port = str(free_port())
    logs = [str(tmp_path / f"shard{rank}.log") for rank in range(2)]
    processes = [
        start(["--num_shards", "2", "--shard_id", str(rank), "--init_method",
               f"tcp://127.0.0.1:{port}", "--cfg", *config], clean_env(), open(log, "w"))
        for rank, log in enumerate(logs)
    ]
    codes, outputs = finish(processes, logs)
    assert codes == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    log = open(out / "stdout.log").read()
    assert f"Load from the last checkpoint of OUTPUT_DIR: {first}" in log
    assert "started by --num_shards" in log
    # Rank 1 was killed during epoch 1's validation or epoch 2's first step (rank 0 cannot
    # finish that step without it): epoch 1's validation record may be missing; nothing is
    # recorded twice.
    check_one_job(str(out), clips=1, epochs=2, lost=[("val_epoch", "1/2")])


def test_a_job_sets_pyslowfasts_machine_numbering_and_num_gpus_must_match_it(tmp_path):
    from gta_slowfast.config import ConfigError
    from gta_slowfast.engine import launch

    config = write_config(tmp_path)
    torchrun = Job("torchrun", 9, 16, 1, 8, 1, 2, "env://")
    cfg = launch.run_config(launch.parse_args(["--cfg", config]), config, torchrun)
    assert (cfg.NUM_GPUS, cfg.NUM_SHARDS, cfg.SHARD_ID) == (0, 2, 1)  # CPU processes
    with pytest.raises(ConfigError, match=r"NUM_GPUS=4, but torchrun started 8 processes on "
                       r"this node: .* set NUM_GPUS 8, or NUM_GPUS 0 for CPU processes"):
        launch.run_config(launch.parse_args(["--cfg", config, "NUM_GPUS", "4"]), config, torchrun)
