"""When the data service starts: creates its data directory, attaches its catalog and its
datasources, finishes any schema change, soft delete or restore a crash interrupted, marks
failed the imports it interrupted, and rewrites the views an earlier release wrote otherwise.

Configured (a ``plugins.datasette-dataservice`` block) or with a catalog already in its data
directory, it starts with Datasette; otherwise on first use (a request to ``/-/apps``...), so
a Datasette that has the plugin installed and never uses it gets no directory, no database
and no permission rules from it, and its start-up cannot fail on the plugin's account.
"""

from __future__ import annotations

import asyncio
import weakref

from ..config import DataServiceConfig
from ..errors import DataServiceError
from .core import DataService, service_for
from .import_recovery import recover_interrupted_imports
from .recovery import recover_interrupted_changes
from .softdelete import reconcile_trash
from .sweeper import start_sweeper
from .views import refresh_views

_start_locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def start_with_datasette(datasette, config: DataServiceConfig, configured: bool) -> None:
    """Datasette's start-up: build the service; start it now if it is configured or used."""
    service = DataService(datasette, config)
    if configured or config.catalog_path.is_file():
        await _start(service)


async def started_service(datasette) -> DataService:
    """The data service, started on its first use."""
    service = service_for(datasette)
    if service.catalog is None:
        async with _start_locks.setdefault(service, asyncio.Lock()):
            if service.catalog is None:
                await _start(service)
    return service


async def _start(service: DataService) -> None:
    data_dir = service.config.data_dir
    if not data_dir.is_absolute():
        raise DataServiceError(
            f'The data directory "{data_dir}" is relative to a working directory that no '
            "longer exists; set plugins.datasette-dataservice.data_dir to an absolute path",
            status=503,
        )
    try:
        await service.start()
    except OSError as e:  # the directory cannot be created or written
        raise DataServiceError(
            f'The data directory "{data_dir}" cannot be used: {e.strerror or e}', status=503
        ) from e
    for outcome in await recover_interrupted_changes(service):
        print(f"datasette-dataservice recovered an interrupted schema change: {outcome}")
    for outcome in await recover_interrupted_imports(service):
        print(f"datasette-dataservice marked an import its node left unfinished: {outcome}")
    for outcome in await reconcile_trash(service):
        print(f"datasette-dataservice finished an interrupted soft delete or restore: {outcome}")
    for outcome in await refresh_views(service):
        print(f"datasette-dataservice regenerated a view an earlier release wrote: {outcome}")
    start_sweeper(service)  # on a shared catalog, what a dead node left half-done
