"""What the staging pass read of each package, kept for its extraction: one inflate, not two.

`fetch_package_to(inspect=...)` verifies a package as it is staged. A `Reading` given as its
inspector reads the documents' dates and RFCs in that same pass (`content.PackageReader`).
Before extracting, the engine takes the reading of those exact bytes (`Readings.take`: the
SHA-256 recorded at staging, the same month dates and side) for its verdict, and reads the
package itself (`content.scan_package`) only when there is none: a package staged by an
earlier run, or a reading that failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from gigstack_async.bulk import content
from gigstack_async.bulk.content import PackageScan


class Reading:
    """A `packages.MemberInspector` that never raises: a reading that fails is `broken` and
    gives no verdict. The package's own errors (a bomb, a bad CRC) are not lost by it: the
    verifying pass raises them itself.

    Besides the content check, it tells for each `<UUID>.xml` member whether its bytes look
    whole (`whole`: `content.WholeLook`), which extraction records of each file it writes
    (`engine._extractions`) without reading the files back."""

    def __init__(self, *, start: date | None, end: date | None, rfc_type: str) -> None:
        self.reader = content.PackageReader(start=start, end=end, rfc_type=rfc_type)
        self.broken = False
        self.whole: dict[str, bool] = {}

    def __call__(self, name: str, chunks: Iterator[bytes]) -> None:
        if self.broken:
            return
        try:
            uuid = content.cfdi_uuid_of(name.rsplit("/", 1)[-1])
            if uuid is None:
                self.reader(name, chunks)
                return
            look = content.WholeLook(uuid)
            watched = look.watch(chunks)
            self.reader(name, watched)
            for _chunk in watched:  # the reader stops at the head; the look needs the end
                pass
            self.whole[name] = look.whole
        except Exception:
            self.broken = True  # never a verdict from a partial reading

    def is_for(self, start: date | None, end: date | None, rfc_type: str) -> bool:
        """Whether it was read for a month of these dates and side."""
        reader = self.reader
        return (reader.start, reader.end, reader.rfc_type) == (start, end, rfc_type)

    def verdict(self, *, request_type: str, journal_rfc: str | None) -> PackageScan:
        """`scan_package`'s answer for a month of `request_type` (see `Readings.take`)."""
        return self.reader.verdict(request_type=request_type, journal_rfc=journal_rfc)


class Readings:
    """The readings of one run's staged packages, by package id and SHA-256, each taken once."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, str], Reading] = {}

    def keep(self, package_id: str, sha256: str, reading: Reading) -> None:
        """The package `package_id` was staged with bytes `sha256`, read by `reading`."""
        if not reading.broken:
            self._kept[(package_id, sha256.lower())] = reading

    def take(
        self, package_id: str, sha256: str, start: date | None, end: date | None, rfc_type: str
    ) -> Reading | None:
        """The reading of the staged bytes `sha256` of `package_id`, if one is kept and was
        made for a month of these dates and side; each is given once."""
        reading = self._kept.pop((package_id, sha256.lower()), None)
        if reading is None or not reading.is_for(start, end, rfc_type):
            return None
        return reading
