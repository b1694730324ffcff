"""One process at a time on a SQLite data directory.

Schema changes are serialized per datatable inside one process (service.migrations); two
processes on one data directory could interleave a change's DDL and its catalog update, and
start-up recovery cannot tell whose change left a table as it is. So the data directory is
held with an exclusive ``flock`` for as long as its catalog is open: released when the
catalog database closes (``Datasette.close()``), and by the kernel when the process dies.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from datasette.utils import StartupError

LOCK_FILE = "dataservice.lock"


class DataDirInUse(StartupError):
    """Another process (a server, or a command) holds the data directory."""


class DataDirLock:
    def __init__(self, fd: int):
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: Path) -> DataDirLock:
        """Hold ``data_dir`` for this process, or raise DataDirInUse saying what to do."""
        path = data_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            os.close(fd)
            raise DataDirInUse(
                f"The data directory {data_dir} is in use by another process"
                + (f" (pid {holder})" if holder.isdigit() else "")
                + ": one data directory is served by one process at a time. Use the running "
                "server's API (/-/apps/...), or stop it before starting another server or "
                "running a `datasette dataservice` command on this directory."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
