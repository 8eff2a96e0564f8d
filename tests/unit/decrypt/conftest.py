"""Fixtures for decrypt/ tests. Keys are generated at test time (pyrage, gpg in a private
GNUPGHOME); no key or plaintext is committed. Ciphertext is made by the real sops binary."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fluxform.decrypt import KeyRing, SopsSession
from fluxform.tool import run_tool
from tests.support.keys import AgeKey, PgpTestKey, generate_age_key, generate_pgp_key
from tests.support.sops import SopsCli


@pytest.fixture(scope="session")
def age_key() -> AgeKey:
    return generate_age_key()


@pytest.fixture(scope="session")
def other_age_key() -> AgeKey:
    return generate_age_key()


@pytest.fixture(scope="session")
def pgp_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgpTestKey]:
    home = tmp_path_factory.mktemp("gpg") / "home"
    key = generate_pgp_key(home)
    yield key
    run_tool(["gpgconf", "--kill", "gpg-agent"], tool="gpgconf", env={"GNUPGHOME": str(home)}, check=False)


@pytest.fixture(scope="session")
def sops_cli(pgp_key: PgpTestKey) -> SopsCli:
    return SopsCli(pgp_key.home)


@pytest.fixture
def age_ring(age_key: AgeKey) -> KeyRing:
    return KeyRing.from_env({"SOPS_AGE_KEY": age_key.identity})


@pytest.fixture
def age_session(age_ring: KeyRing) -> Iterator[SopsSession]:
    with SopsSession(age_ring) as session:
        yield session
