"""molvae: a conditional SELFIES GRU variational autoencoder for molecule design."""

__version__ = "0.1.0"
