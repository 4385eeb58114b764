"""Where the full image datasets are downloaded from, and the checksums that verify them.

Used from chapter 06 on, through the loaders in :mod:`dlcore.data.images`.

Checksum status (recorded here so it can be audited):

* **SHA-256.** Every file below has a SHA-256. Each value was cross-checked
  against several independent published listings of the same file (TensorFlow
  Datasets' URL checksums with file sizes, Keras' ``cifar10.load_data``
  ``file_hash``, torchvision's prototype dataset resources, and projects that
  verify the files they download). They were *not* recomputed from a download in
  this repository, which was written without network access; the first real
  download checks them.
* **MD5.** The MD5 values are the ones torchvision publishes in
  ``torchvision/datasets/mnist.py`` and ``cifar.py`` (the CIFAR-10 one is also on
  the CIFAR web page). The downloader checks both digests when both are recorded.
* A new entry may leave ``sha256``/``md5`` as None; its downloads are then
  unverified and :attr:`Resource.verified` is False. Do not invent a checksum.

Mirrors are tried in order. Yann LeCun's original MNIST page now often refuses
direct downloads, so the MNIST mirrors are the ones torchvision and TensorFlow use;
the checksums guarantee the bytes are the original files.
"""

from __future__ import annotations

from .download import Resource

_TV = "MD5 as published by torchvision; SHA-256 cross-checked in published TFDS/Keras listings"

_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # torchvision's mirror
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # TensorFlow's mirror
)
_FASHION_MIRRORS = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # official, HTTP only
)


def _files(mirrors: tuple[str, ...], name: str, sha256: str, md5: str, size: int) -> Resource:
    return Resource(name, tuple(m + name for m in mirrors), sha256=sha256, md5=md5, size=size, provenance=_TV)


# Keys: dataset -> role -> Resource. Roles for IDX sets: train_images, train_labels,
# test_images, test_labels. Tests replace entries to point at a local server.
REGISTRY: dict[str, dict[str, Resource]] = {
    "mnist": {
        "train_images": _files(
            _MNIST_MIRRORS, "train-images-idx3-ubyte.gz",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9_912_422),
        "train_labels": _files(
            _MNIST_MIRRORS, "train-labels-idx1-ubyte.gz",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "d53e105ee54ea40749a09fcbcd1e9432", 28_881),
        "test_images": _files(
            _MNIST_MIRRORS, "t10k-images-idx3-ubyte.gz",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "9fb629c4189551a2d022fa330f9573f3", 1_648_877),
        "test_labels": _files(
            _MNIST_MIRRORS, "t10k-labels-idx1-ubyte.gz",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            "ec29112dd5afa0611ce80d1b7f02629c", 4_542),
    },
    "fashion_mnist": {
        "train_images": _files(
            _FASHION_MIRRORS, "train-images-idx3-ubyte.gz",
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26_421_880),
        "train_labels": _files(
            _FASHION_MIRRORS, "train-labels-idx1-ubyte.gz",
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "25c81989df183df01b3e8a0aad5dffbe", 29_515),
        "test_images": _files(
            _FASHION_MIRRORS, "t10k-images-idx3-ubyte.gz",
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "bef4ecab320f06d8554ea6380940ec79", 4_422_102),
        "test_labels": _files(
            _FASHION_MIRRORS, "t10k-labels-idx1-ubyte.gz",
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            "bb300cfdad3c16e7a12a480ee83cd310", 5_148),
    },
    "cifar10": {
        "archive": Resource(
            "cifar-10-python.tar.gz",
            ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
            sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
            md5="c58f30108f718f92721af3b95e74349a",
            size=170_498_071,
            provenance="MD5 on the CIFAR page and in torchvision; SHA-256 is Keras' file_hash",
        ),
    },
}
