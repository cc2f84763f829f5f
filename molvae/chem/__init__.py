"""RDKit in one place: parsing, canonical SMILES, fingerprints, drawing; the property registry; the drug-likeness guards."""
