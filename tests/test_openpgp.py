"""Upstream signatures: checked against the committed key when pinning; a bad one stops the pin."""

from __future__ import annotations

import lzma
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import make_tarball
from staticbuild import openpgp
from staticbuild.builders import Script
from staticbuild.errors import StaticbuildError
from staticbuild.lock import Lock
from staticbuild.pinning import pin
from staticbuild.recipe import Recipe, Upstream


@pytest.fixture(scope="module")
def signer(tmp_path_factory) -> Iterator[tuple[str, Path, str]]:
    """A throw-away signing key: (GNUPGHOME, armored public key, fingerprint); its gpg-agent is
    stopped afterwards (gpg starts one per home and it would outlive the run)."""
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    env = os.environ | {"GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "Upstream Test <up@example.invalid>",
                    "ed25519", "sign", "never"], env=env, check=True, capture_output=True)
    listing = subprocess.run(["gpg", "--batch", "--with-colons", "--list-keys"], env=env, check=True,
                             capture_output=True, text=True).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    public = home / "public.asc"
    public.write_text(subprocess.run(["gpg", "--batch", "--armor", "--export", fingerprint], env=env, check=True,
                                     capture_output=True, text=True).stdout)
    yield str(home), public, fingerprint
    subprocess.run(["gpgconf", "--kill", "all"], env=env, check=True, capture_output=True)


def sign(signer, file: Path, signature: Path) -> Path:
    subprocess.run(["gpg", "--batch", "--yes", "--armor", "--detach-sign", "-o", str(signature), str(file)],
                   env=os.environ | {"GNUPGHOME": signer[0]}, check=True, capture_output=True)
    return signature


def test_a_good_signature_gives_the_signing_keys_fingerprint(signer, tmp_path):
    file = tmp_path / "thing-1.0.tar.gz"
    file.write_bytes(b"release bytes")
    assert openpgp.verify(file, sign(signer, file, tmp_path / "x.asc"), signer[1]) == signer[2]


def test_a_changed_file_does_not_verify(signer, tmp_path):
    file = tmp_path / "thing-1.0.tar.gz"
    file.write_bytes(b"release bytes")
    signature = sign(signer, file, tmp_path / "x.asc")
    file.write_bytes(b"release bytez")
    with pytest.raises(StaticbuildError, match="the upstream signature does not verify") as info:
        openpgp.verify(file, signature, signer[1])
    assert "\n" not in str(info.value)


def test_a_signature_of_the_uncompressed_tarball_verifies_the_compressed_one(signer, tmp_path):
    """kernel.org's convention (libcap): the .tar is signed, the .tar.xz is what is downloaded."""
    plain = tmp_path / "thing-1.0.tar"
    plain.write_bytes(b"tar bytes" * 100)
    signature = sign(signer, plain, tmp_path / "thing-1.0.tar.sign")
    packed = tmp_path / "thing-1.0.tar.xz"
    packed.write_bytes(lzma.compress(plain.read_bytes()))
    assert openpgp.verify(packed, signature, signer[1]) == signer[2]


def recipe(url: str) -> Recipe:
    return Recipe(name="thing", summary="", homepage="", license="", builder=Script(steps=()),
                  upstream=(Upstream(url=url),))


def test_pin_records_who_signed_and_refuses_a_bad_signature(signer, tmp_path, http_root, monkeypatch):
    root, base = http_root
    archive = make_tarball(root / "thing-1.0.tar.gz", {"thing-1.0/a.c": b"int a;"})
    sign(signer, archive, root / "thing-1.0.tar.gz.asc")
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "thing.asc").write_text(signer[1].read_text())
    monkeypatch.setattr(openpgp, "KEYS", keys)
    lock = Lock(tmp_path / "test.lock", {})
    [resolution] = pin(recipe(f"{base}/thing-{{version}}.tar.gz"), "1.0", lock)
    assert resolution.source.signed_by == signer[2] and "upstream signature by" in resolution.note
    assert Lock.load(lock.path).pins["thing"].sources[0].signed_by == signer[2]

    make_tarball(root / "thing-1.1.tar.gz", {"thing-1.1/a.c": b"int b;"})
    (root / "thing-1.1.tar.gz.asc").write_text((root / "thing-1.0.tar.gz.asc").read_text())  # another file's
    before = lock.path.read_text()
    with pytest.raises(StaticbuildError, match="does not verify"):
        pin(recipe(f"{base}/thing-{{version}}.tar.gz"), "1.1", lock)
    assert lock.path.read_text() == before


def test_every_committed_key_is_one_armored_public_key():
    keys = sorted(openpgp.KEYS.glob("*.asc"))
    assert {k.stem for k in keys} == {"crun", "libcap", "libseccomp", "musl"}
    for key in keys:
        assert key.read_text().startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----"), key.name
