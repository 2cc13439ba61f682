"""The generated `DownloadRequestStatus` docstring (from openapi/gigstack.yaml) said a status
answer's criteria count only when "each equal" to the month's; since review 9m #8 they are read
permissively (any letter case, a datetime's date, its Mexico City date). The docstring must say
what `bulk()` does (the same readings are checked here)."""

from __future__ import annotations

from datetime import date

from gigstack_async._generated.models import DownloadRequestStatus
from gigstack_async.bulk.engine import status_days, status_enum
from gigstack_async.models import RequestType, RfcType


def test_the_docstring_describes_the_permissive_reading() -> None:
    doc = " ".join((DownloadRequestStatus.__doc__ or "").split())
    assert "each equal" not in doc
    assert "any letter case" in doc
    assert "Mexico City date" in doc
    assert "can only mean another value" in doc
    assert "never a match and never a mismatch" in doc


def test_the_readings_it_names() -> None:
    assert status_enum("CFDI", RequestType) == "cfdi"
    assert status_enum("Received", RfcType) == "received"
    assert status_enum("sideways", RfcType) is None  # unknown: neither match nor mismatch
    assert status_days("2024-08-31") == (date(2024, 8, 31),)
    # an instant with an offset: its own date and Mexico City's
    assert status_days("2024-09-01T05:59:59Z") == (date(2024, 9, 1), date(2024, 8, 31))
    assert status_days("last week") == ()
