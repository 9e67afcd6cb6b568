"""Where tasks run: this process, a LocalCluster sized to the machine, or a scheduler.

Dask is an optional extra (``pip install 'hotspots[distributed]'``) and is imported here
only when a cluster is asked for, so ``import hotspots`` never pulls it in.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from hotspots.schema import InputError

log = logging.getLogger(__name__)

#: ``scheduler=SYNC`` runs every task in this process, one after another (no Dask).
SYNC = "sync"
#: Distributed's nannies set this in workers; it made numpy-heavy tasks ~40 % slower
#: (measured, DESIGN.md). None leaves glibc's default trimming in place.
_MALLOC_FIX = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise InputError(
            "parallel runs need Dask: pip install 'hotspots[distributed]' "
            f"(or pass scheduler={SYNC!r} to run in this process)"
        ) from None
    return distributed


@contextlib.contextmanager
def connect(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """A :class:`distributed.Client`, or None for :data:`SYNC`.

    ``scheduler=None`` starts a LocalCluster of ``workers`` processes (default: one per
    core) with one thread each; an address (``tcp://host:8786``) joins that cluster, whose
    workers must have hotspots installed and see the same paths.
    """
    if scheduler == SYNC:
        yield None
        return
    if workers is not None and workers < 1:
        raise InputError(f"workers must be at least 1, got {workers}")
    distributed = _distributed()
    import dask

    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout="30s")
        except OSError as exc:
            raise InputError(f"scheduler {scheduler!r}: cannot connect ({exc})") from None
        with client:
            yield client
        return
    n = workers or dask.system.CPU_COUNT
    with (
        dask.config.set(_MALLOC_FIX),
        distributed.LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        log.info("Started a local Dask cluster of %d worker processes", n)
        yield client


def worker_count(client: Any) -> int:
    """Workers of the client's cluster (1 when running in this process)."""
    return 1 if client is None else len(client.scheduler_info().get("workers", {}))


def run_tasks(
    client: Any,
    fn: Callable[..., Any],
    items: Sequence[Any],
    *,
    desc: str,
    progress: bool,
    capture: bool = False,
    failed_if: Callable[[Any], bool] = lambda r: isinstance(r, Exception),
    **kwargs: Any,
) -> Iterator[tuple[int, Any]]:
    """Run ``fn(item, **kwargs)`` for every item; yield ``(index, result)`` as each finishes.

    With ``capture`` a task that raises (or whose worker dies) yields the exception instead
    of stopping the others; otherwise the first error is raised. Only the items and
    ``kwargs`` travel to the workers, and only the results come back. The progress bar
    (quiet when not a terminal) counts results for which ``failed_if`` is true.
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=len(items), desc=desc, unit="task", disable=None if progress else True)
    failed = 0
    try:
        if client is None:
            for i, item in enumerate(items):
                try:
                    result = fn(item, **kwargs)
                except Exception as exc:
                    if not capture:
                        raise
                    result = exc
                failed += bool(failed_if(result))
                bar.set_postfix(failed=failed, refresh=False)
                bar.update()
                yield i, result
            return
        distributed = _distributed()
        if not bar.disable:
            bar.write(f"{desc}: {len(items)} tasks; Dask dashboard {client.dashboard_link}")
        log.info("%s: %d tasks; Dask dashboard %s", desc, len(items), client.dashboard_link)
        futures = client.map(fn, items, pure=False, **kwargs)
        index = {f.key: i for i, f in enumerate(futures)}
        for future in distributed.as_completed(futures):
            try:
                result = future.result()
            except Exception as exc:  # the task raised, or its worker was lost
                if not capture:
                    client.cancel(futures)
                    raise
                result = exc
            failed += bool(failed_if(result))
            bar.set_postfix(failed=failed, refresh=False)
            bar.update()
            future.release()
            yield index[future.key], result
    finally:
        bar.close()
