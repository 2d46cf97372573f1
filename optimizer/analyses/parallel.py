"""A Dask client for analyses that run many MILPs: the local cluster of `sweep`, or a given one.

Same choices as `optimizer sweep` (docs/what-if.md): one single-threaded worker process
per core by default (HiGHS runs one thread per solve), or an existing cluster with
`--scheduler tcp://HOST:8786`; the scheduler's connection chatter is silenced unless the
user asked for debug logs. With `serial=True` no cluster is started and tasks run in
this process, which tests and one-core machines use.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)


class SerialFuture:
    """A computation run in this process when its result is first asked for.

    The small part of the Dask Future API the analyses use; futures among the arguments
    are resolved first, as Dask resolves dependencies.
    """

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self._fn, self._args = fn, args
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None

    def result(self) -> Any:
        if not self._done:
            self._done = True
            try:
                args = [_resolve(a) for a in self._args]
                self._value = self._fn(*args)
            except Exception as exc:  # like a Dask future: raised again by result()
                self._error = exc
        if self._error is not None:
            raise self._error
        return self._value


def _resolve(value: Any) -> Any:
    """Futures inside arguments (also in lists and tuples) become their results, as in Dask."""
    if isinstance(value, SerialFuture):
        return value.result()
    if isinstance(value, (list, tuple)):
        return type(value)(_resolve(v) for v in value)
    return value


class Pool:
    """Submit tasks and collect them as they finish, on Dask or in this process."""

    def __init__(self, client: Any | None) -> None:
        self.client = client

    @property
    def workers(self) -> int:
        if self.client is None:
            return 1
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """A future; futures among `args` are passed as their results (a dependency)."""
        if self.client is None:
            return SerialFuture(fn, *args)
        return self.client.submit(fn, *args, pure=False)

    def cancel(self, futures: list[Any]) -> None:
        """Drop tasks that are no longer wanted (serial ones simply never run)."""
        if self.client is not None and futures:
            self.client.cancel(futures)

    def as_completed(self, futures: list[Any]) -> Iterator[Any]:
        if self.client is None:
            yield from futures
            return
        from dask.distributed import as_completed

        yield from as_completed(futures)


@contextmanager
def pool(scheduler: str | None = None, workers: int | None = None, serial: bool = False,
         tasks: int | None = None) -> Iterator[Pool]:
    """A Pool on a local cluster (one worker per core, at most `tasks`), a given scheduler, or serial."""
    if serial:
        yield Pool(None)
        return
    from dask.distributed import Client, LocalCluster

    if not log.isEnabledFor(logging.DEBUG):
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        n = workers or max(1, os.cpu_count() or 1)
        if tasks is not None:
            n = max(1, min(n, tasks))
        quiet = logging.DEBUG if log.isEnabledFor(logging.DEBUG) else logging.ERROR
        with warnings.catch_warnings():  # "port 8787 in use": another cluster runs; a free port is taken
            warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=quiet)  # fmt: skip
        client = Client(cluster)
    try:
        yield Pool(client)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
