"""Independent training runs side by side, in forked worker processes (chapter 13).

A grid of small runs (arms x label counts x seeds x learning rates) keeps one core busy
per run: the networks are too small for a second intra-op thread to help, and Python threads
would share torch's *global* random generator, so a run's numbers would depend on what the
other thread did. Separate processes have a generator each. :func:`map_runs` forks them
from the calling process, so the function may be defined in a notebook and needs no
pickling; only the arguments and the results travel between processes.

It forks only where that is safe: on Linux, with CUDA not initialised (a forked child cannot
use its parent's CUDA context). Everywhere else, and with ``workers=1`` or
``DLCORE_WORKERS=1``, it runs the calls one after another in the calling process. Each child
runs with one intra-op thread; the serial path runs with the caller's thread count, so the
two give the same numbers when the caller also uses one thread.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence

import torch

__all__ = ["fork_workers", "map_runs"]

_FN: Callable | None = None  # the function a forked child calls (inherited, not pickled)


def fork_workers(workers: int | None = None) -> int:
    """How many forked processes :func:`map_runs` would use now (1 = no fork, serial).

    ``workers`` defaults to ``$DLCORE_WORKERS`` or, failing that, ``min(2, cpu_count)``.
    """
    if workers is None:
        env = os.environ.get("DLCORE_WORKERS", "").strip()
        if env:
            try:
                workers = int(env)
            except ValueError:
                raise ValueError(f"DLCORE_WORKERS must be an integer, got {env!r}") from None
        else:
            workers = min(2, os.cpu_count() or 1)
    workers = int(workers)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if workers == 1 or not sys.platform.startswith("linux"):
        return 1
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return 1
    return workers


def _child_init() -> None:
    torch.set_num_threads(1)


def _child_call(item):
    i, args = item
    assert _FN is not None
    return i, _FN(*args)


def map_runs(fn: Callable, tasks: Iterable[Sequence], *, workers: int | None = None,
             progress: Callable | None = None, timeout: float = 600.0) -> list:
    """``[fn(*task) for task in tasks]``, in that order, in forked processes where safe.

    Args:
        fn: any callable; in a child it is the parent's own object, inherited by the fork.
            It must get its randomness from its arguments (e.g. by seeding inside), so that
            its result does not depend on which process ran it or in what order.
        tasks: tuples of arguments; they and the results must be picklable.
        workers: processes; see :func:`fork_workers`.
        progress: a factory such as ``functools.partial(tqdm, leave=False)``, called with
            ``total=`` and updated once per finished task.
        timeout: seconds to wait for any one result. If a child is stuck that long, the
            pool is stopped and the unfinished tasks run serially here, with a warning.

    An exception raised by ``fn`` in a child is raised here, and Ctrl-C stops the children.
    """
    global _FN
    tasks = [tuple(t) for t in tasks]
    n = fork_workers(workers)
    bar = progress(total=len(tasks)) if progress is not None else None
    results: dict[int, object] = {}
    try:
        if n > 1 and len(tasks) > 1:
            _FN = fn
            pool = multiprocessing.get_context("fork").Pool(min(n, len(tasks)),
                                                            initializer=_child_init)
            try:
                it = pool.imap_unordered(_child_call, list(enumerate(tasks)), chunksize=1)
                for _ in range(len(tasks)):
                    i, value = it.next(timeout=timeout)
                    results[i] = value
                    if bar is not None:
                        bar.update(1)
            except multiprocessing.TimeoutError:
                warnings.warn(f"map_runs: no result for {timeout:g} s from a worker process; "
                              f"running the {len(tasks) - len(results)} unfinished tasks "
                              "serially instead", RuntimeWarning, stacklevel=2)
            finally:
                pool.terminate()
                pool.join()
                _FN = None
        for i, args in enumerate(tasks):
            if i not in results:
                results[i] = fn(*args)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return [results[i] for i in range(len(tasks))]
