"""File digests, read in blocks: equal to hashing the whole file at once."""

from __future__ import annotations

import hashlib
from pathlib import Path

from core.hashing import sha256_file


def test_a_digest_covers_every_block_of_the_file(tmp_path: Path) -> None:
    data = bytes(range(256)) * 9000  # over two 1 MiB blocks
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    path.write_bytes(data[:-1] + b"\x00")  # one byte changed at the very end
    assert sha256_file(path) != hashlib.sha256(data).hexdigest()
