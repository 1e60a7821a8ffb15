"""Read tensors out of a TorchScript ``.pt`` zip without torch and without running its code.

A TorchScript archive is a zip holding ``<prefix>/data.pkl`` (a pickle of the module tree)
and one raw little-endian storage per tensor under ``<prefix>/data/<key>``. Plain
``pickle.load`` on such a file could import and call anything, so :class:`SafeUnpickler`
resolves only an allow-list of globals, each mapped to numpy/stdlib code of our own:

* ``torch._utils._rebuild_tensor_v2`` / ``_rebuild_parameter`` -> bounds-checked numpy arrays,
* ``torch.<Type>Storage`` -> a dtype marker used by ``persistent_load``,
* ``collections.OrderedDict`` and the ``torch.jit._pickle.build_*`` list helpers,
* ``__torch__.*`` (TorchScript module classes) -> inert :class:`ScriptObject` placeholders.

Every other global (``os.system``, ``builtins.eval`` ...) raises :class:`UnsafePickleError`
before anything is called.

Example:
    >>> units = read_conv_units("default_1.pt")          # doctest: +SKIP
    >>> units[0].name, units[0].weight.shape             # doctest: +SKIP
    ('net.layers.conv', (32, 3, 3, 3))
"""

from __future__ import annotations

import collections
import io
import pickle
import re
import zipfile
from dataclasses import dataclass
from os import PathLike
from typing import IO, Any

import numpy as np

__all__ = [
    "ConvUnit",
    "ScriptObject",
    "TorchScriptError",
    "UnsafePickleError",
    "find_conv_units",
    "load_torchscript",
    "read_conv_units",
]

# data.pkl of a real model is a few tens of KB; refuse absurd sizes instead of reading them.
_MAX_PICKLE_BYTES = 64 * 1024 * 1024
_STORAGE_KEY = re.compile(r"^[A-Za-z0-9_.]{1,64}$")

_STORAGE_DTYPES = {
    "DoubleStorage": "<f8",
    "FloatStorage": "<f4",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class TorchScriptError(ValueError):
    """The file is not a TorchScript archive this reader understands."""


class UnsafePickleError(TorchScriptError):
    """The pickle asked for a global outside the allow-list; nothing was called."""


class StorageType:
    """Stands in for ``torch.FloatStorage`` etc.: only carries the numpy dtype.

    Immutable (no ``__dict__``, no setattr, no ``__setstate__``), so a pickle's BUILD opcode
    cannot change it for later loads.
    """

    __slots__ = ("name", "dtype")

    def __init__(self, name: str, dtype: str) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "dtype", dtype)

    def __setattr__(self, name: str, value: Any) -> None:
        raise TorchScriptError("a TorchScript pickle may not modify storage types")

    def __setstate__(self, state: Any) -> None:
        raise TorchScriptError("a TorchScript pickle may not modify storage types")

    def __repr__(self) -> str:
        return f"StorageType({self.name!r}, {self.dtype!r})"


class _AllowedCallable:
    """An allow-listed callable, wrapped so a pickle's BUILD cannot set attributes on it
    (on a plain function it could change ``__defaults__`` for every later load)."""

    __slots__ = ("_function",)

    def __init__(self, function: Any) -> None:
        object.__setattr__(self, "_function", function)

    def __setattr__(self, name: str, value: Any) -> None:
        raise TorchScriptError("a TorchScript pickle may not modify allow-listed globals")

    def __setstate__(self, state: Any) -> None:
        raise TorchScriptError("a TorchScript pickle may not modify allow-listed globals")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._function(*args, **kwargs)


class ScriptObject:
    """Inert placeholder for a ``__torch__.*`` TorchScript class instance.

    It accepts any constructor arguments and any pickled state, and keeps the state in
    ``attrs`` (never in ``__dict__``, so a pickle cannot override our own attributes).
    """

    type_name = "ScriptObject"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.attrs: dict[str, Any] = {}

    def __new__(cls, *args: Any, **kwargs: Any) -> ScriptObject:
        obj = super().__new__(cls)
        obj.attrs = {}
        return obj

    def __setstate__(self, state: Any) -> None:
        # TorchScript modules pickle their attributes as a dict (BUILD opcode).
        if isinstance(state, dict):
            self.attrs.update(state)
        else:
            self.attrs["__state__"] = state

    def __repr__(self) -> str:
        return f"<{self.type_name} {sorted(self.attrs)}>"


def _placeholder_type(qualified_name: str) -> type[ScriptObject]:
    """A fresh ScriptObject subclass named after a TorchScript class (so repr says what it
    was). Made per load: whatever a pickle does to it cannot leak into the next load."""
    return type("ScriptObject", (ScriptObject,), {"type_name": qualified_name})


def _rebuild_tensor_v2(
    storage: Any,
    storage_offset: int,
    size: Any,
    stride: Any,
    requires_grad: Any = False,
    backward_hooks: Any = None,
    metadata: Any = None,
) -> np.ndarray:
    """Numpy version of torch's tensor rebuild; refuses views reaching outside the storage."""
    if not isinstance(storage, np.ndarray) or storage.ndim != 1:
        raise TorchScriptError("tensor rebuild without a storage from the archive")
    shape = _int_tuple(size, "size")
    strides = _int_tuple(stride, "stride")
    offset = int(storage_offset)
    if len(shape) != len(strides) or offset < 0 or min(shape + strides, default=0) < 0:
        raise TorchScriptError(f"bad tensor geometry size={shape} stride={strides}")
    if 0 in shape:
        return np.zeros(shape, dtype=storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(shape, strides, strict=True))
    if last >= storage.size:
        raise TorchScriptError(f"tensor view exceeds its storage ({last} >= {storage.size})")
    itemsize = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=shape, strides=[s * itemsize for s in strides], writeable=False
    )
    return np.array(view)  # own, contiguous copy: independent of the zip buffer


def _int_tuple(values: Any, what: str) -> tuple[int, ...]:
    if not isinstance(values, (tuple, list)) or not all(isinstance(v, int) for v in values):
        raise TorchScriptError(f"tensor {what} is not a tuple of ints: {values!r}")
    return tuple(int(v) for v in values)


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None) -> Any:
    return data


def _identity(value: Any) -> Any:
    """torch.jit._pickle.build_intlist & co. just tag a list with its type; keep the list."""
    return value


def _restore_type_tag(value: Any, type_str: Any = None) -> Any:
    return value


_ALLOWED_FUNCTIONS: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch.jit._pickle", "build_intlist"): _identity,
    ("torch.jit._pickle", "build_tensorlist"): _identity,
    ("torch.jit._pickle", "build_doublelist"): _identity,
    ("torch.jit._pickle", "build_boollist"): _identity,
    ("torch.jit._pickle", "build_genericlist"): _identity,
    ("torch.jit._pickle", "restore_type_tag"): _restore_type_tag,
}
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    key: _AllowedCallable(function) for key, function in _ALLOWED_FUNCTIONS.items()
}
_ALLOWED_GLOBALS.update(
    {("torch", name): StorageType(name, dtype) for name, dtype in _STORAGE_DTYPES.items()}
)


class SafeUnpickler(pickle.Unpickler):
    """Unpickler for TorchScript ``data.pkl`` that can only build arrays and placeholders.

    Example:
        >>> SafeUnpickler(io.BytesIO(pickle.dumps([1, 2])), lambda key, dtype, n: None).load()
        [1, 2]
    """

    def __init__(self, file: IO[bytes], read_storage: Any) -> None:
        super().__init__(file)
        self._read_storage = read_storage
        self._storages: dict[str, np.ndarray] = {}
        self._placeholders: dict[str, type[ScriptObject]] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[(module, name)]
        if module == "__torch__" or module.startswith("__torch__."):
            qualified_name = f"{module}.{name}"
            if qualified_name not in self._placeholders:
                self._placeholders[qualified_name] = _placeholder_type(qualified_name)
            return self._placeholders[qualified_name]
        raise UnsafePickleError(
            f"refusing to load global {module}.{name} from a TorchScript pickle "
            "(only tensors and module placeholders are allowed)"
        )

    def persistent_load(self, pid: Any) -> np.ndarray:
        # TorchScript writes ("storage", <Type>Storage, key, location, numel).
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise TorchScriptError(f"unsupported persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, StorageType):
            raise TorchScriptError(f"unsupported storage type {storage_type!r}")
        if not isinstance(key, str) or not _STORAGE_KEY.match(key) or not isinstance(numel, int):
            raise TorchScriptError(f"bad storage reference {key!r}")
        if key not in self._storages:
            self._storages[key] = self._read_storage(key, np.dtype(storage_type.dtype), numel)
        return self._storages[key]


def _archive_prefix(archive: zipfile.ZipFile) -> str:
    """The top folder holding data.pkl (``out_jit_module`` in fid-helper's file)."""
    candidates = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith("/data.pkl")]
    if len(candidates) != 1:
        raise TorchScriptError("not a TorchScript archive: expected exactly one <prefix>/data.pkl")
    return candidates[0][: -len("/data.pkl")]


def load_torchscript(source: str | PathLike[str] | IO[bytes]) -> Any:
    """Unpickle a TorchScript archive's ``data.pkl`` safely; tensors come back as numpy arrays.

    Example:
        >>> root = load_torchscript("default_1.pt")    # doctest: +SKIP
        >>> root.attrs["net"].attrs["layers"]          # doctest: +SKIP
        <__torch__.torch.nn.modules.container.___torch_mangle_9.Sequential [...]>
    """
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as error:
        raise TorchScriptError(f"not a TorchScript zip archive: {error}") from error
    with archive:
        prefix = _archive_prefix(archive)
        info = archive.getinfo(f"{prefix}/data.pkl")
        if info.file_size > _MAX_PICKLE_BYTES:
            raise TorchScriptError("data.pkl is implausibly large")
        payload = archive.read(info)

        def read_storage(key: str, dtype: np.dtype, numel: int) -> np.ndarray:
            name = f"{prefix}/data/{key}"
            try:
                raw = archive.read(name)
            except KeyError as error:
                raise TorchScriptError(f"storage {name} missing from the archive") from error
            if len(raw) < numel * dtype.itemsize:
                raise TorchScriptError(f"storage {name} is truncated")
            return np.frombuffer(raw, dtype=dtype, count=numel)

        try:
            return SafeUnpickler(io.BytesIO(payload), read_storage).load()
        except TorchScriptError:
            raise
        except Exception as error:  # malformed pickle: say so, never leak a half-built tree
            raise TorchScriptError(f"cannot read TorchScript pickle: {error}") from error


@dataclass(frozen=True)
class ConvUnit:
    """A conv + BatchNorm(scale=False) unit of the 2015 Inception graph."""

    name: str
    weight: np.ndarray  # (out, in, h, w)
    beta: np.ndarray
    mean: np.ndarray
    var: np.ndarray


_UNIT_KEYS = ("weight", "beta", "mean", "var")


def find_conv_units(root: Any, name: str = "root") -> list[ConvUnit]:
    """Depth-first, in pickled attribute order, every placeholder with weight/beta/mean/var.

    Example:
        >>> find_conv_units(load_torchscript("default_1.pt"))[0].name   # doctest: +SKIP
        'root.net.layers.conv'
    """
    if not isinstance(root, ScriptObject):
        return []
    attrs = root.attrs
    if all(isinstance(attrs.get(key), np.ndarray) for key in _UNIT_KEYS):
        return [ConvUnit(name, *(attrs[key] for key in _UNIT_KEYS))]
    units: list[ConvUnit] = []
    for attr_name, child in attrs.items():
        units.extend(find_conv_units(child, f"{name}.{attr_name}"))
    return units


def read_conv_units(source: str | PathLike[str] | IO[bytes]) -> list[ConvUnit]:
    """All conv units of a TorchScript file, in stored order (see :func:`find_conv_units`)."""
    return find_conv_units(load_torchscript(source))
