"""Regenerate `generated/` from `protos/`: messages, gRPC stubs, and their mypy stubs.

    uv run python scripts/gen_protos.py          # rewrite generated/
    uv run python scripts/gen_protos.py --check  # fail if generated/ is stale

Tool versions are pinned in pyproject.toml (grpcio-tools, mypy-protobuf), so the
output is reproducible and CI can compare it byte for byte.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import grpc_tools

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
GENERATED = ROOT / "generated"
# generated/ keeps a marker so the folder exists before the first generation.
KEEP = {".keep"}


def generate(out: Path) -> None:
    protos = sorted(p.relative_to(PROTOS).as_posix() for p in PROTOS.rglob("*.proto"))
    bin_dir = Path(sysconfig.get_path("scripts"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{well_known}",
        f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *protos,
    ]
    subprocess.run(cmd, check=True, cwd=PROTOS)
    # Regular packages (not namespace packages) keep mypy and importers simple.
    for module in out.rglob("*_pb2.py"):
        for package in module.relative_to(out).parents:
            if package != Path("."):
                (out / package / "__init__.py").touch()
    (out / ".keep").touch()
    (out / "profilematcher" / "py.typed").touch()


def stale_files(fresh: Path) -> list[str]:
    def tree(root: Path) -> set[str]:
        return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}

    ours, theirs = tree(GENERATED), tree(fresh)
    differing = {
        name
        for name in ours & theirs
        if not filecmp.cmp(GENERATED / name, fresh / name, shallow=False)
    }
    return sorted((ours ^ theirs) | differing)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if generated/ is stale")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh)
        if args.check:
            stale = stale_files(fresh)
            for name in stale:
                print(f"stale: generated/{name}", file=sys.stderr)
            if stale:
                print("run: uv run python scripts/gen_protos.py", file=sys.stderr)
            return 1 if stale else 0
        shutil.rmtree(GENERATED, ignore_errors=True)
        shutil.copytree(fresh, GENERATED)
    print(f"regenerated {GENERATED.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
