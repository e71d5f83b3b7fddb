"""Files written whole or not at all.

Every file vcpcheck writes (traces, ITF traces, pytest files, SVG, JUnit,
the index, graphs) goes through write_atomic: the text goes to a temporary
file of a unique name in the target's own folder (so os.replace is a rename
within one filesystem), is fsynced, replaces the target, and the folder is
fsynced so the rename itself survives a crash.  On any failure, Ctrl-C
(KeyboardInterrupt) included, the temporary file is removed and the target
is left as it was.
"""
from __future__ import annotations

import os
import tempfile

# The temporary files' prefix: tests look for leftovers by it.
TMP_PREFIX = ".vcpcheck-"

# The process's umask, read once (reading it means setting it).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _fsync_dir(folder: str) -> None:
    """Make a rename in ``folder`` durable (where the OS lets a folder be
    opened; on others there is nothing to do)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path, data) -> None:
    """Write ``data`` (str as UTF-8, or bytes) to ``path`` atomically.

    OSError propagates (the caller names the path in its one-line error);
    the temporary file never outlives the call.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=TMP_PREFIX,
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file 0600; give it what open() would have.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)
