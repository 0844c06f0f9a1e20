"""Upstream release signatures: a detached OpenPGP signature checked against the key committed in keys/.

gpgv does the checking (it is on every Debian and Ubuntu system); the armored key is turned
into a throw-away keyring first, so nothing of the user's own GnuPG setup takes part.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import StaticbuildError
from .toolchain import require

KEYS = Path(__file__).parent / "keys"


def key_for(component: str) -> Path | None:
    key = KEYS / f"{component}.asc"
    return key if key.is_file() else None


def verify(file: Path, signature: Path, key: Path) -> str:
    """The primary fingerprint of the key that made a good signature of `file`; an error otherwise.

    kernel.org's projects sign the uncompressed tarball: when the compressed file does not
    verify, its decompressed bytes are tried.
    """
    with tempfile.TemporaryDirectory(prefix="staticbuild-gpg-") as home:
        keyring = Path(home) / "keyring.gpg"
        subprocess.run([require("gpg"), "--homedir", home, "--batch", "--yes", "--dearmor", "-o", str(keyring),
                        str(key)], check=True, capture_output=True)
        fingerprint, reason = gpgv(home, keyring, signature, file)
        if fingerprint is None and (plain := decompressed(file, Path(home) / "plain")):
            fingerprint, reason = gpgv(home, keyring, signature, plain)
    if fingerprint is None:
        raise StaticbuildError(f"{file.name}: the upstream signature does not verify with {key.name} ({reason})")
    return fingerprint


def gpgv(home: str, keyring: Path, signature: Path, file: Path) -> tuple[str | None, str]:
    proc = subprocess.run([require("gpgv"), "--homedir", home, "--keyring", str(keyring), "--status-fd", "1",
                           str(signature), str(file)], capture_output=True, text=True)
    valid = [line.split() for line in proc.stdout.splitlines() if line.startswith("[GNUPG:] VALIDSIG ")]
    if proc.returncode != 0 or not valid:
        return None, (proc.stderr.strip().splitlines() or ["no valid signature"])[-1]
    fields = valid[0]
    return (fields[11] if len(fields) > 11 else fields[2]), ""  # the primary key's fingerprint when given


def decompressed(file: Path, dest: Path) -> Path | None:
    """The file's bytes decompressed (xz, gzip, bzip2), or None when it is not compressed."""
    head = file.read_bytes()[:6]
    opener = {b"\xfd7zXZ\x00": lzma.open, b"\x1f\x8b": gzip.open, b"BZh": bz2.open}
    for magic, open_compressed in opener.items():
        if head.startswith(magic):
            with open_compressed(file, "rb") as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out)
            return dest
    return None
