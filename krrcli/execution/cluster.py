"""A Dask cluster as a place for krr's work: connect (or start a local one), submit, wait, reduce.

``--engine dask`` connects to the scheduler at ``--scheduler`` (or ``DASK_SCHEDULER_ADDRESS``);
without an address it starts a ``LocalCluster`` of one single-threaded worker per core and closes
it at the end. Work is submitted as plain functions of krr's (the workers need krr installed);
every way the cluster can fail ends in a :class:`~krrcli.errors.ClusterError`:

- the scheduler cannot be reached (within ``CONNECT_SECONDS``), or the connection is lost;
- the cluster has had no worker for ``NO_WORKER_SECONDS`` while work waits;
- a worker died while running a task and Dask's retries (its ``allowed-failures``) ran out.

A worker lost mid-fit is otherwise harmless: Dask recomputes what it held from the same inputs
(every task here is a pure function of its arguments), so the result is the same.

Dask itself is imported only here, and only when the engine is asked for.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..errors import ClusterError, KrrError, UsageError
from .blas import cores
from .local import add_sums

CONNECT_SECONDS = 10
NO_WORKER_SECONDS = float(os.environ.get("KRR_DASK_NO_WORKER_SECONDS", "30"))
_POLL_SECONDS = 0.5
ENGINES = ("local", "dask")
INSTALL_ADVICE = "pip install 'krrcli[dask]' (it brings dask[dataframe] and distributed)"


def check_engine(engine: str, scheduler: str | None = None) -> None:
    """A usage error, before any work, for an unknown engine, a dask engine without Dask, or a scheduler
    for the local engine."""
    if engine not in ENGINES:
        raise UsageError(f"--engine must be local or dask, got {engine!r}")
    if scheduler and engine != "dask":
        raise UsageError("--scheduler is for --engine dask; add --engine dask, or leave out --scheduler")
    if engine == "dask":
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise UsageError(f"--engine dask needs Dask, which is not installed: {INSTALL_ADVICE}") from None


class Cluster:
    """A connection to a Dask cluster (a context manager: the connection, and a cluster krr started,
    are closed at the end)."""

    def __init__(self, address: str | None = None, *, processes: bool = True, workers: int | None = None) -> None:
        check_engine("dask")
        from distributed import Client, LocalCluster

        for name in ("distributed", "tornado", "bokeh"):  # the cluster's own chatter: krr reports failures
            logging.getLogger(name).setLevel(logging.CRITICAL)
        self.address = address or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
        self._local = None
        try:
            if self.address:
                self.client = Client(self.address, timeout=CONNECT_SECONDS, set_as_default=False)
            else:
                with warnings.catch_warnings():  # its health-check server moves off a busy port 8787: harmless
                    warnings.filterwarnings("ignore", message="Port .* is already in use")
                    self._local = LocalCluster(
                        n_workers=workers or cores(),
                        threads_per_worker=1,
                        processes=processes,
                        dashboard_address=None,
                        silence_logs=logging.CRITICAL,
                    )
                self.client = Client(self._local, set_as_default=False)
                self.address = self._local.scheduler_address
        except (OSError, TimeoutError, ValueError) as exc:
            self.close()
            where = f"the Dask scheduler at {self.address}" if self.address else "a local Dask cluster"
            raise ClusterError(f"cannot reach {where}: {_reason(exc)}; {_advice(self.address)}") from None

    @property
    def started_here(self) -> bool:
        return self._local is not None

    def n_workers(self) -> int:
        try:
            return len(self.client.nthreads())
        except Exception as exc:
            raise self._lost(exc) from None

    def close(self) -> None:
        for thing in (getattr(self, "client", None), self._local):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # (closing a broken connection: nothing more to say)
                    pass

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- work ---------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A future of ``fn(*args, **kwargs)`` on a worker (arguments may be futures)."""
        try:
            return self.client.submit(fn, *args, pure=False, **kwargs)
        except Exception as exc:
            raise self._lost(exc) from None

    def scatter(self, value: Any) -> Any:
        """``value`` sent once to the workers (a future), for arguments many tasks share."""
        try:
            return self.client.scatter(value, broadcast=False, hash=False)
        except Exception as exc:
            raise self._lost(exc) from None

    def gather(self, futures: Sequence[Any]) -> list[Any]:
        """The results of ``futures``, in order."""
        self.wait(futures)
        try:
            return list(self.client.gather(list(futures)))
        except KrrError:
            raise
        except Exception as exc:
            raise self._failed(exc) from None

    def result(self, future: Any) -> Any:
        return self.gather([future])[0]

    def as_done(self, futures: Sequence[Any]) -> Iterator[int]:
        """The positions of ``futures`` as each completes (their errors are raised by :meth:`gather`)."""
        pending = list(range(len(futures)))
        while pending:
            done = [i for i in pending if futures[i].done()]
            if not done:
                self.wait([futures[i] for i in pending], any_done=True)
                continue
            for i in done:
                pending.remove(i)
                yield i

    def wait(self, futures: Sequence[Any], any_done: bool = False) -> None:
        """Wait for ``futures`` (or one of them), checking all the while that the cluster still has workers."""
        from distributed import wait

        idle_since: float | None = None
        futures = list(futures)
        while True:
            try:
                with self.client.as_current():  # (distributed.wait finds its client so)
                    wait(futures, timeout=_POLL_SECONDS, return_when="FIRST_COMPLETED" if any_done else "ALL_COMPLETED")
                return
            except TimeoutError:
                pass
            except Exception as exc:
                raise self._lost(exc) from None
            if any(f.status in ("error", "cancelled") for f in futures):
                return  # gather reports it
            if self.n_workers() == 0:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > NO_WORKER_SECONDS:
                    raise ClusterError(
                        f"the Dask cluster at {self.address} has had no workers for {NO_WORKER_SECONDS:g} s "
                        "while krr's work waited; start workers (dask worker ADDRESS) and run again"
                    )
            else:
                idle_since = None

    def tree_sum(self, parts: Sequence[Any]) -> tuple[np.ndarray, ...]:
        """The sum of ``parts`` (futures of tuples of arrays), added pairwise on the workers, neighbours
        first (always in the same order: the same bits every run); the total comes to the client."""
        level = list(parts)
        while len(level) > 1:
            nxt = [self.submit(add_sums, level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        return self.result(level[0])

    # -- failures -----------------------------------------------------------
    def _failed(self, exc: BaseException) -> ClusterError:
        from distributed import KilledWorker

        if isinstance(exc, KilledWorker):
            return ClusterError(
                f"a Dask worker died while running krr's work, and so did its retries ({_reason(exc)}); "
                "check the workers' memory and logs"
            )
        return self._lost(exc)

    def _lost(self, exc: BaseException) -> ClusterError:
        if isinstance(exc, ClusterError):
            return exc
        return ClusterError(f"lost the Dask scheduler at {self.address}: {_reason(exc)}; {_advice(self.address)}")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _advice(address: str | None) -> str:
    if not address:
        return "check that this machine can start worker processes"
    return "is `dask scheduler` running there, and is the address (--scheduler or DASK_SCHEDULER_ADDRESS) right?"
