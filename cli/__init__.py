"""The ``molvae`` command line: a thin click layer over the :mod:`molvae` library."""
