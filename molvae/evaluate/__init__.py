"""Measuring models and molecule sets: the MOSES metrics (``metrics/``), model diagnostics, the HTML report."""
