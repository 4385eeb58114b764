"""dlcore.torch.parallel.map_runs: forked runs give the serial numbers, in order."""

import os
import sys
import time

import pytest

torch = pytest.importorskip("torch")

from dlcore.torch import seed_everything  # noqa: E402
from dlcore.torch.parallel import fork_workers, map_runs  # noqa: E402

forks = pytest.mark.skipif(fork_workers(2) == 1,
                           reason="map_runs forks only on Linux without a CUDA GPU")


def seeded_run(seed, lr):
    """A small training run that uses torch's global generator (init and dropout)."""
    seed_everything(seed)
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Dropout(0.5),
                              torch.nn.Linear(16, 3))
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(5):
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item(), torch.rand(1).item()


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@forks
def test_forked_runs_equal_serial_runs_in_task_order(one_thread):
    tasks = [(s, lr) for s in range(5) for lr in (1e-3, 1e-2)]
    serial = map_runs(seeded_run, tasks, workers=1)
    forked = map_runs(seeded_run, tasks, workers=2)
    assert forked == serial == [seeded_run(*t) for t in tasks]
    assert len(set(serial)) == len(tasks)          # the runs really differ


@forks
def test_a_closure_defined_here_needs_no_pickling():
    offset = 10
    out = map_runs(lambda a, b: (a * b + offset, os.getpid()), [(i, i) for i in range(6)],
                   workers=2)
    assert [v for v, _ in out] == [i * i + offset for i in range(6)]
    assert os.getpid() not in {pid for _, pid in out}      # computed in children


@forks
def test_children_use_one_intra_op_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        out = map_runs(lambda i: torch.get_num_threads(), [(i,) for i in range(4)], workers=2)
        assert out == [1, 1, 1, 1]
        assert torch.get_num_threads() == 2             # the caller's setting is kept
    finally:
        torch.set_num_threads(before)


@forks
def test_an_error_in_a_child_is_raised_with_its_message():
    def fn(i):
        if i == 3:
            raise ValueError(f"bad task {i}")
        return i

    with pytest.raises(ValueError, match="bad task 3"):
        map_runs(fn, [(i,) for i in range(6)], workers=2)


def test_serial_path_and_empty_tasks():
    assert map_runs(lambda a: a + 1, [(1,), (2,)], workers=1) == [2, 3]
    assert map_runs(lambda a: a, [], workers=2) == []
    assert map_runs(lambda: 7, [()], workers=2) == [7]


@forks
def test_progress_is_updated_once_per_task():
    calls = {"updates": 0}

    class Bar:
        def __init__(self, total):
            calls["total"] = total

        def update(self, n):
            calls["updates"] += n

        def close(self):
            calls["closed"] = True

    map_runs(lambda i: i, [(i,) for i in range(5)], workers=2, progress=Bar)
    assert calls == {"total": 5, "updates": 5, "closed": True}


@forks
def test_a_stuck_child_falls_back_to_serial_with_a_warning():
    parent = os.getpid()

    def fn(i):
        if os.getpid() != parent:       # only the children hang
            time.sleep(30)
        return i * 2

    t0 = time.perf_counter()
    with pytest.warns(RuntimeWarning, match="serially"):
        out = map_runs(fn, [(i,) for i in range(4)], workers=2, timeout=1)
    assert out == [0, 2, 4, 6]
    assert time.perf_counter() - t0 < 20


def test_fork_workers_reads_the_environment(monkeypatch):
    monkeypatch.setenv("DLCORE_WORKERS", "1")
    assert fork_workers() == 1 and fork_workers(4) == 1      # a cap, also on explicit counts
    monkeypatch.setenv("DLCORE_WORKERS", "0")
    with pytest.raises(ValueError, match="at least 1"):
        fork_workers()
    monkeypatch.setenv("DLCORE_WORKERS", "two")
    with pytest.raises(ValueError, match="DLCORE_WORKERS"):
        fork_workers()
    monkeypatch.delenv("DLCORE_WORKERS")
    with pytest.raises(ValueError, match="at least 1"):
        fork_workers(0)
    assert fork_workers(1) == 1
    can_fork = sys.platform.startswith("linux") and not torch.cuda.is_available()
    assert fork_workers(3) == (3 if can_fork else 1)


@forks
def test_a_worker_does_not_fork_again():
    out = map_runs(lambda i: fork_workers(2), [(i,) for i in range(3)], workers=2)
    assert out == [1, 1, 1]


@forks
def test_a_dead_child_falls_back_to_serial_with_a_warning():
    parent = os.getpid()

    def fn(i):
        if os.getpid() != parent and i == 2:
            os._exit(3)               # a child killed mid-task
        return -i

    with pytest.warns(RuntimeWarning, match="worker process died"):
        out = map_runs(fn, [(i,) for i in range(5)], workers=2)
    assert out == [0, -1, -2, -3, -4]


@forks
def test_the_serial_fallback_runs_with_one_thread_and_restores_the_callers():
    parent = os.getpid()
    before = torch.get_num_threads()
    torch.set_num_threads(2)

    def fn(i):
        if os.getpid() != parent:
            os._exit(3)
        return torch.get_num_threads()

    try:
        with pytest.warns(RuntimeWarning):
            assert map_runs(fn, [(0,), (1,)], workers=2) == [1, 1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_state_bytes_round_trip_a_state_dict():
    from dlcore.torch.parallel import state_from_bytes, state_to_bytes

    net = torch.nn.Linear(3, 2)
    data = state_to_bytes(net.state_dict())
    assert isinstance(data, bytes)
    other = torch.nn.Linear(3, 2)
    other.load_state_dict(state_from_bytes(data))
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(),
                                                 other.state_dict().values()))


@forks
def test_an_oserror_from_fn_is_its_own_error_not_a_pool_failure():
    import warnings

    parent, here = os.getpid(), []

    def fn(i):
        if os.getpid() == parent:
            here.append(i)            # a serial rerun would land here
        if i == 1:
            raise FileNotFoundError(f"no file for task {i}")
        return i

    with warnings.catch_warnings():
        warnings.simplefilter("error")      # no "running serially" warning either
        with pytest.raises(FileNotFoundError, match="no file for task 1"):
            map_runs(fn, [(i,) for i in range(6)], workers=2)
    assert here == []
