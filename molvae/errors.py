"""Typed exceptions raised by molvae. Messages are written for chemists, in one line."""

from __future__ import annotations

import signal


class MolVAEError(Exception):
    """Base class of every error molvae raises on purpose."""


class BadInputError(MolVAEError):
    """Input the user can correct (a usage error): unknown names, formats, options or values."""


class UnknownPropertyError(BadInputError, KeyError):
    """A property name that is not in the registry; the message lists the known ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CheckpointError(MolVAEError):
    """A model file that is missing, truncated, foreign, unsafe or of an unknown version."""


class DataError(MolVAEError):
    """Input data that cannot be used: missing file, unknown format, no usable molecule."""


class EncodingError(MolVAEError):
    """A molecule that cannot be encoded with the model's vocabulary or length limit."""


class MoleculeInputError(EncodingError, BadInputError):
    """A molecule the user gave (``--around``, an end of an interpolation, a molecule to encode) that is
    not valid or that the model cannot encode: a usage error, as an unusable ``optimize --from`` seed is."""


class FormatError(DataError, BadInputError):
    """A file of an unknown format, or a table without the column molvae needs."""


class MissingFileError(DataError, BadInputError):
    """A file that does not exist."""


class ConfigError(BadInputError):
    """A configuration that is invalid: unknown key, wrong type, impossible value."""


class Interrupted(MolVAEError):
    """Work stopped by SIGINT (Ctrl-C) or SIGTERM after keeping what it had (see
    :mod:`molvae.runtime.signals`); ``exit_code`` is 128 + the signal's number (130 for SIGINT,
    143 for SIGTERM), what a shell expects of a command stopped by that signal."""

    def __init__(self, signal_name: str, message: str):
        self.signal_name = signal_name
        self.exit_code = 128 + int(getattr(signal, signal_name, signal.SIGTERM))
        super().__init__(message)
