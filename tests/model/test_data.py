"""MNIST reading, checksums and the download path (against a local HTTP server)."""

import gzip
import hashlib
import http.server
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from model import data as D
from model.data import MNISTError, load_mnist, parse_idx, read_raw


def idx_bytes(array: np.ndarray) -> bytes:
    magic = 2049 if array.ndim == 1 else 2051
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def tiny_mnist(n_train: int = 12, n_test: int = 6, seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (n_train, 28, 28))),
        "train-labels-idx1-ubyte": idx_bytes(np.arange(n_train) % 10),
        "t10k-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (n_test, 28, 28))),
        "t10k-labels-idx1-ubyte": idx_bytes(np.arange(n_test) % 10),
    }


def md5s(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.md5(raw).hexdigest() for name, raw in files.items()}


def write(directory: Path, files: dict[str, bytes], gz: bool = True) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, raw in files.items():
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (directory / name).write_bytes(raw)


# --- parsing -------------------------------------------------------------------------------

def test_parse_idx_round_trip():
    images = np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256
    out = parse_idx(idx_bytes(images))
    assert out.dtype == np.uint8 and out.shape == (2, 28, 28)
    np.testing.assert_array_equal(out, images)
    np.testing.assert_array_equal(parse_idx(idx_bytes(np.array([3, 1, 4]))), [3, 1, 4])


def test_parse_idx_wrong_magic_names_file():
    raw = struct.pack(">II", 0x12345678, 1) + b"\x00"
    with pytest.raises(MNISTError, match=r"somefile: wrong magic number 0x12345678"):
        parse_idx(raw, "somefile")


@pytest.mark.parametrize("cut", [3, 10, 100])
def test_parse_idx_truncated(cut):
    raw = idx_bytes(np.zeros((2, 28, 28)))
    with pytest.raises(MNISTError, match="f.idx: .*(truncated|too short)"):
        parse_idx(raw[:cut], "f.idx")


def test_parse_idx_trailing_garbage():
    with pytest.raises(MNISTError, match="longer than its header says"):
        parse_idx(idx_bytes(np.zeros(4)) + b"xx", "f")


def test_read_raw_corrupt_gzip(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"hello world" * 100)[:30])
    with pytest.raises(MNISTError, match=r"x.gz: the gzip data is truncated or corrupt"):
        read_raw(path)


# --- loading from a folder -----------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False])
def test_load_from_folder(tmp_path, gz):
    files = tiny_mnist()
    write(tmp_path, files, gz=gz)
    m = load_mnist(tmp_path, download=False, checksums=md5s(files))
    assert m.train_images.shape == (12, 28, 28) and m.train_images.dtype == torch.uint8
    assert m.test_labels.tolist() == [0, 1, 2, 3, 4, 5]
    assert m.train_labels.dtype == torch.int64


def test_checksum_mismatch_names_file_and_action(tmp_path):
    files = tiny_mnist()
    write(tmp_path, files)
    sums = md5s(files)
    sums["t10k-labels-idx1-ubyte"] = "0" * 32
    with pytest.raises(MNISTError, match=r"t10k-labels-idx1-ubyte.gz: checksum mismatch.*delete it"):
        load_mnist(tmp_path, download=False, checksums=sums)


def test_missing_files_say_how_to_provide(tmp_path):
    with pytest.raises(MNISTError, match=r"train-images-idx3-ubyte.*missing.*MNIST_DIR"):
        load_mnist(tmp_path, download=False)


def test_mismatched_counts(tmp_path):
    files = tiny_mnist()
    files["train-labels-idx1-ubyte"] = idx_bytes(np.arange(5) % 10)
    write(tmp_path, files)
    with pytest.raises(MNISTError, match="12 images but"):
        load_mnist(tmp_path, download=False, checksums=md5s(files))


def test_data_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "env"))
    assert D.resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert D.resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("MNIST_DIR")
    assert D.resolve_data_dir() == D.DEFAULT_CACHE
    assert ".cache" in D.DEFAULT_CACHE.parts


def test_split_is_seeded_and_disjoint(tmp_path):
    files = tiny_mnist(n_train=40)
    write(tmp_path, files)
    m = load_mnist(tmp_path, download=False, checksums=md5s(files))
    (xt, yt), (xv, yv) = m.split(validation_size=10, seed=3)
    (xt2, _), (xv2, _) = m.split(validation_size=10, seed=3)
    assert len(yt) == 30 and len(yv) == 10
    assert torch.equal(xv, xv2) and torch.equal(xt, xt2)
    rows = {bytes(x.numpy()) for x in m.train_images}
    assert {bytes(x.numpy()) for x in xt} | {bytes(x.numpy()) for x in xv} == rows
    with pytest.raises(ValueError, match="validation_size"):
        m.split(validation_size=40)


# --- downloading from a local server --------------------------------------------------------

class _Server:
    """A real http.server on 127.0.0.1 serving ``routes`` (path -> bytes); 404 otherwise."""

    def __init__(self, routes: dict[str, bytes]):
        routes_ = routes

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = routes_.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_download_then_load(tmp_path):
    files = tiny_mnist()
    routes = {f"/m/{name}.gz": gzip.compress(raw) for name, raw in files.items()}
    target = tmp_path / "cache"
    with _Server(routes) as server:
        m = load_mnist(target, download=True, mirrors=[server.url + "/m/"], checksums=md5s(files))
    assert len(m.train_labels) == 12
    assert sorted(p.name for p in target.iterdir()) == sorted(f"{n}.gz" for n in files)


def test_download_falls_back_to_next_mirror(tmp_path):
    files = tiny_mnist()
    routes = {f"/good/{name}.gz": gzip.compress(raw) for name, raw in files.items()}
    with _Server(routes) as server:
        mirrors = [server.url + "/missing/", server.url + "/good/"]
        m = load_mnist(tmp_path, download=True, mirrors=mirrors, checksums=md5s(files))
    assert len(m.test_labels) == 6


def test_corrupt_download_leaves_nothing_behind(tmp_path):
    files = tiny_mnist()
    sums = md5s(files)
    routes = {f"/m/{name}.gz": gzip.compress(raw) for name, raw in files.items()}
    bad = bytearray(files["t10k-images-idx3-ubyte"])
    bad[100] ^= 0xFF  # one flipped byte: valid gzip, valid IDX, wrong checksum
    routes["/m/t10k-images-idx3-ubyte.gz"] = gzip.compress(bytes(bad))
    with _Server(routes) as server, pytest.raises(MNISTError) as info:
        load_mnist(tmp_path, download=True, mirrors=[server.url + "/m/"], checksums=sums)
    message = str(info.value)
    assert "t10k-images-idx3-ubyte" in message and "checksum mismatch" in message
    assert "MNIST_DIR" in message  # says how to provide the files
    assert not (tmp_path / "t10k-images-idx3-ubyte.gz").exists()
    assert not list(tmp_path.glob(".*part")), "a temp file was left behind"


def test_unreachable_mirror_message(tmp_path):
    files = tiny_mnist()
    with _Server({}) as server:
        url = server.url
    with pytest.raises(MNISTError, match=r"Could not download .*from any mirror"):
        load_mnist(tmp_path, download=True, mirrors=[url + "/"], checksums=md5s(files))
    assert list(tmp_path.iterdir()) == []


# --- the real files -------------------------------------------------------------------------

@pytest.mark.mnist
def test_real_mnist(mnist_dir):
    m = load_mnist(mnist_dir, download=False)
    assert m.train_images.shape == (60000, 28, 28) and m.test_images.shape == (10000, 28, 28)
    assert torch.bincount(m.test_labels).tolist()[:2] == [980, 1135]


def test_shipped_samples():
    images, labels = D.load_samples()
    assert images.shape == (200, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [20] * 10


def test_data_cli_exits_2_for_missing_data_as_train_does(tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-m", "model.data", str(tmp_path), "--no-download"],
                       cwd=root, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.startswith(f"error: {tmp_path}/train-images-idx3-ubyte(.gz) is missing")
    assert "Traceback" not in r.stderr


def test_skip_message_names_the_missing_folder(tmp_path, monkeypatch):
    """The mnist_dir fixture's skip: it names the folder that is not there, and says what to
    set when nothing is."""
    from tests.conftest import mnist_folder

    missing = tmp_path / "no-such-mnist"
    monkeypatch.setenv("MNIST_DIR", str(missing))
    with pytest.raises(pytest.skip.Exception) as info:
        mnist_folder()
    assert f"MNIST_DIR is {missing}" in str(info.value) and "not a folder" in str(info.value)
    monkeypatch.delenv("MNIST_DIR")
    with pytest.raises(pytest.skip.Exception) as info:
        mnist_folder()
    assert "set MNIST_DIR to a folder" in str(info.value)
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))
    assert mnist_folder() == tmp_path
