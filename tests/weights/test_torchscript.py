"""The torch-free TorchScript reader: synthetic archives, refusal of unsafe pickles, and (where
torch is installed) a cross-check of the converted Keras model against the original network."""

from __future__ import annotations

import io
import pathlib
import struct
import zipfile

import numpy as np
import pytest

from kdream.weights import torchscript as ts

# --------------------------------------------------------------------------- a tiny pickle
# assembler: writes the opcodes TorchScript's data.pkl uses (protocol 2), so the tests need
# neither torch nor importable fake classes.

MARK, TUPLE, REDUCE, BUILD, STOP = b"(", b"t", b"R", b"b", b"."
EMPTY_TUPLE, EMPTY_DICT, EMPTY_LIST = b")", b"}", b"]"
SETITEMS, APPENDS, NEWOBJ, BINPERSID, NEWFALSE = b"u", b"e", b"\x81", b"Q", b"\x89"


def op_global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def op_stack_global(module: str, name: str) -> bytes:
    """Protocol-4 STACK_GLOBAL: the other way a pickle names a callable."""
    return op_str_short(module) + op_str_short(name) + b"\x93"


def op_str_short(text: str) -> bytes:
    data = text.encode()
    return b"\x8c" + bytes([len(data)]) + data


def op_str(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def op_int(value: int) -> bytes:
    return b"J" + struct.pack("<i", value)


def op_tuple(*items: bytes) -> bytes:
    return MARK + b"".join(items) + TUPLE


def op_tensor(key, shape, stride, offset=0, numel=None, storage="FloatStorage") -> bytes:
    numel = int(np.prod(shape)) if numel is None else numel
    pid = op_tuple(op_str("storage"), op_global("torch", storage), op_str(key), op_str("cpu"))
    pid = pid[:-1] + op_int(numel) + TUPLE  # 5-tuple like torch writes
    return (
        op_global("torch._utils", "_rebuild_tensor_v2")
        + MARK
        + pid
        + BINPERSID
        + op_int(offset)
        + op_tuple(*map(op_int, shape))
        + op_tuple(*map(op_int, stride))
        + NEWFALSE
        + op_global("collections", "OrderedDict")
        + EMPTY_TUPLE
        + REDUCE
        + TUPLE
        + REDUCE
    )


def op_intlist(*values: int) -> bytes:
    items = EMPTY_LIST + MARK + b"".join(map(op_int, values)) + APPENDS
    return op_global("torch.jit._pickle", "build_intlist") + op_tuple(items) + REDUCE


def op_module(qualified: str, attrs: dict[str, bytes]) -> bytes:
    module, name = qualified.rsplit(".", 1)
    body = b"".join(op_str(key) + value for key, value in attrs.items())
    return (
        op_global(module, name) + EMPTY_TUPLE + NEWOBJ + EMPTY_DICT + MARK + body + SETITEMS + BUILD
    )


def contiguous_stride(shape) -> list[int]:
    return [int(np.prod(shape[i + 1 :])) for i in range(len(shape))]


def make_archive(pickled: bytes, storages: dict[str, np.ndarray], prefix="toy") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{prefix}/data.pkl", b"\x80\x02" + pickled + STOP)
        for key, array in storages.items():
            archive.writestr(f"{prefix}/data/{key}", np.ascontiguousarray(array).tobytes())
        archive.writestr(f"{prefix}/version", b"3\n")
    return buffer.getvalue()


def conv_unit(keys, out_channels, in_channels, size) -> tuple[bytes, dict[str, np.ndarray]]:
    """A Conv2dLayer placeholder pickle plus its storages (distinct, recognisable values)."""
    shape = (out_channels, in_channels, size, size)
    base = 100.0 * int(keys[0])
    weight = (base + np.arange(np.prod(shape))).astype("<f4").reshape(shape)
    vectors = [(base + 10 * (i + 1) + np.arange(out_channels)).astype("<f4") for i in range(3)]
    attrs = {"training": NEWFALSE, "weight": op_tensor(keys[0], shape, contiguous_stride(shape))}
    for name, key in zip(("beta", "mean", "var"), keys[1:], strict=True):
        attrs[name] = op_tensor(key, (out_channels,), (1,))
    attrs["stride"] = op_int(1)
    storages = dict(zip(keys, [weight.reshape(-1), *vectors], strict=True))
    return op_module("__torch__.inceptionv3.Conv2dLayer", attrs), storages


@pytest.fixture
def toy_archive() -> tuple[bytes, dict[str, np.ndarray]]:
    """root -> layers -> (conv, pool, mixed -> tower -> conv): three units, nested."""
    first, first_storages = conv_unit(["0", "1", "2", "3"], 2, 3, 3)
    second, second_storages = conv_unit(["4", "5", "6", "7"], 4, 2, 1)
    third, third_storages = conv_unit(["8", "9", "10", "11"], 1, 4, 1)
    pool = op_module("__torch__.torch.nn.modules.pooling.MaxPool2d", {"padding": op_intlist(0, 1)})
    tower = op_module("__torch__.torch.nn.modules.container.Sequential", {"conv": third})
    mixed = op_module("__torch__.inceptionv3.InceptionA", {"conv": second, "tower": tower})
    layers = op_module(
        "__torch__.torch.nn.modules.container.___torch_mangle_9.Sequential",
        {"conv": first, "pool0": pool, "mixed": mixed},
    )
    root = op_module("__torch__.wrap_net.WrapNet", {"net": layers})
    storages = {**first_storages, **second_storages, **third_storages}
    return make_archive(root, storages), storages


def test_reads_synthetic_archive_in_stored_order(toy_archive):
    archive, storages = toy_archive
    units = ts.read_conv_units(io.BytesIO(archive))
    assert [unit.name for unit in units] == [
        "root.net.conv",
        "root.net.mixed.conv",
        "root.net.mixed.tower.conv",
    ]
    assert units[0].weight.shape == (2, 3, 3, 3)
    np.testing.assert_array_equal(units[0].weight.reshape(-1), storages["0"])
    np.testing.assert_array_equal(units[1].mean, storages["6"])
    np.testing.assert_array_equal(units[2].var, storages["11"])
    assert units[0].weight.dtype == np.float32 and units[0].weight.flags.writeable


def test_placeholders_keep_non_tensor_attributes(toy_archive):
    root = ts.load_torchscript(io.BytesIO(toy_archive[0]))
    assert root.type_name == "__torch__.wrap_net.WrapNet"
    pool = root.attrs["net"].attrs["pool0"]
    assert isinstance(pool, ts.ScriptObject)
    assert pool.attrs["padding"] == [0, 1]
    assert root.attrs["net"].attrs["conv"].attrs["stride"] == 1


def test_strided_view_with_offset_into_shared_storage():
    storage = np.arange(24, dtype="<f4")
    # A (3, 2) transposed view starting at element 4, and a second tensor on the same storage.
    pickled = op_module(
        "__torch__.M",
        {
            "a": op_tensor("0", (3, 2), (1, 3), offset=4, numel=24),
            "b": op_tensor("0", (4,), (2,), offset=1, numel=24),
        },
    )
    root = ts.load_torchscript(io.BytesIO(make_archive(pickled, {"0": storage})))
    np.testing.assert_array_equal(root.attrs["a"], storage[4:10].reshape(2, 3).T)
    np.testing.assert_array_equal(root.attrs["b"], storage[1:9:2])


@pytest.mark.parametrize(
    "shape, stride, offset",
    [((5, 5), (5, 1), 0), ((4,), (1,), 1), ((2,), (-1,), 1), ((2,), (1,), -1)],
)
def test_views_outside_the_storage_are_refused(shape, stride, offset):
    pickled = op_module("__torch__.M", {"w": op_tensor("0", shape, stride, offset, numel=4)})
    archive = make_archive(pickled, {"0": np.zeros(4, "<f4")})
    with pytest.raises(ts.TorchScriptError):
        ts.load_torchscript(io.BytesIO(archive))


def test_missing_or_short_storage_is_an_error():
    pickled = op_module("__torch__.M", {"w": op_tensor("0", (8,), (1,))})
    with pytest.raises(ts.TorchScriptError, match="missing"):
        ts.load_torchscript(io.BytesIO(make_archive(pickled, {})))
    with pytest.raises(ts.TorchScriptError, match="truncated"):
        ts.load_torchscript(io.BytesIO(make_archive(pickled, {"0": np.zeros(3, "<f4")})))


def test_storage_keys_cannot_name_other_zip_entries():
    pickled = op_module("__torch__.M", {"w": op_tensor("../data.pkl", (1,), (1,))})
    with pytest.raises(ts.TorchScriptError, match="bad storage reference"):
        ts.load_torchscript(io.BytesIO(make_archive(pickled, {})))


def test_not_an_archive():
    with pytest.raises(ts.TorchScriptError, match="zip"):
        ts.load_torchscript(io.BytesIO(b"definitely not a zip"))
    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("readme.txt", b"hi")
    with pytest.raises(ts.TorchScriptError, match="data.pkl"):
        ts.load_torchscript(io.BytesIO(empty.getvalue()))


# --------------------------------------------------------------------------- malicious pickles


def _call(global_op: bytes, *args: str) -> bytes:
    return global_op + op_tuple(*map(op_str, args)) + REDUCE


def _malicious_cases(marker: pathlib.Path) -> dict[str, bytes]:
    touch = f"touch {marker}"
    write = f"open({str(marker)!r}, 'w').write('ran')"
    return {
        "os.system": _call(op_global("os", "system"), touch),
        "posix.system": _call(op_global("posix", "system"), touch),
        "builtins.eval": _call(op_global("builtins", "eval"), write),
        "builtins.exec stack_global": _call(op_stack_global("builtins", "exec"), write),
        "subprocess.getoutput": _call(op_global("subprocess", "getoutput"), touch),
        "torch.load": _call(op_global("torch", "load"), str(marker)),
        "INST opcode": MARK + op_str(touch) + b"ios\nsystem\n",
    }


@pytest.mark.parametrize(
    "case",
    [
        "os.system",
        "posix.system",
        "builtins.eval",
        "builtins.exec stack_global",
        "subprocess.getoutput",
        "torch.load",
        "INST opcode",
    ],
)
def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path, case):
    marker = tmp_path / "pwned"
    payload = _malicious_cases(marker)[case]
    # Hidden inside an otherwise plausible module tree, after a real tensor.
    pickled = op_module(
        "__torch__.inceptionv3.InceptionV3",
        {"weight": op_tensor("0", (2,), (1,)), "evil": payload},
    )
    archive = make_archive(pickled, {"0": np.ones(2, "<f4")})
    with pytest.raises(ts.UnsafePickleError, match="refusing"):
        ts.load_torchscript(io.BytesIO(archive))
    assert not marker.exists()


@pytest.mark.parametrize(
    "target",
    [
        op_global("torch", "FloatStorage"),
        op_global("torch._utils", "_rebuild_tensor_v2"),
        op_global("collections", "OrderedDict"),
    ],
)
def test_pickle_cannot_modify_allow_listed_globals(target, toy_archive):
    """BUILD on an allow-listed global (e.g. FloatStorage.dtype = object) must fail, and the
    next load must still see the original behaviour."""
    state = EMPTY_DICT + MARK + op_str("dtype") + op_str("|O") + SETITEMS
    slot_state = op_tuple(b"N", EMPTY_DICT + MARK + op_str("__defaults__") + b"N" + SETITEMS)
    for build_state in (state, slot_state):
        pickled = op_module("__torch__.M", {"x": target + build_state + BUILD})
        with pytest.raises(ts.TorchScriptError):
            ts.load_torchscript(io.BytesIO(make_archive(pickled, {})))
    assert len(ts.read_conv_units(io.BytesIO(toy_archive[0]))) == 3


def test_unsafe_pickle_error_is_a_torchscript_error():
    assert issubclass(ts.UnsafePickleError, ts.TorchScriptError)


# --------------------------------------------------------------------------- the real network
