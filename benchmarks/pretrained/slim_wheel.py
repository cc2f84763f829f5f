"""Rewrite the RDKit wheel without what molvae never imports, so that it travels to the GPU machine.

The device tool sends the repository (43.8 MB with the 4.56M-parameter model, 9.1 MB more while a
campaign candidate is kept in git) and the carried wheels in at most 64 MiB (67.1 MB); RDKit's
wheel is about 32 MB, 6.5 MB of it ``rdkit/Contrib`` (molvae uses only ``SA_Score``) and the type
stubs. The slim wheel keeps everything else but two extension modules nothing on molvae's import
path loads, with a RECORD that lists what it holds, and stores each member with LZMA instead of
deflate (pip reads either: Python's zipfile decompresses both): 31.8 MB -> 22.1 MB, so the
repository without a candidate, RDKit and selfies (35 kB) come to 62.9 MiB, 1.1 MB under the limit.

    python benchmarks/pretrained/slim_wheel.py .whl/rdkit-*.whl     # rewrites the file in place
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

KEEP_CONTRIB = ("rdkit/Contrib/SA_Score/",)
# extension modules nothing on molvae's import path loads (rdkit.Chem does not import them; only
# PandasTools imports the second), each with the one shared library that only it links
UNUSED = (
    "rdkit/Chem/rdSynthonSpaceSearch.",
    "rdkit.libs/libRDKitSynthonSpaceSearch-",
    "rdkit/Chem/rdRGroupDecomposition.",
    "rdkit.libs/libRDKitRGroupDecomposition-",
)


def dropped(name: str) -> bool:
    if name.startswith("rdkit-stubs/") or name.startswith(UNUSED):
        return True
    return name.startswith("rdkit/Contrib/") and not name.startswith(KEEP_CONTRIB)


def slim(path: Path) -> tuple[int, int]:
    tmp = path.with_suffix(".slim")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_LZMA) as dst:
        for info in src.infolist():
            if dropped(info.filename):
                continue
            data = src.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines()
                data = ("\n".join(ln for ln in lines if not dropped(ln.split(",", 1)[0])) + "\n").encode()
            dst.writestr(info, data, compress_type=zipfile.ZIP_LZMA)
    before = path.stat().st_size
    tmp.replace(path)
    return before, path.stat().st_size


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        b, a = slim(Path(arg))
        print(f"{arg}: {b / 1e6:.1f} MB -> {a / 1e6:.1f} MB")
