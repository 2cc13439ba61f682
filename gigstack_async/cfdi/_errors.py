"""Errors raised while reading CFDI documents and SAT metadata files."""

from __future__ import annotations

from gigstack_async.errors import GigstackError


class CfdiError(GigstackError):
    """Base class: the content of a package could not be read."""


class CfdiParseError(CfdiError):
    """A CFDI XML document is malformed, unsafe (DOCTYPE), not CFDI 3.3/4.0, or not stamped."""


class MetadataParseError(CfdiError):
    """A metadata TXT is not SAT's format, or a row holds a value that cannot be read.

    The message starts with the line number (1 = the header).
    """
