"""Seeded, deterministic CFDI data: the "SAT side" that download requests read from.

Each (team, calendar month, direction) has a fixed set of invoices derived only from the seed, so
a request covering part of a month sees exactly the invoices dated inside its range, and the union
over months is the ground truth with nothing counted twice.
"""

from __future__ import annotations

import calendar
import random
import string
import uuid
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import attrs

from gigstack_async.money import round_amount
from gigstack_async.sandbox.config import TeamConfig

CENT = Decimal("0.01")
IVA = Decimal("1.16")
NOMINA_NET = Decimal("0.88")  # ISR withheld from payroll, roughly

# SAT's own free stamping service, and the catalogue's generic test RFC.
PAC_RFCS = ("SAT970701NN3", "AAA010101AAA")

_TYPE_WEIGHTS = {
    "issued": (("I", 78), ("E", 6), ("P", 10), ("N", 4), ("T", 2)),
    "received": (("I", 84), ("E", 6), ("P", 8), ("T", 2)),
}
_SERIES = {"I": ("A", "F"), "E": ("NC",), "P": ("CP",), "N": ("NOM",), "T": ("T",)}
# Names include "&", "Ñ" and accents on purpose: XML escaping and UTF-8 must survive packaging.
_COMPANY_WORDS = (
    "COMERCIALIZADORA",
    "SERVICIOS",
    "DISTRIBUIDORA",
    "CONSTRUCTORA",
    "TRANSPORTES",
    "ALIMENTOS",
    "TECNOLOGÍA",
    "INMOBILIARIA",
)
_COMPANY_NAMES = ("DEL BAJÍO", "PEÑA & ASOCIADOS", "NORTEÑA", "DEL PACÍFICO", "AZTECA", "DEL VALLE")
_COMPANY_SUFFIXES = ("SA DE CV", "S DE RL DE CV", "SC", "SAPI DE CV")
_GIVEN = ("MARÍA", "JOSÉ", "GUADALUPE", "JUAN", "ANA", "LUIS", "SOFÍA", "MIGUEL")
_SURNAMES = ("HERNÁNDEZ", "GARCÍA", "MARTÍNEZ", "LÓPEZ", "GONZÁLEZ", "PÉREZ", "NÚÑEZ", "RAMÍREZ")


@attrs.frozen
class Party:
    """Issuer (Emisor) or receiver (Receptor) of a CFDI."""

    rfc: str
    name: str
    regimen_fiscal: str
    postal_code: str


@attrs.frozen
class Invoice:
    """One stamped CFDI 4.0 as SAT holds it. Datetimes are naive Mexico City local time, as in
    the XML's `Fecha` (SAT filters requests on it)."""

    uuid: str
    direction: str
    issuer: Party
    receiver: Party
    invoice_type: str
    series: str
    folio: str
    subtotal: Decimal
    total: Decimal
    currency: str
    exchange_rate: Decimal | None
    issued_at: datetime
    stamped_at: datetime
    status: str
    cancelled_at: datetime | None
    pac_rfc: str
    certificate_number: str
    sat_certificate_number: str
    uso_cfdi: str
    payment_method: str | None
    payment_form: str | None
    xml_state: str
    """gigstack's `resource_status` once synced: `ready`, or `building`/`error` when the XML fetch
    is still queued or failed (only received invoices; `retry-xml` fixes them)."""

    @property
    def issue_date(self) -> date:
        """The calendar day of `Fecha`."""
        return self.issued_at.date()


def team_party(team: TeamConfig) -> Party:
    """The team as a CFDI party."""
    return Party(team.rfc, team.legal_name, team.regimen_fiscal, team.postal_code)


def months_between(start: date, end: date) -> Iterator[tuple[int, int]]:
    """(year, month) of every calendar month that `start..end` touches, in order."""
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


class InvoiceGenerator:
    """Produces and caches each team's invoices; the same seed always yields the same data."""

    def __init__(self, seed: int, per_month: tuple[int, int]) -> None:
        self._seed = seed
        self._per_month = per_month
        self._months: dict[tuple[str, int, int, str], tuple[Invoice, ...]] = {}
        self._parties: dict[str, tuple[Party, ...]] = {}
        self._by_uuid: dict[tuple[str, str], Invoice] = {}

    def month(self, team: TeamConfig, year: int, month: int, direction: str) -> tuple[Invoice, ...]:
        """All of the team's invoices of one calendar month and direction, oldest first."""
        key = (team.team_id, year, month, direction)
        cached = self._months.get(key)
        if cached is None:
            cached = self._generate(team, year, month, direction)
            self._months[key] = cached
            for invoice in cached:
                self._by_uuid[(team.team_id, invoice.uuid)] = invoice
        return cached

    def between(self, team: TeamConfig, start: date, end: date, direction: str) -> list[Invoice]:
        """The team's invoices of `direction` dated `start..end` inclusive, oldest first."""
        found: list[Invoice] = []
        for year, month in months_between(start, end):
            found.extend(
                invoice
                for invoice in self.month(team, year, month, direction)
                if start <= invoice.issue_date <= end
            )
        return found

    def find(self, team_id: str, invoice_uuid: str) -> Invoice | None:
        """A previously generated invoice of the team by UUID (any case), or None."""
        return self._by_uuid.get((team_id, invoice_uuid.upper()))

    def _counterparties(self, team: TeamConfig) -> tuple[Party, ...]:
        cached = self._parties.get(team.team_id)
        if cached is None:
            rng = random.Random(f"{self._seed}|{team.team_id}|parties")
            parties = [_company(rng) for _ in range(10)] + [_person(rng) for _ in range(5)]
            cached = tuple(party for party in parties if party.rfc != team.rfc)
            self._parties[team.team_id] = cached
        return cached

    def _generate(
        self, team: TeamConfig, year: int, month: int, direction: str
    ) -> tuple[Invoice, ...]:
        rng = random.Random(f"{self._seed}|{team.team_id}|{year:04d}-{month:02d}|{direction}")
        count = rng.randint(*self._per_month)
        days = calendar.monthrange(year, month)[1]
        parties = self._counterparties(team)
        invoices = [
            _invoice(rng, team_party(team), parties, direction, year, month, days)
            for _ in range(count)
        ]
        invoices.sort(key=lambda invoice: (invoice.issued_at, invoice.uuid))
        return tuple(invoices)


def _invoice(
    rng: random.Random,
    team: Party,
    parties: Sequence[Party],
    direction: str,
    year: int,
    month: int,
    days: int,
) -> Invoice:
    kinds, weights = zip(*_TYPE_WEIGHTS[direction], strict=True)
    kind = rng.choices(kinds, weights)[0]
    people = [party for party in parties if len(party.rfc) == 13]
    other = rng.choice(people if kind == "N" else list(parties))
    issuer, receiver = (team, other) if direction == "issued" else (other, team)
    issued_at = datetime(year, month, rng.randint(1, days), rng.randint(8, 20), rng.randint(0, 59))
    issued_at += timedelta(seconds=rng.randint(0, 59))
    subtotal, total, currency, rate = _amounts(rng, kind)
    cancelled = kind != "N" and rng.random() < 0.06
    method = rng.choice(("PUE", "PPD")) if kind == "I" else ("PUE" if kind == "E" else None)
    form = None if method is None else ("99" if method == "PPD" else rng.choice(("01", "03", "04")))
    return Invoice(
        uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper(),
        direction=direction,
        issuer=issuer,
        receiver=receiver,
        invoice_type=kind,
        series=rng.choice(_SERIES[kind]),
        folio=str(rng.randint(1, 99_999)),
        subtotal=subtotal,
        total=total,
        currency=currency,
        exchange_rate=rate,
        issued_at=issued_at,
        stamped_at=issued_at + timedelta(seconds=rng.randint(5, 1_800)),
        status="Cancelado" if cancelled else "Vigente",
        cancelled_at=issued_at + timedelta(days=rng.randint(1, 15)) if cancelled else None,
        pac_rfc=rng.choice(PAC_RFCS),
        certificate_number=f"30001000000{rng.randint(0, 999_999_999):09d}",
        sat_certificate_number=f"00001000000{rng.randint(0, 999_999_999):09d}",
        uso_cfdi={"P": "CP01", "N": "CN01"}.get(kind) or rng.choice(("G01", "G03", "I04", "S01")),
        payment_method=method,
        payment_form=form,
        xml_state=_xml_state(rng, direction),
    )


def _amounts(rng: random.Random, kind: str) -> tuple[Decimal, Decimal, str, Decimal | None]:
    # Payment (P) and transfer (T) CFDIs carry no amounts of their own: SAT wants 0 and XXX.
    if kind in ("P", "T"):
        return Decimal("0"), Decimal("0"), "XXX", None
    low, high = {"I": (150, 85_000), "E": (50, 5_000), "N": (4_000, 40_000)}[kind]
    subtotal = round_amount(Decimal(str(rng.uniform(low, high))), "MXN")
    factor = NOMINA_NET if kind == "N" else IVA
    total = round_amount(subtotal * factor, "MXN")  # SAT's rule: to the cent, half up
    if kind == "I" and rng.random() < 0.08:
        return (
            subtotal,
            total,
            "USD",
            Decimal(str(rng.uniform(16.5, 20.5))).quantize(Decimal("0.0001"), ROUND_HALF_UP),
        )
    return subtotal, total, "MXN", None


def _xml_state(rng: random.Random, direction: str) -> str:
    roll = rng.random()
    if direction == "issued" or roll < 0.90:
        return "ready"
    return "building" if roll < 0.95 else "error"


def _homoclave(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(3))


def _birth(rng: random.Random) -> str:
    return f"{rng.randint(60, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"


def _company(rng: random.Random) -> Party:
    name = " ".join(
        (rng.choice(_COMPANY_WORDS), rng.choice(_COMPANY_NAMES), rng.choice(_COMPANY_SUFFIXES))
    )
    initials = "".join(word[0] for word in name.split()[:3] if word[0].isalpha())[:3].ljust(3, "X")
    rfc = (initials + _birth(rng) + _homoclave(rng)).replace("Ñ", "X")
    return Party(rfc, name, rng.choice(("601", "603", "626")), f"{rng.randint(1_000, 99_999):05d}")


def _person(rng: random.Random) -> Party:
    given, first, second = rng.choice(_GIVEN), rng.choice(_SURNAMES), rng.choice(_SURNAMES)
    letters = (first[:2] + second[0] + given[0]).translate(str.maketrans("ÁÉÍÓÚÑ", "AEIOUX"))
    rfc = letters + _birth(rng) + _homoclave(rng)
    return Party(rfc, f"{given} {first} {second}", "605", f"{rng.randint(1_000, 99_999):05d}")
