"""The downloader and the online path of the image loaders, against a real local HTTP server.

Everything here talks only to a server on 127.0.0.1 started by the test; any other
connection or DNS lookup raises. The image files served are tiny stand-ins built
by the tests (the library itself never makes up data).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import socket
import tarfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from dlcore.data import download, load_cifar10, load_fashion_mnist, load_mnist
from dlcore.data.download import (
    ChecksumError,
    DatasetUnavailableError,
    DownloadError,
    Resource,
    download_url,
    fetch,
    is_cached,
    network_available,
)
from dlcore.data.registry import REGISTRY

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", None}


# ---------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def only_localhost(monkeypatch, tmp_path):
    """Refuse every connection and DNS lookup that is not local; cache in tmp_path."""
    real_connect, real_connect_ex, real_getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOCAL_HOSTS:
            raise OSError(f"network blocked in tests: {address}")

    def connect(sock, address):
        check(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock, address):
        check(sock, address)
        return real_connect_ex(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        if host not in LOCAL_HOSTS:
            raise socket.gaierror(f"DNS blocked in tests: {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setenv("DLCORE_DATA", str(tmp_path / "cache"))
    monkeypatch.delenv("DLCORE_OFFLINE", raising=False)
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)  # talk to the local server directly
    download.reset_network_cache()
    yield
    download.reset_network_cache()


class LocalServer:
    """Routes: path -> (body, mode). Modes: ok, truncate, stall, flaky (first request 503)."""

    def __init__(self):
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.hits: Counter[str] = Counter()
        self.release = threading.Event()
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                state.hits[self.path] += 1
                if self.path not in state.routes:
                    self.send_error(404, "Not Found")
                    return
                body, mode = state.routes[self.path]
                if mode == "flaky" and state.hits[self.path] == 1:
                    self.send_error(503, "Busy")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                extra = 1000 if mode == "truncate" else 0
                self.send_header("Content-Length", str(len(body) + extra))
                self.end_headers()
                if mode == "stall":
                    self.wfile.write(body[:10])
                    self.wfile.flush()
                    state.release.wait(10)
                    return
                self.wfile.write(body)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def serve(self, path: str, body: bytes, mode: str = "ok") -> str:
        self.routes[path] = (body, mode)
        return self.url(path)


@pytest.fixture
def server():
    srv = LocalServer()
    srv.thread.start()
    yield srv
    srv.release.set()
    srv.httpd.shutdown()
    srv.httpd.server_close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cache_files():
    """Every file under the cache folder, temporary ones included."""
    root = download.cache_dir()
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PAYLOAD = os.urandom(50_000)


# ---------------------------------------------------------------- the downloader


def test_download_is_cached_verified_and_reused_without_a_second_request(server):
    res = Resource("blob.bin", (server.serve("/blob.bin", PAYLOAD),), sha256=sha(PAYLOAD))
    path = fetch(res, "demo")
    assert path.read_bytes() == PAYLOAD
    assert server.hits["/blob.bin"] == 1
    again = fetch(res, "demo")
    assert again == path and again.read_bytes() == PAYLOAD
    assert server.hits["/blob.bin"] == 1, "a verified cached file must not be downloaded again"
    assert cache_files() == ["demo/blob.bin", "demo/blob.bin.verified"]


def test_corrupted_cache_file_is_detected_and_downloaded_again(server):
    res = Resource("blob.bin", (server.serve("/blob.bin", PAYLOAD),), sha256=sha(PAYLOAD))
    path = fetch(res, "demo")
    path.write_bytes(b"garbage" + PAYLOAD[7:])
    assert not is_cached(res, "demo")
    assert fetch(res, "demo").read_bytes() == PAYLOAD
    assert server.hits["/blob.bin"] == 2


def test_large_cached_files_are_checked_by_stamp_instead_of_rehashing(server, monkeypatch):
    monkeypatch.setattr(download, "REHASH_LIMIT", 100)  # treat the 50 kB payload as "large"
    res = Resource("blob.bin", (server.serve("/blob.bin", PAYLOAD),), sha256=sha(PAYLOAD), size=len(PAYLOAD))
    path = fetch(res, "demo")
    monkeypatch.setattr(download, "file_digests", lambda p: pytest.fail("reuse must not rehash large files"))
    assert is_cached(res, "demo")
    os.utime(path, ns=(0, 0))  # the file changed since it was verified
    assert not is_cached(res, "demo")


def test_wrong_checksum_raises_and_leaves_nothing_in_the_cache(server):
    res = Resource("blob.bin", (server.serve("/blob.bin", PAYLOAD),), sha256="0" * 64)
    with pytest.raises(ChecksumError, match="checksum is wrong"):
        fetch(res, "demo")
    assert cache_files() == []
    assert server.hits["/blob.bin"] == 1, "a checksum mismatch is not retried on the same mirror"


def test_md5_is_supported_as_well(server):
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    good = Resource("a.bin", (server.serve("/a.bin", PAYLOAD),), md5=md5)
    assert fetch(good, "demo").read_bytes() == PAYLOAD
    bad = Resource("b.bin", (server.serve("/b.bin", PAYLOAD),), md5="f" * 32)
    with pytest.raises(ChecksumError, match="md5 expected f{32}"):
        fetch(bad, "demo")
    assert not (download.cache_dir() / "demo" / "b.bin").exists()


def test_interrupted_transfer_leaves_no_partial_file(server):
    url = server.serve("/cut.bin", PAYLOAD, mode="truncate")
    start = time.monotonic()
    with pytest.raises(DownloadError, match="cut short"):
        fetch(Resource("cut.bin", (url,), sha256=sha(PAYLOAD)), "demo", backoff=0.01)
    assert time.monotonic() - start < 5
    assert cache_files() == [], "no partial or temporary file may remain"
    assert server.hits["/cut.bin"] == 3, "a cut-short transfer is retried (2 retries by default)"


def test_404_is_a_clear_error_without_retries(server):
    start = time.monotonic()
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(Resource("missing.bin", (server.url("/missing.bin"),), sha256=sha(PAYLOAD)), "demo")
    assert time.monotonic() - start < 3
    assert server.hits["/missing.bin"] == 1
    assert cache_files() == []


def test_refused_connection_fails_quickly_with_default_settings():
    url = f"http://127.0.0.1:{closed_port()}/file.bin"
    start = time.monotonic()
    with pytest.raises(DownloadError, match="failed after 3 attempts"):
        download_url(url, download.cache_dir() / "demo" / "file.bin", sha256=sha(PAYLOAD))
    assert time.monotonic() - start < 5
    assert cache_files() == []


def test_stalled_server_times_out_instead_of_hanging(server):
    url = server.serve("/slow.bin", PAYLOAD, mode="stall")
    start = time.monotonic()
    with pytest.raises(DownloadError):
        fetch(Resource("slow.bin", (url,), sha256=sha(PAYLOAD)), "demo", timeout=0.3, retries=1, backoff=0.01)
    assert time.monotonic() - start < 3
    assert cache_files() == []


def test_server_errors_are_retried_with_backoff(server):
    url = server.serve("/flaky.bin", PAYLOAD, mode="flaky")
    path = fetch(Resource("flaky.bin", (url,), sha256=sha(PAYLOAD)), "demo", backoff=0.01)
    assert path.read_bytes() == PAYLOAD
    assert server.hits["/flaky.bin"] == 2


def test_mirrors_are_tried_in_order(server):
    urls = (server.url("/gone.bin"), server.serve("/mirror.bin", PAYLOAD))
    assert fetch(Resource("mirror.bin", urls, sha256=sha(PAYLOAD)), "demo").read_bytes() == PAYLOAD
    assert server.hits["/gone.bin"] == 1 and server.hits["/mirror.bin"] == 1


def test_network_probe_is_quick_cached_and_honours_dlcore_offline(server, monkeypatch):
    assert network_available(server.url("/")) is True
    assert network_available(f"http://127.0.0.1:{closed_port()}/") is False
    start = time.monotonic()
    assert network_available("https://example.invalid/") is False  # DNS is blocked here
    assert time.monotonic() - start < 3
    calls = []
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: calls.append(a))
    assert network_available(server.url("/")) is True, "the answer is cached per process"
    monkeypatch.setenv("DLCORE_OFFLINE", "1")
    download.reset_network_cache()
    assert network_available(server.url("/")) is False
    assert calls == [], "DLCORE_OFFLINE=1 must not probe at all"


def test_registry_records_checksums_for_every_file():
    for dataset, files in REGISTRY.items():
        for role, res in files.items():
            assert res.verified, f"{dataset}/{role} has no checksum"
            assert res.sha256 is None or len(res.sha256) == 64
            assert res.md5 is None or len(res.md5) == 32
            assert all(u.startswith(("https://", "http://")) for u in res.urls)


# ---------------------------------------------------------------- loaders, online path


def idx_gz(array: np.ndarray) -> bytes:
    """A gzipped IDX file of unsigned bytes (the MNIST file format)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def serve_idx_set(server, monkeypatch, key: str, n_train: int = 30, n_test: int = 12):
    """Serve a tiny IDX dataset and point REGISTRY[key] at it. Returns the arrays."""
    rng = np.random.default_rng(1)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28)), "train_labels": np.arange(n_train) % 10,
        "test_images": rng.integers(0, 256, (n_test, 28, 28)), "test_labels": np.arange(n_test) % 10,
    }
    files = {}
    for role, array in arrays.items():
        body = idx_gz(array)
        name = REGISTRY[key][role].filename
        url = server.serve(f"/{key}/{name}", body)
        files[role] = Resource(name, (url,), sha256=sha(body), size=len(body))
    monkeypatch.setitem(REGISTRY, key, files)
    return arrays


def test_load_mnist_downloads_official_files_then_uses_the_cache(server, monkeypatch, capsys):
    arrays = serve_idx_set(server, monkeypatch, "mnist")
    ds = load_mnist("train")
    assert ds.full and ds.source == "official files, downloaded and verified"
    assert ds.X.shape == (30, 1, 28, 28) and ds.X.dtype == np.float32
    np.testing.assert_allclose(ds.X[:, 0] * 255, arrays["train_images"], atol=1e-3)
    np.testing.assert_array_equal(ds.y, arrays["train_labels"])
    assert capsys.readouterr().out.strip() == "MNIST (train): official files, downloaded and verified, 30 images"
    assert load_mnist("test", verbose=False).X.shape == (12, 1, 28, 28)
    hits = sum(server.hits.values())
    assert hits == 4
    monkeypatch.setenv("DLCORE_OFFLINE", "1")  # the verified cache works offline too
    again = load_mnist("train", flatten=True)
    assert again.source == "official files, cached" and again.X.shape == (30, 784)
    assert load_mnist("all", verbose=False).X.shape == (42, 1, 28, 28)
    assert sum(server.hits.values()) == hits, "cached files are not requested again"


def test_load_mnist_falls_back_when_the_download_fails(server, monkeypatch):
    files = {role: Resource(r.filename, (server.url("/nothing/" + r.filename),), sha256="0" * 64)
             for role, r in REGISTRY["mnist"].items()}
    monkeypatch.setitem(REGISTRY, "mnist", files)
    ds = load_mnist("test", verbose=False)
    assert not ds.full and ds.X.shape == (1000, 1, 28, 28)
    assert "offline fallback" in ds.message and "download failed" in ds.message and "404" in ds.message


def test_load_fashion_mnist_online_and_its_error_when_the_download_fails(server, monkeypatch):
    serve_idx_set(server, monkeypatch, "fashion_mnist", n_train=20, n_test=10)
    ds = load_fashion_mnist("test", verbose=False)
    assert ds.X.shape == (10, 1, 28, 28) and ds.classes[9] == "Ankle boot"
    for r in REGISTRY["fashion_mnist"].values():
        server.routes.pop(f"/fashion_mnist/{r.filename}")
    monkeypatch.setenv("DLCORE_DATA", str(download.cache_dir()) + "-empty")
    with pytest.raises(DatasetUnavailableError, match="load_mnist") as info:
        load_fashion_mnist("train")
    assert "HTTP 404" in info.value.reason and info.value.fallback == "load_mnist"


def test_load_cifar10_reads_the_python_archive(server, monkeypatch):
    rng = np.random.default_rng(2)
    buffer = io.BytesIO()
    batches = {}
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            data, labels = rng.integers(0, 256, (4, 3072), dtype=np.uint8), rng.integers(0, 10, 4).tolist()
            batches[name] = data, labels
            blob = pickle.dumps({b"data": data, b"labels": labels})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    body = buffer.getvalue()
    url = server.serve("/cifar-10-python.tar.gz", body)
    monkeypatch.setitem(REGISTRY, "cifar10", {"archive": Resource("cifar-10-python.tar.gz", (url,), sha256=sha(body))})
    train = load_cifar10("train", verbose=False)
    assert train.X.shape == (20, 3, 32, 32) and train.y.shape == (20,) and train.y.dtype == np.int64
    np.testing.assert_allclose(train.X[0] * 255, batches["data_batch_1"][0][0].reshape(3, 32, 32), atol=1e-3)
    test = load_cifar10("test", flatten=True, verbose=False)
    assert test.X.shape == (4, 3072) and test.y.tolist() == batches["test_batch"][1]
    assert server.hits["/cifar-10-python.tar.gz"] == 1


def test_probe_goes_to_the_proxy_when_one_is_set(monkeypatch):
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    monkeypatch.setenv("no_proxy", "")
    assert download._probe_target("https://ossci-datasets.s3.amazonaws.com/mnist/x.gz") == ("proxy.example", 3128)
    monkeypatch.delenv("https_proxy")
    assert download._probe_target("https://ossci-datasets.s3.amazonaws.com/mnist/x.gz") == (
        "ossci-datasets.s3.amazonaws.com", 443)


def test_read_idx_rejects_files_that_are_not_idx(tmp_path):
    from dlcore.data import read_idx

    good = tmp_path / "good.gz"
    good.write_bytes(idx_gz(np.arange(24).reshape(2, 3, 4)))
    assert read_idx(good).shape == (2, 3, 4)
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(b"<html>not found</html>"))
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(bad)
    short = tmp_path / "short.gz"
    short.write_bytes(gzip.compress(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + bytes(5)))
    with pytest.raises(ValueError, match="header says shape"):
        read_idx(short)
