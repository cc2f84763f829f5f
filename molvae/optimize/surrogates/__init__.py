"""Cheap stand-ins for the objective: a Gaussian process on fingerprints, and the property head."""
