"""Import ``pyas2lib`` on OpenSSL 3.x.y with y ≥ 10.

Why: pyas2lib pins ``oscrypto==1.3.0``, whose libcrypto version check matches one digit per
part (``\\d\\.\\d\\.\\d``), so ``OpenSSL 3.0.19`` is "not a version" and the import fails with
``LibraryNotFoundError: Error detecting the version of libcrypto``. oscrypto fixed the pattern
after 1.3.0 but published no release. This module applies exactly that fix — the pattern, in
the two modules that hold it, nothing else — by rewriting their source as they are imported,
and only when the plain import fails, so a fixed oscrypto is used as it is.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

_PATCHED = ("oscrypto._openssl._libcrypto_cffi", "oscrypto._openssl._libcrypto_ctypes")
_OLD = "'\\\\b(\\\\d\\\\.\\\\d\\\\.\\\\d[a-z]*)\\\\b'"
_NEW = "'\\\\b(\\\\d+\\\\.\\\\d+\\\\.\\\\d+[a-z]*)\\\\b'"


class _VersionPatternFix(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname not in _PATCHED:
            return None
        sys.meta_path.remove(self)  # find the real file, then load it through us
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.origin is None:
            return None
        self.origins = getattr(self, "origins", {})
        self.origins[fullname] = spec.origin
        return importlib.util.spec_from_file_location(fullname, spec.origin, loader=self)

    def create_module(self, spec):
        return None

    def exec_module(self, module: ModuleType) -> None:
        with open(self.origins[module.__name__], encoding="utf-8") as fh:
            source = fh.read().replace(_OLD, _NEW)
        exec(compile(source, self.origins[module.__name__], "exec"), module.__dict__)  # noqa: S102 - oscrypto's own file


def _forget_oscrypto() -> None:
    for name in [n for n in sys.modules if n == "oscrypto" or n.startswith("oscrypto.")]:
        del sys.modules[name]


def pyas2lib() -> ModuleType:
    """The ``pyas2lib.as2`` module, importable on this machine's OpenSSL."""
    try:
        return importlib.import_module("pyas2lib.as2")
    except Exception as exc:  # noqa: BLE001 - oscrypto raises its own LibraryNotFoundError
        if "version of libcrypto" not in str(exc):
            raise
    _forget_oscrypto()
    for name in [n for n in sys.modules if n.startswith("pyas2lib")]:
        del sys.modules[name]
    sys.meta_path.insert(0, _VersionPatternFix())
    return importlib.import_module("pyas2lib.as2")
