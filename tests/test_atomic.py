import os
import stat

import numpy as np
import pytest

from photoface.atomic import write_atomic


def test_bytes_text_and_writer_functions(tmp_path):
    assert write_atomic(tmp_path / "a" / "b.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    assert write_atomic(tmp_path / "t.txt", "grüße\n").read_text(encoding="utf-8") == "grüße\n"
    path = write_atomic(tmp_path / "m.npz", lambda fh: np.savez(fh, x=np.arange(3)))
    assert np.load(path)["x"].tolist() == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b.bin", "m.npz", "t.txt"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = write_atomic(tmp_path / "f.txt", "old")

    def broken(fh):
        fh.write(b"half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        write_atomic(path, broken)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["f.txt"]


def test_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        mode = stat.S_IMODE(write_atomic(tmp_path / "p.bin", b"x").stat().st_mode)
    finally:
        os.umask(old)
    assert mode == 0o644
