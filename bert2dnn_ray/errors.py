"""Errors that the CLI turns into one clear line and exit code 2 (no traceback)."""

from __future__ import annotations


class Bert2dnnError(Exception):
    """Base class: a user-facing problem (bad config, bad input, missing file).

    The message must be one line and name the file, row, key or field at fault.
    """

    exit_code = 2


class ConfigError(Bert2dnnError):
    """A config file or override is wrong: unknown key, wrong type, missing file."""


class DataError(Bert2dnnError):
    """Input data is unusable: missing column, unreadable file, bad labels."""


class ArtifactError(Bert2dnnError):
    """A saved model/artifact is missing, corrupt or does not match its config."""
