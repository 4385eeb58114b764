"""Independent training runs side by side, in forked worker processes (chapter 13).

A grid of small runs (arms x label counts x seeds x learning rates) keeps one core busy
per run: the networks are too small for a second intra-op thread to help, and Python threads
would share torch's *global* random generator, so a run's numbers would depend on what the
other thread did. Separate processes have a generator each. :func:`map_runs` forks them
from the calling process, so the function may be defined in a notebook and is never pickled;
only the arguments and the results travel between processes.

It forks only where that is safe: on Linux, on a machine without a usable CUDA GPU (a forked
child cannot use its parent's CUDA), and not from inside one of its own workers. Everywhere
else, and with ``workers=1`` or ``DLCORE_WORKERS=1``, it runs the calls one after another in
the calling process.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

import torch

from .devices import positive_int_env

__all__ = ["fork_workers", "map_runs", "state_from_bytes", "state_to_bytes"]

_CHILD_FN: Callable | None = None  # set in a worker by its initializer (inherited by fork)


def fork_workers(workers: int | None = None) -> int:
    """How many forked processes :func:`map_runs` would use now (1 = no fork, serial).

    ``workers`` defaults to ``min(2, cpu_count)``. ``$DLCORE_WORKERS``, when set, caps it
    (``DLCORE_WORKERS=1`` turns forking off everywhere).
    """
    workers = min(2, os.cpu_count() or 1) if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    cap = positive_int_env("DLCORE_WORKERS")
    if cap is not None:
        workers = min(workers, cap)
    if workers == 1 or _CHILD_FN is not None or not sys.platform.startswith("linux"):
        return 1
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if torch.cuda.is_available():  # the runs may use it, and a forked child cannot
        return 1
    return workers


def _child_init(fn: Callable) -> None:
    global _CHILD_FN
    _CHILD_FN = fn
    torch.set_num_threads(1)


def _child_call(args: tuple):
    assert _CHILD_FN is not None
    return _CHILD_FN(*args)


class _PoolFailure(Exception):
    """The worker processes, not ``fn``, failed: no result in time, or a dead child."""


def map_runs(fn: Callable, tasks: Iterable[Sequence], *, workers: int | None = None,
             progress: Callable | None = None, timeout: float = 600.0) -> list:
    """``[fn(*task) for task in tasks]``, in that order, in forked processes where safe.

    Args:
        fn: any callable. A child runs the parent's own object, copied by the fork, so it is
            not pickled; whatever it changes in a child (a cache, a global) is lost with
            the child. It must get its randomness from its arguments (e.g. by seeding
            inside), so that its result does not depend on which process ran it, or when.
        tasks: tuples of arguments. They and the results are pickled between processes, so
            keep results small (numbers, short lists, bytes).
        workers: processes; see :func:`fork_workers`.
        progress: a factory such as ``functools.partial(tqdm, leave=False)``, called with
            ``total=`` and updated once per finished task.
        timeout: seconds to wait for the next result. If none comes that long (a stuck
            child), or a child dies (killed, out of memory), the children are stopped and
            the unfinished tasks run serially here, with a ``RuntimeWarning``.

    Each child runs with one intra-op thread, and so does the serial fallback after a
    failed pool. Without a pool (fork not possible, ``workers=1``, a single task) the
    calls keep the caller's thread count, so they give the children's numbers when the
    caller also uses one thread. A forked run leaves the caller's global random generator
    as it was; serial calls (also after a fallback) advance it. An exception raised by
    ``fn``, in a child or here, is raised here at once, with the child's traceback as its
    cause; Ctrl-C stops the children.
    """
    tasks = [tuple(t) for t in tasks]
    n = min(fork_workers(workers), len(tasks))
    bar = progress(total=len(tasks)) if progress is not None else None
    results: dict[int, object] = {}

    def done(i, value):
        results[i] = value
        if bar is not None:
            bar.update(1)

    try:
        pinned = False
        if n > 1:
            pinned = True
            try:
                _forked(fn, tasks, n, timeout, done)
            except _PoolFailure as err:
                warnings.warn(f"map_runs: {err}; running the {len(tasks) - len(results)} "
                              "unfinished tasks serially instead", RuntimeWarning,
                              stacklevel=2)
        threads = torch.get_num_threads()
        if pinned:
            torch.set_num_threads(1)
        try:
            for i, args in enumerate(tasks):
                if i not in results:
                    done(i, fn(*args))
        finally:
            torch.set_num_threads(threads)
    finally:
        if bar is not None:
            bar.close()
    return [results[i] for i in range(len(tasks))]


def _forked(fn, tasks, n, timeout, done) -> None:
    """Run ``tasks`` in ``n`` forked children, calling ``done(i, result)`` as they finish.

    Raises :class:`_PoolFailure` when the pool cannot start, a child dies or no result
    comes for ``timeout`` seconds; ``fn``'s own exceptions pass through unchanged.
    """
    try:
        pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_child_init, initargs=(fn,))
        futures = {pool.submit(_child_call, args): i for i, args in enumerate(tasks)}
    except OSError as err:      # e.g. no memory to fork
        raise _PoolFailure(f"the worker processes could not start ({err})") from err
    clean = False
    try:
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
            if not finished:
                raise _PoolFailure(f"no result for {timeout:g} s")
            for f in finished:
                try:
                    value = f.result()      # re-raises fn's own exception, unchanged
                except BrokenProcessPool as err:
                    raise _PoolFailure(f"a worker process died ({err})") from err
                done(futures[f], value)
        clean = True
    finally:
        if clean:
            pool.shutdown(wait=True)
        else:   # an error, a timeout or Ctrl-C: stop the children without waiting on pipes
            procs = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.join(timeout=5)
                if proc.is_alive():
                    proc.kill()
                    proc.join(timeout=5)


def state_to_bytes(state) -> bytes:
    """``torch.save`` of ``state`` (e.g. a ``state_dict()``) into bytes, to return from a run.

    A result made of tensors would travel between processes through shared memory; bytes
    travel as plain data.
    """
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def state_from_bytes(data: bytes):
    """The state saved by :func:`state_to_bytes`, loaded with ``weights_only=True``."""
    return torch.load(io.BytesIO(data), weights_only=True)
