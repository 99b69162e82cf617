"""Modules imported on first use, so that `symbptt --help` and `symbptt derive` do not pay for NumPy."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule(ModuleType):
    """Stands in for a module until one of its attributes is read, then becomes a thin forwarder."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._target: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._target is None:
            self._target = importlib.import_module(self.__name__)
        value = getattr(self._target, attr)
        setattr(self, attr, value)  # later reads skip this method
        return value


numpy = LazyModule("numpy")
