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


def one_line(e: BaseException | object, limit: int = 300) -> str:
    """An exception (or any message) as one line for a user-facing error: its first non-empty line,
    whitespace collapsed, at most ``limit`` characters; the exception's type name when it says
    nothing."""
    lines = [ln for ln in str(e).splitlines() if ln.strip()]
    s = " ".join(lines[0].split()) if lines else type(e).__name__
    return s if len(s) <= limit else s[: limit - 3] + "..."


def by_name(name: str) -> type[Bert2dnnError]:
    """The error class a Ray task reported by name (a user-facing error crosses processes as data)."""
    return {c.__name__: c for c in (Bert2dnnError, ConfigError, DataError, ArtifactError)}.get(
        name, Bert2dnnError
    )
