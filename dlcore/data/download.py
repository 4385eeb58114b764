"""Download dataset files once, verify them, and keep them in one cache directory.

First used in chapter 06 (MNIST). Chapters never call this module directly: the
loaders in :mod:`dlcore.data.images` do. What it guarantees:

* **One cache.** Files live under ``$DLCORE_DATA`` (default ``~/.cache/dlcore``).
* **Verified.** A download is checked against its recorded SHA-256 (and MD5 where
  one is recorded) before it enters the cache. On reuse, files up to
  ``REHASH_LIMIT`` bytes are hashed again; larger ones are checked against the
  size and modification time stamped when they were verified.
* **Atomic.** Bytes go to a temporary file in the same folder, which is renamed
  with :func:`os.replace` only after the length and checksum are right. An
  interrupted transfer never leaves a file that looks complete.
* **Never hangs.** Every socket operation has a timeout; failed attempts are
  retried with exponential backoff, then the loader gets a clear error.
* **Offline aware.** ``DLCORE_OFFLINE=1`` skips the network entirely;
  otherwise :func:`network_available` makes one quick probe per host and
  remembers the answer for the rest of the process.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_CACHE = "~/.cache/dlcore"
DEFAULT_TIMEOUT = 15.0  # seconds per socket operation (connect, each read)
PROBE_TIMEOUT = 2.0  # seconds for the "is the network there?" probe
REHASH_LIMIT = 64 * 1024 * 1024  # re-hash cached files up to this size on every reuse
CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A file could not be downloaded (HTTP error, refused, timed out, cut short)."""


class ChecksumError(DownloadError):
    """A downloaded file did not match its recorded checksum; it was not kept."""


class DatasetUnavailableError(RuntimeError):
    """A real dataset cannot be loaded here, and no offline copy of it exists.

    Attributes:
        dataset: the dataset's name, e.g. ``"Fashion-MNIST"``.
        fallback: the loader a chapter can use instead (e.g. ``"load_mnist"``), or None.
        reason: why it is unavailable (offline, no network, download failed).
    """

    def __init__(self, message: str, *, dataset: str = "", fallback: str | None = None, reason: str = ""):
        super().__init__(message)
        self.dataset = dataset
        self.fallback = fallback
        self.reason = reason


@dataclass(frozen=True)
class Resource:
    """One downloadable file and how to check it.

    Attributes:
        filename: the name it gets in the cache.
        urls: mirrors, tried in order.
        sha256: published SHA-256 hex digest, or None if none is recorded.
        md5: published MD5 hex digest, or None.
        size: size in bytes, or None.
        provenance: where the checksums come from (kept next to them in the registry).
    """

    filename: str
    urls: tuple[str, ...]
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    provenance: str = ""

    @property
    def verified(self) -> bool:
        """True when at least one checksum is recorded, so downloads are checked."""
        return bool(self.sha256 or self.md5)


# ---------------------------------------------------------------- settings


def cache_dir() -> Path:
    """The cache folder: ``$DLCORE_DATA`` or ``~/.cache/dlcore`` (not created here)."""
    return Path(os.environ.get("DLCORE_DATA") or DEFAULT_CACHE).expanduser()


def offline_forced() -> bool:
    """True when ``DLCORE_OFFLINE`` is set to 1/true/yes/on."""
    return os.environ.get("DLCORE_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


# ---------------------------------------------------------------- network probe

_probe_cache: dict[tuple[str, int], bool] = {}
_probe_lock = threading.Lock()


def _probe_target(url: str) -> tuple[str, int]:
    """The (host, port) a request to ``url`` would first connect to (a proxy, if one is set)."""
    parts = urlsplit(url)
    scheme = parts.scheme or "https"
    host = parts.hostname or url
    proxy = urllib.request.getproxies().get(scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_parts = urlsplit(proxy if "://" in proxy else "http://" + proxy)
        return proxy_parts.hostname or host, proxy_parts.port or 80
    return host, parts.port or (443 if scheme == "https" else 80)


def network_available(url: str = "https://ossci-datasets.s3.amazonaws.com/", timeout: float = PROBE_TIMEOUT) -> bool:
    """Can we open a TCP connection to the host serving ``url``? Quick, cached per process.

    Returns False at once when ``DLCORE_OFFLINE=1``. The probe runs in a daemon
    thread so that a stuck DNS lookup (which ignores socket timeouts) cannot hold
    the caller for more than about ``timeout`` seconds.
    """
    if offline_forced():
        return False
    key = _probe_target(url)
    with _probe_lock:
        if key in _probe_cache:
            return _probe_cache[key]
    result = [False]

    def probe() -> None:
        try:
            with socket.create_connection(key, timeout=timeout):
                result[0] = True
        except OSError:
            pass

    thread = threading.Thread(target=probe, name="dlcore-network-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    with _probe_lock:
        _probe_cache[key] = result[0]
    return result[0]


def reset_network_cache() -> None:
    """Forget the probe results (tests, or after the network came back)."""
    with _probe_lock:
        _probe_cache.clear()


# ---------------------------------------------------------------- checksums


def file_digests(path: Path) -> dict[str, str]:
    """SHA-256 and MD5 hex digests of a file, read in 1 MiB chunks."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            sha.update(chunk)
            md5.update(chunk)
    return {"sha256": sha.hexdigest(), "md5": md5.hexdigest()}


def _mismatches(digests: dict[str, str], sha256: str | None, md5: str | None) -> list[str]:
    """Human-readable list of the checksums that do not match (empty if all match)."""
    wrong = []
    for algo, expected in (("sha256", sha256), ("md5", md5)):
        if expected and digests[algo] != expected.lower():
            wrong.append(f"{algo} expected {expected.lower()}, got {digests[algo]}")
    return wrong


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _write_stamp(path: Path, digests: dict[str, str]) -> None:
    st = path.stat()
    _stamp_path(path).write_text(f"sha256:{digests['sha256']} {st.st_size} {st.st_mtime_ns}\n")


def is_cached(resource: Resource, subdir: str) -> bool:
    """True when the file is in the cache and still passes its check.

    Files up to ``REHASH_LIMIT`` bytes are hashed again. Larger files (CIFAR-10,
    170 MB) must match their recorded size and the stamp written when they were
    verified, which records the SHA-256, size and modification time.
    """
    path = cache_dir() / subdir / resource.filename
    if not path.is_file():
        return False
    st = path.stat()
    if resource.size is not None and st.st_size != resource.size:
        return False
    if st.st_size <= REHASH_LIMIT:
        return not _mismatches(file_digests(path), resource.sha256, resource.md5)
    stamp = _stamp_path(path)
    if not stamp.is_file():
        return False
    digest, size, mtime = (stamp.read_text().split() + ["", "", ""])[:3]
    sha_ok = resource.sha256 is None or digest == f"sha256:{resource.sha256.lower()}"
    return sha_ok and size == str(st.st_size) and mtime == str(st.st_mtime_ns)


# ---------------------------------------------------------------- downloading


def _download_once(url: str, dest: Path, sha256: str | None, md5: str | None, timeout: float) -> dict[str, str]:
    """One attempt: stream ``url`` into a temp file, check it, then rename it to ``dest``."""
    request = urllib.request.Request(url, headers={"User-Agent": "dlcore-data/1"})
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        sha, md5_hash, received = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            announced = response.headers.get("Content-Length")
            while chunk := response.read(CHUNK):
                out.write(chunk)
                sha.update(chunk)
                md5_hash.update(chunk)
                received += len(chunk)
            if announced is not None and received != int(announced):
                raise http.client.IncompleteRead(b"", int(announced) - received)
            out.flush()
            os.fsync(out.fileno())
        digests = {"sha256": sha.hexdigest(), "md5": md5_hash.hexdigest()}
        wrong = _mismatches(digests, sha256, md5)
        if wrong:
            raise ChecksumError(
                f"{url} downloaded, but its checksum is wrong ({'; '.join(wrong)}). "
                "The file was discarded; the mirror may be serving a different or corrupted file."
            )
        os.replace(tmp, dest)
        return digests
    finally:
        tmp.unlink(missing_ok=True)


def download_url(
    url: str,
    dest: str | os.PathLike,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = 2,
    backoff: float = 0.5,
) -> Path:
    """Download ``url`` to ``dest`` atomically, checking any checksum given.

    Connection errors, timeouts, cut-short transfers and HTTP 5xx/408/429 are
    retried ``retries`` times, waiting ``backoff * 2**k`` seconds before retry k.
    Other HTTP errors (404, 403, ...) and checksum mismatches are not retried.

    Returns:
        ``dest`` as a Path; it exists only if the download succeeded and checked out.

    Raises:
        ChecksumError: the bytes arrived but do not match ``sha256``/``md5``.
        DownloadError: the bytes could not be fetched.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    last: BaseException | None = None
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            _download_once(url, dest, sha256, md5, timeout)
            return dest
        except ChecksumError:
            raise
        except urllib.error.HTTPError as err:
            if err.code < 500 and err.code not in (408, 429):
                raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from err
            last = err
        except http.client.IncompleteRead as err:
            last = DownloadError(f"transfer cut short, {err.expected:,} bytes missing")
        except (OSError, http.client.HTTPException) as err:  # refused, reset, timeout, DNS
            last = err
    reason = getattr(last, "reason", None) or last
    raise DownloadError(f"{url}: failed after {retries + 1} attempts ({reason})") from last


def fetch(resource: Resource, subdir: str, *, timeout: float = DEFAULT_TIMEOUT, retries: int = 2,
          backoff: float = 0.5) -> Path:
    """Return the cached, verified path of ``resource``, downloading it if needed.

    The file is ``cache_dir()/subdir/resource.filename``. A cached file that no
    longer passes its check is deleted and downloaded again. Mirrors are tried
    in order.

    Raises:
        ChecksumError: every mirror served a file with the wrong checksum.
        DownloadError: no mirror could deliver the file.
    """
    path = cache_dir() / subdir / resource.filename
    if is_cached(resource, subdir):
        return path
    path.unlink(missing_ok=True)
    _stamp_path(path).unlink(missing_ok=True)
    errors: list[DownloadError] = []
    for url in resource.urls:
        try:
            download_url(url, path, sha256=resource.sha256, md5=resource.md5,
                         timeout=timeout, retries=retries, backoff=backoff)
        except DownloadError as err:
            errors.append(err)
            continue
        _write_stamp(path, file_digests(path) if resource.sha256 is None else
                     {"sha256": resource.sha256.lower(), "md5": resource.md5 or ""})
        return path
    kind = ChecksumError if errors and all(isinstance(e, ChecksumError) for e in errors) else DownloadError
    details = "\n  ".join(str(e) for e in errors) or "no mirrors listed"
    raise kind(f"Could not download {resource.filename}:\n  {details}")
