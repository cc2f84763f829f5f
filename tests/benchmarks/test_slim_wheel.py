"""``benchmarks/pretrained/slim_wheel.py``: what the RDKit wheel sent to the GPU machine keeps."""

from __future__ import annotations

import sys
import zipfile

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks" / "pretrained"))

from slim_wheel import slim  # noqa: E402

KEPT = [
    "rdkit/__init__.py",
    "rdkit/Chem/rdchem.so",
    "rdkit/Chem/Draw/__init__.py",
    "rdkit/Contrib/SA_Score/sascorer.py",
    "rdkit.libs/libRDKitGraphMol-5c0144ed.so.1",
]
DROPPED = [
    "rdkit-stubs/Chem/__init__.pyi",
    "rdkit/Contrib/NP_Score/publicnp.model.gz",
    "rdkit/Chem/rdSynthonSpaceSearch.so",
    "rdkit.libs/libRDKitSynthonSpaceSearch-69aa7370.so.1",
    "rdkit/Chem/rdRGroupDecomposition.so",
    "rdkit.libs/libRDKitRGroupDecomposition-4c2e579c.so.1",
]


def test_slim_keeps_what_molvae_loads_and_records_only_that(tmp_path):
    wheel = tmp_path / "rdkit-0-cp311-cp311-manylinux_2_28_x86_64.whl"
    record = "rdkit-0.dist-info/RECORD"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in KEPT + DROPPED:
            zf.writestr(name, f"contents of {name}\n" * 50)
        zf.writestr(record, "".join(f"{name},sha256=x,1\n" for name in KEPT + DROPPED + [record]))
    before, after = slim(wheel)
    assert after < before
    with zipfile.ZipFile(wheel) as zf:
        assert sorted(zf.namelist()) == sorted(KEPT + [record])
        assert {info.compress_type for info in zf.infolist()} == {zipfile.ZIP_LZMA}
        assert all(zf.read(name) == f"contents of {name}\n".encode() * 50 for name in KEPT)
        listed = [line.split(",", 1)[0] for line in zf.read(record).decode().splitlines()]
    assert sorted(listed) == sorted(KEPT + [record])
