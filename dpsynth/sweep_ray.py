"""Sweep cells as Ray tasks: one code path for a local Ray and an existing cluster.

`ray_session` starts a local Ray (no dashboard, quiet logs, no usage statistics, a small object
store: tasks pass only paths and small results) or joins the cluster at ``address`` after a
fast reachability check; it shuts down only a Ray it started or joined itself. `run_tasks`
submits `run_cell` tasks with the cell's Ray resources (``num_cpus``, ``num_gpus``), keeps at
most ``max_parallel`` in flight, and hands each outcome to a callback as it arrives
(`ray.wait`). Each task runs in a fresh worker process (``max_calls=1``): a cell's peak memory
is its own, and memory or a GPU context never carries over to the next cell.

On a cluster every node must see the same input paths and the sweep folder (shared storage),
and dpsynth must be installed on every node.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType

from dpsynth.errors import DpsynthError
from dpsynth.optional import require
from dpsynth.sweep_cell import CellOutcome, CellTask, error_line, run_cell

LOCAL_OBJECT_STORE_BYTES = 100 * 2**20
CONNECT_TIMEOUT_S = 5.0
NO_CAPACITY = ("--{option}-per-cell is {need:g} but the Ray cluster has {have:g} {what} in all: no cell could "
               "start; lower --{option}-per-cell, or join a cluster that has them (--address)")
UNREACHABLE = ("cannot reach a Ray cluster at --address {address!r} ({reason}); start one with `ray start "
               "--head` on its head node, or give that node's host:port (e.g. 10.0.0.5:6379)")


def load_ray() -> ModuleType:
    """The ``ray`` module, or `MissingExtraError` naming the ``sweep`` extra."""
    return require("ray", extra="sweep", purpose="dpsynth sweep (cells run as Ray tasks)")


@contextlib.contextmanager
def ray_session(*, address: str | None, num_cpus: int, use_gpus: bool) -> Iterator[ModuleType]:
    """A connected ``ray``: the caller's if already initialised, else a local Ray with ``num_cpus``
    CPUs (``address`` None) or the cluster at ``address``; shut down on exit if started here."""
    ray = load_ray()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no telemetry from a tool for medical data
    started = False
    if not ray.is_initialized():
        quiet = dict(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
        if address:
            check_reachable(address)
            try:
                ray.init(address=address, **quiet)
            except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
                raise DpsynthError(UNREACHABLE.format(address=address, reason=error_line(exc))) from None
        else:
            ray.init(num_cpus=num_cpus, num_gpus=None if use_gpus else 0,
                     object_store_memory=LOCAL_OBJECT_STORE_BYTES, **quiet)
        started = True
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def check_reachable(address: str) -> None:
    """Fail in seconds, not minutes, when ``host:port`` (or ``ray://host:port``) does not answer;
    ``auto`` and addresses without a port are left to Ray."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or not host:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise DpsynthError(UNREACHABLE.format(address=address, reason=exc.strerror or type(exc).__name__)) from None


def cell_task(task: CellTask, hide_gpus: bool) -> CellOutcome:
    """What a Ray worker runs: `run_cell`, with no GPU visible to a cell that asked for none (its
    generators' device "auto" then trains on the CPU instead of a GPU another cell holds)."""
    if hide_gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # a fresh worker (max_calls=1): CUDA is not initialised yet
    return run_cell(task)


def check_capacity(ray: ModuleType, *, cpus_per_cell: float, gpus_per_cell: float) -> None:
    """Refuse resources the whole cluster lacks: Ray would wait for them forever."""
    total = ray.cluster_resources()
    for option, resource, need in (("cpus", "CPU", cpus_per_cell), ("gpus", "GPU", gpus_per_cell)):
        have = total.get(resource, 0)
        if need > have:
            raise DpsynthError(NO_CAPACITY.format(option=option, need=need, have=have, what=f"{resource}s"))


def run_tasks(ray: ModuleType, tasks: Sequence[CellTask], *, max_parallel: int, cpus_per_cell: int,
              gpus_per_cell: float, on_done: Callable[[CellOutcome], None]) -> None:
    """Run every task, at most ``max_parallel`` at a time; call ``on_done`` with each outcome as it
    arrives. A task Ray itself loses (a crashed or killed worker) is a failed outcome too."""
    check_capacity(ray, cpus_per_cell=cpus_per_cell, gpus_per_cell=gpus_per_cell)
    remote = ray.remote(num_cpus=cpus_per_cell, num_gpus=gpus_per_cell, max_calls=1, max_retries=0)(cell_task)
    queue = list(tasks)
    in_flight: dict = {}
    try:
        while queue or in_flight:
            while queue and len(in_flight) < max_parallel:
                task = queue.pop(0)
                ref = remote.options(name=f"dpsynth-sweep:{task.cell.cell_id}").remote(task, gpus_per_cell == 0)
                in_flight[ref] = task
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                task = in_flight.pop(ref)
                try:
                    outcome = ray.get(ref)
                except Exception as exc:  # noqa: BLE001  (worker crash, out of memory, ...)
                    outcome = CellOutcome(task.cell, False, 0.0, error_line(exc), type(exc).__name__)
                on_done(outcome)
    finally:
        for ref in in_flight:  # interrupted: stop the running cells (their staging is cleaned next run)
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
