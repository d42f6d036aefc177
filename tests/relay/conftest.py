"""Fixtures for the relay tests: the recording upstream (see ``helpers/upstream.py``),
a TLS certificate, and the directory's seeded customers (``people``)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from relay.server.access import set_password

from .helpers import PASSWORD, USER, seed
from .helpers.dkim import make_keys
from .helpers.upstream import TlsFiles, Upstream


@pytest.fixture
def make_upstream() -> Iterator[Callable[..., Upstream]]:
    """Build and start an ``Upstream`` with the given options; all are closed after the test."""
    made: list[Upstream] = []

    def make(**options: Any) -> Upstream:
        server = Upstream(**options)
        made.append(server)
        return server.start()

    yield make
    for server in made:
        server.close()


@pytest.fixture
def upstream(make_upstream: Callable[..., Upstream]) -> Upstream:
    """A plain upstream (no TLS, no AUTH, SMTPUTF8 on) that accepts everything."""
    return make_upstream()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A self-signed certificate for localhost and 127.0.0.1 (it is its own CA file)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    files = TlsFiles(directory / "cert.pem", directory / "key.pem")
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(files.key),
            "-out",
            str(files.cert),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return files


@pytest.fixture
def people(sqlite_directory):
    """The seeded customers and contact persons (see ``helpers.seed``) in ``sqlite_directory``."""
    return seed(sqlite_directory)


@pytest.fixture(scope="session")
def dkim_keys() -> tuple[bytes, bytes]:
    """(PEM private key, DNS TXT record) of a fresh 1024-bit RSA key pair."""
    return make_keys()


@pytest.fixture
def auth_file(tmp_path):
    """An auth file with one user, ``helpers.USER`` with ``helpers.PASSWORD``."""
    path = tmp_path / "relay-users"
    set_password(path, USER, PASSWORD)
    return path
