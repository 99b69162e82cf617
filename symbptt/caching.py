"""The one bounded cache of the package: a dict that forgets everything once it is full.

Long forms are printed as a stream, step by step: a factor, a symbol or a printed template is looked up
a few times while its step is near, then never again.  Forgetting everything at once costs one rebuild
of what is still in use and keeps memory flat whatever T is; no entry ever changes the result, only the
time it takes.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Bounded(dict[K, V], Generic[K, V]):
    """A cache of at most ``limit`` entries, emptied when a new entry would exceed it."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, key: K, value: V) -> V:
        """Store ``value`` under ``key`` (emptying the cache first when it is full) and return it."""
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value
