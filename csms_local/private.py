"""The local platform's state directory: private to its user, and used by one platform at a time.

Files in it hold password hashes, API tokens, TLS private keys and connection ids, so they are
created 0600 in 0700 directories (never written world-readable and narrowed afterwards), and
replaced atomically. A second ``csms local`` (or an offline ``csms charger add``) on the same
directory would overwrite the first one's snapshot: an exclusive ``flock`` on ``<dir>/lock`` stops
it with one line (the lock goes with the process, so a crash never leaves it behind).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = "lock"


class StateDirBusy(RuntimeError):
    """Another process holds the state directory; the message says which (``holder``: e.g.
    "csms local (pid 42)")."""

    def __init__(self, message: str, holder: str = ""):
        super().__init__(message)
        self.holder = holder


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it 0700."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` atomically, mode 0600 from the first byte."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an older tmp file may have had another mode
        with os.fdopen(fd, "wb") as out:
            out.write(data.encode() if isinstance(data, str) else data)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


class StateLock:
    """Exclusive lock on a state directory for the life of this object (``release`` or exit)."""

    def __init__(self, state_dir: Path, what: str = "csms local"):
        self.path = private_dir(Path(state_dir)) / LOCK_FILE
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise StateDirBusy(f"{Path(state_dir)} is in use by {holder}; stop it or use another --state-dir",
                               holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{what} (pid {os.getpid()})\n".encode(), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
