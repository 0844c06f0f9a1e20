"""A CycloneDX 1.6 SBOM per bundle: every component and library inside, with version, source digest and licence.

Three layers, each linked to the one above by a dependency: the components staticbuild
builds (from their build manifests: pinned source and its SHA-256), the Go modules linked
into each Go binary (from the binary's own build info) and the crates of each Rust component
(from the Cargo.lock in its source). The document is reproducible: serial number and
timestamp derive from the bundle and its SOURCE_DATE_EPOCH.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
import tomllib
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.license import LicenseExpression
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from .archive import Entry
from .catalog import Catalog
from .context import Result
from .fetch import SourceCache, sha256_of
from .lock import Lock
from .toolchain import require

KIND = "staticbuild:kind"  # "recipe", "go-module", "crate" or "file"; release notes read the recipes


def sha256(digest: str) -> HashType:
    return HashType(alg=HashAlgorithm.SHA_256, content=digest)


def recipe_purl(locations: list[str], name: str, version: str) -> PackageURL:
    """From the pinned locations (in the lock's order), never from whichever one served the bytes."""
    for url in locations:
        if url.startswith("gomod:"):
            module, _, ver = url.removeprefix("gomod:").rpartition("@")
            namespace, _, leaf = module.rpartition("/")
            return PackageURL("golang", namespace, leaf, ver)
        if url.startswith("crate:"):
            return PackageURL("cargo", None, name, version)
    download = next((u for u in locations if u.startswith("https://")), None)
    return PackageURL("generic", None, name, version, {"download_url": download} if download else None)


def recipe_component(result: Result, catalog: Catalog, lock: Lock) -> Component:
    manifest, recipe = result.manifest, catalog.get(result.manifest["name"])
    source = manifest.get("source")
    locations = lock.pin(recipe.name).locations(source["sha256"]) if source else []
    return Component(
        type=ComponentType.APPLICATION if recipe.binaries else ComponentType.LIBRARY,
        bom_ref=f"recipe:{recipe.name}", name=recipe.name, version=manifest["version"],
        description=recipe.summary, licenses=[LicenseExpression(recipe.license)],
        hashes=[sha256(source["sha256"])] if source else [],
        purl=recipe_purl(locations, recipe.name, manifest["version"]),
        external_references=[ExternalReference(type=ExternalReferenceType.WEBSITE, url=XsUri(recipe.homepage))],
        properties=[Property(name=KIND, value="recipe"),
                    *(Property(name="staticbuild:source", value=url) for url in locations)],
    )


def go_modules(binary: Path) -> list[tuple[str, str, str]]:
    """(module, version, go.sum hash) of every module linked into a Go binary; [] for other binaries."""
    proc = subprocess.run([require("go"), "version", "-m", "-json", str(binary)], capture_output=True, text=True)
    if proc.returncode != 0:
        return []
    info = json.loads(proc.stdout)
    return [(d["Path"], d["Version"], d.get("Sum", "")) for d in info.get("Deps") or []]


def go_component(module: str, version: str, checksum: str) -> Component:
    namespace, _, leaf = module.rpartition("/")
    return Component(name=module, version=version, bom_ref=f"go:{module}@{version}",
                     purl=PackageURL("golang", namespace or None, leaf, version),
                     properties=[Property(name=KIND, value="go-module"),
                                 *([Property(name="go.sum", value=checksum)] if checksum else [])])


def crates(source_archive: Path, own_name: str) -> list[tuple[str, str, str]]:
    """(crate, version, sha256) from the Cargo.lock of a Rust component's source (all platforms' crates)."""
    with tarfile.open(source_archive) as tar:
        lock = next((m for m in tar.getmembers() if m.name.count("/") == 1 and m.name.endswith("/Cargo.lock")), None)
        if lock is None:
            return []
        packages = tomllib.loads(tar.extractfile(lock).read().decode())["package"]
    return [(p["name"], p["version"], p.get("checksum", "")) for p in packages if p["name"] != own_name]


def crate_component(name: str, version: str, checksum: str) -> Component:
    return Component(name=name, version=version, bom_ref=f"crate:{name}@{version}",
                     purl=PackageURL("cargo", None, name, version),
                     hashes=[sha256(checksum)] if checksum else [],
                     properties=[Property(name=KIND, value="crate")])


def file_component(entry: Entry) -> Component:
    digest = sha256_of(entry.source) if isinstance(entry.source, Path) else hashlib.sha256(entry.source).hexdigest()
    return Component(type=ComponentType.FILE, name=entry.name, bom_ref=f"file:{entry.name}",
                     hashes=[sha256(digest)], properties=[Property(name=KIND, value="file")])


def libraries(name: str, result: Result, files: list[Entry], catalog: Catalog,
              sources: SourceCache) -> list[Component]:
    """The Go modules linked into a component's binaries, or the crates of a Rust component."""
    if catalog.get(name).builder.kind == "cargo":
        archive = sources.path(result.manifest["source"]["sha256"])
        return [crate_component(*c) for c in crates(archive, name)]
    return [go_component(*m) for e in files if owned_by(e, result) for m in go_modules(e.source)]


def make_sbom(bundle_name: str, version: str, epoch: int, bundle_digest: str, files: list[Entry],
              results: dict[str, Result], catalog: Catalog, lock: Lock, sources: SourceCache) -> str:
    """The SBOM of one bundle as CycloneDX JSON. `results`: every component in the bundle's closure."""
    root = Component(type=ComponentType.APPLICATION, name=bundle_name, version=version,
                     bom_ref=f"bundle:{bundle_name}", hashes=[sha256(bundle_digest)])
    recipes = {n: recipe_component(r, catalog, lock) for n, r in sorted(results.items()) if r.manifest.get("source")}
    known: dict[str, Component] = {str(c.bom_ref): c for c in recipes.values()}
    edges: dict[str, set[str]] = defaultdict(set)
    for name, component in recipes.items():
        result = results[name]
        edges[str(component.bom_ref)] |= {f"recipe:{d}" for d in result.manifest["dependencies"] if d in recipes}
        for library in libraries(name, result, files, catalog, sources):
            known.setdefault(str(library.bom_ref), library)
            edges[str(component.bom_ref)].add(str(library.bom_ref))
    for entry in files:
        file = known.setdefault(f"file:{entry.name}", file_component(entry))
        edges[str(root.bom_ref)].add(str(file.bom_ref))
        edges[str(file.bom_ref)] |= {f"recipe:{n}" for n, r in results.items() if n in recipes and owned_by(entry, r)}
    bom = Bom(components=known.values(),
              serial_number=uuid.uuid5(uuid.NAMESPACE_URL, f"staticbuild:{bundle_name}:{bundle_digest}"),
              metadata=BomMetaData(component=root, timestamp=datetime.fromtimestamp(epoch, timezone.utc)))
    known[str(root.bom_ref)] = root
    for ref, targets in sorted(edges.items()):
        bom.register_dependency(known[ref], [known[t] for t in sorted(targets)])
    return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"


def owned_by(entry: Entry, result: Result) -> bool:
    return isinstance(entry.source, Path) and entry.source.is_relative_to(result.dir)
