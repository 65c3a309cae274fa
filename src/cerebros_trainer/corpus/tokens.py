"""The corpus as a compact byte array: one uint8 token per UTF-8 byte."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

# Corpora up to this size stay in memory. Larger ones spill to a file under
# the cache directory, which is memory-mapped so RAM keeps only pages in use.
# At 64 MiB the reader's peak was about half of a 210 MB corpus; 16 MiB keeps
# it under a quarter (benchmarks/corpus_reading.py).
SPILL_THRESHOLD_BYTES = 16 * 1024 * 1024

# The vocabulary is the 256 byte values, so no vocabulary file is needed.
VOCABULARY_SIZE = 256


class TokenWriter:
    """Append UTF-8 bytes and hand back a 1-D `numpy.uint8` array.

    Bytes go to a growing `bytearray` until they pass `spill_threshold`, then
    to a file in `cache_dir`, which `finish()` maps read-only with `np.memmap`.
    """

    def __init__(
        self, cache_dir: Path, *, spill_threshold: int = SPILL_THRESHOLD_BYTES
    ) -> None:
        self._cache_dir = cache_dir
        self._spill_threshold = spill_threshold
        self._memory = bytearray()
        self._file: BinaryIO | None = None
        self._path: Path | None = None
        self._size = 0

    @property
    def size(self) -> int:
        """Number of bytes written so far."""
        return self._size

    @property
    def spilled(self) -> bool:
        """Whether the bytes live in a file under the cache directory."""
        return self._file is not None

    def write(self, data: bytes) -> None:
        """Append `data` to the array."""
        self._size += len(data)
        if self._file is not None:
            self._file.write(data)
            return

        self._memory += data
        if len(self._memory) > self._spill_threshold:
            self._spill()

    def finish(self) -> np.ndarray:
        """Return the bytes written as a read-only 1-D uint8 array."""
        if self._file is None:
            array = np.frombuffer(self._memory, dtype=np.uint8)
            array.flags.writeable = False
            self._memory = bytearray()
            return array

        self._file.close()
        self._file = None
        path = self._require_path()
        mapped = np.memmap(path, dtype=np.uint8, mode="r", shape=(self._size,))
        # The mapping keeps the data reachable after the name is gone, and the
        # disk space is freed once the array is garbage collected.
        path.unlink()
        return mapped

    def discard(self) -> None:
        """Drop what was written and delete the spill file, if any."""
        self._memory = bytearray()
        if self._file is not None:
            self._file.close()
            self._file = None
            self._require_path().unlink(missing_ok=True)
        self._size = 0

    def _spill(self) -> None:
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(
            dir=self._cache_dir, prefix="corpus-", suffix=".u8"
        )
        self._path = Path(name)
        self._file = os.fdopen(descriptor, "wb")
        self._file.write(self._memory)
        self._memory = bytearray()

    def _require_path(self) -> Path:
        if self._path is None:
            raise RuntimeError("the token array has no spill file")
        return self._path
