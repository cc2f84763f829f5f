"""Sampling molecules: streamed, checked with RDKit and accounted for; scaffold-constrained sampling."""
