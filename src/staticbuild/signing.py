"""Sign and verify release files with cosign: one Sigstore bundle (X.sigstore.json) per file.

Keyless (OIDC) in GitHub Actions: cosign takes the workflow's identity token, Fulcio issues a
short-lived certificate for the workflow, Rekor logs the signature. With a key pair (local and
offline use) nothing leaves the machine: no transparency-log upload, and verification uses an
empty trusted root instead of fetching Sigstore's.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_path
from .checksums import CHECKSUMS, artifacts
from .errors import StaticbuildError
from .toolchain import require

SUFFIX = ".sigstore.json"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
EMPTY_TRUSTED_ROOT = {"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
                      "tlogs": [], "certificateAuthorities": [], "ctlogs": [], "timestampAuthorities": []}


@dataclass(frozen=True)
class Identity:
    """Who must have signed: a key, or a keyless certificate identity and its OIDC issuer."""

    key: Path | None = None
    certificate_identity: str | None = None
    oidc_issuer: str = GITHUB_ISSUER
    identity_is_regexp: bool = False  # e.g. any ref of the signing workflow

    def __post_init__(self):
        if (self.key is None) == (self.certificate_identity is None):
            raise StaticbuildError("give either a public key or a certificate identity to verify against")


def signed_files(folder: Path) -> list[Path]:
    files = artifacts(folder) + ([folder / CHECKSUMS] if (folder / CHECKSUMS).is_file() else [])
    if not files:
        raise StaticbuildError(f"nothing to sign in {folder}")
    return files


def signature_of(path: Path) -> Path:
    return path.with_name(path.name + SUFFIX)


def cosign(args: list[str], what: Path) -> None:
    proc = subprocess.run([require("cosign"), *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise StaticbuildError(f"cosign failed for {what.name}: {reason}")


def sign(folder: Path, key: Path | None) -> list[Path]:
    """Sign every artifact and checksums.txt."""
    if key is not None and not key.is_file():
        raise StaticbuildError(f"no such key: {key}")
    mode = ["--key", str(key), "--tlog-upload=false"] if key else []
    written = []
    for path in signed_files(folder):
        with atomic_path(signature_of(path)) as tmp:
            cosign(["sign-blob", "--yes", "--new-bundle-format", *mode, "--bundle", str(tmp), str(path)], path)
        written.append(signature_of(path))
    return written


def verify(path: Path, identity: Identity, bundle: Path | None = None) -> None:
    """Check `path` against its Sigstore bundle (by default the X.sigstore.json beside it)."""
    bundle = bundle or signature_of(path)
    if not bundle.is_file():
        raise StaticbuildError(f"{path.name}: no signature ({bundle.name} missing)")
    args = ["verify-blob", "--new-bundle-format", "--bundle", str(bundle)]
    if identity.key:
        with tempfile.NamedTemporaryFile("w", suffix=".json") as root:
            json.dump(EMPTY_TRUSTED_ROOT, root)
            root.flush()
            cosign([*args, "--key", str(identity.key), "--insecure-ignore-tlog", "--trusted-root", root.name,
                    str(path)], path)
    else:
        flag = "--certificate-identity-regexp" if identity.identity_is_regexp else "--certificate-identity"
        cosign([*args, flag, identity.certificate_identity, "--certificate-oidc-issuer", identity.oidc_issuer,
                str(path)], path)
