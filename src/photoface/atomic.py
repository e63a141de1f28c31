"""Atomic file writes: a reader sees the old file or the whole new one, never a part of it.

The data go to a temporary file beside the target (``.NAME.<random>.tmp``, same folder, so the
same file system), are flushed and fsynced, and the file is renamed onto the target with
``os.replace``. If writing fails the temporary file is removed and the target is untouched.
Ground floor: standard library only, open to every package.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import BinaryIO, Callable, Union

Data = Union[bytes, str, Callable[[BinaryIO], object]]


def write_atomic(path, data: Data, encoding: str = "utf-8") -> Path:
    """Write ``data`` to ``path`` atomically, creating the folder; returns the path.

    Args:
        data: bytes; a str (encoded with ``encoding``); or a function given the open binary file
            (``lambda fh: torch.save(obj, fh)``, ``lambda fh: np.savez(fh, **arrays)``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # os.open rather than tempfile.mkstemp: the file gets the umask's permissions, not 0600
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data.encode(encoding) if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
