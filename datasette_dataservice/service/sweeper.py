"""On a shared catalog, every node keeps looking for work a dead node left half-done.

With one SQLite catalog a crash is recovered when the process starts again. With a shared
catalog the other nodes keep running, so each of them runs the recoveries in ``SWEEPS``
every ``INTERVAL`` seconds. A recovery must be safe to run on every node at once: it takes
the work's advisory lock without waiting (which a live node running the work holds, and a
dead node's dropped connection no longer does) and reads the work again under it (see
``service.recovery``).

Another recovery is one line: append ``async def sweep(service) -> list[str]`` (what it
did, for the log) to ``SWEEPS``.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from collections.abc import Awaitable, Callable

from .core import DataService
from .import_recovery import recover_interrupted_imports
from .recovery import recover_interrupted_changes

Sweep = Callable[[DataService], Awaitable[list[str]]]

SWEEPS: list[tuple[str, Sweep]] = [
    ("an interrupted schema change", recover_interrupted_changes),
    ("an interrupted import", recover_interrupted_imports),
]
INTERVAL = 2.0  # seconds between two sweeps of one node


class Sweeper:
    """The background task that runs ``SWEEPS`` on one node until ``stop()``."""

    def __init__(self, service: DataService, interval: float = INTERVAL):
        self.service = service
        self.interval = interval
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="datasette-dataservice sweeper"
            )

    async def stop(self) -> None:
        """Stop sweeping; a recovery under way finishes first (it runs to its end)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def sweep(self) -> list[str]:
        """Run every recovery once; what each did, for the log. One failing (the catalog
        unreachable for a moment...) is reported and the others still run."""
        outcomes = []
        for what, recover in SWEEPS:
            try:
                done = await recover(self.service)
            except asyncio.CancelledError:
                raise
            except Exception:
                print(f"datasette-dataservice could not recover {what}:", file=sys.stderr)
                traceback.print_exc()
                continue
            for outcome in done:
                print(f"datasette-dataservice recovered {what}: {outcome}")
            outcomes += done
        return outcomes

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.sweep()


def start_sweeper(service: DataService) -> None:
    """Sweep on this node from now on if the catalog is shared (a SQLite catalog has one
    process, which recovers at start-up)."""
    if service.catalog.shared and service.sweeper is None:
        service.sweeper = Sweeper(service)
        service.sweeper.start()
