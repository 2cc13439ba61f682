"""Fiscal input checks (CFDI 4.0) run before a request that issues or cancels a CFDI is sent.

Pure functions: each takes the argument name (for the error) and the value, returns the
normalized value to send, and raises `InvalidParameterError` (a `ValueError`) naming the rule
that was broken — or `TypeError` for a value of the wrong Python type. Nothing here talks to the
network.

The code lists come from the catalogs (openapi/catalogs.yaml → `gigstack_async.catalogs`),
read through `catalog()`. A rule that needs a catalog attribute the row does not carry is
skipped rather than guessed: the server stays the judge of what these checks cannot know.

Sources: the docs catalogs (FACT-docs), SAT's lists as copied by third parties (FACT-3p), see
../shared/reference/api-surface-core.md §7 and openapi/catalogs.yaml. Rules:

- RFC: 12 characters for a persona moral, 13 for a persona física, a valid YYMMDD date; the
  generic RFCs XAXX010101000 (público en general) and XEXX010101000 (foreign) are accepted.
- Régimen fiscal must exist and fit the RFC's persona type; a generic RFC takes régimen 616
  (FACT-3p).
- Uso CFDI must exist and fit the receiver's persona type (deductions D01–D10 and CN01 are for
  personas físicas) and régimen (SAT's RegimenFiscalReceptor column, FACT-3p).
- Payment method PUE/PPD; payment form from the catalog; PPD requires form 99 (FACT-3p).
- Zip code: five digits (DomicilioFiscalReceptor).
- Currency: ISO 4217 code; MXN takes no exchange rate or 1, any other currency needs one > 0.
- Cancellation motive 01 requires the substitution UUID (FACT-docs).

`invoice(body)`, `payment(body)`, `cancel(body)` and `client(body)` apply every rule to a whole
request body (a generated input model or a mapping) and name the broken field by its path, e.g.
`client.tax_system`. The generated resource methods call them before sending where the spec
says `x-gigstack-fiscal-check: <name>`.

>>> rfc_kind(rfc("tax_id", "eku9003173c9"))
'moral'
>>> currency("currency", "usd", "17.25")
('USD', Decimal('17.25'))
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from gigstack_async._validation import cfdi_uuid
from gigstack_async._validation import rfc as _rfc
from gigstack_async.errors import InvalidParameterError

__all__ = [
    "CATALOGS_YAML_PATH",
    "GENERIC_RFC_FOREIGN",
    "GENERIC_RFC_NATIONAL",
    "GENERIC_TAX_REGIME",
    "CatalogUnavailableError",
    "RfcKind",
    "cancel",
    "cancellation",
    "catalog",
    "cfdi_use",
    "client",
    "currency",
    "global_period",
    "invoice",
    "is_generic_rfc",
    "payment",
    "payment_form",
    "payment_method",
    "payment_terms",
    "receiver",
    "relationship",
    "rfc",
    "rfc_kind",
    "tax_regime",
    "zip_code",
]

RfcKind = Literal["fisica", "moral"]

GENERIC_RFC_NATIONAL = "XAXX010101000"
"""Público en general (SAT)."""
GENERIC_RFC_FOREIGN = "XEXX010101000"
"""Foreign receiver without a Mexican RFC (SAT)."""
GENERIC_TAX_REGIME = "616"
"""Sin obligaciones fiscales: the régimen of a generic-RFC receiver (FACT-3p SAT rule)."""

_PPD_FORM = "99"
_MXN = "MXN"
_UNDEFINED_CURRENCY = "XXX"
"""SAT c_Moneda XXX: no currency involved; only for CFDI without amounts (pagos, traslado)."""
_NO_ZIP = "00000"
"""Not a código postal: SAT's c_CodigoPostal starts at 01000 (FACT-3p)."""
_ZIP_RE = re.compile(r"[0-9]{5}")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")
_BIMESTER_PERIODICITY = "05"

CATALOGS_YAML_PATH = Path(__file__).resolve().parent.parent / "openapi" / "catalogs.yaml"

Rows = Mapping[str, Mapping[str, Any]]


class CatalogUnavailableError(RuntimeError):
    """Neither the generated `gigstack_async.catalogs` nor openapi/catalogs.yaml is available."""


# ---------------------------------------------------------------------------------- catalogs


def _rows_from_module(name: str) -> Rows | None:
    try:
        module = importlib.import_module("gigstack_async.catalogs")
    except ImportError:
        return None
    enum_cls = getattr(module, name, None)
    if not (isinstance(enum_cls, type) and issubclass(enum_cls, Enum)):
        return None
    rows: dict[str, Mapping[str, Any]] = {}
    for member in enum_cls:
        # The generated enums may expose the row's attributes; without them the attribute
        # rules are skipped (see `_attribute`), never guessed.
        attributes = getattr(member, "attributes", None)
        rows[str(member.value)] = dict(attributes) if isinstance(attributes, Mapping) else {}
    return rows


def _rows_from_yaml(name: str) -> Rows | None:
    if not CATALOGS_YAML_PATH.is_file():
        return None
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML ships with every dev/test install
        return None
    data = yaml.safe_load(CATALOGS_YAML_PATH.read_text(encoding="utf-8"))
    entry = (data.get("catalogs") or {}).get(name)
    if entry is None:
        return None
    return {str(row["code"]): dict(row.get("attributes") or {}) for row in entry["values"]}


@functools.cache
def catalog(name: str) -> Rows:
    """code → attributes of the catalog `name` (e.g. "TaxRegime").

    Read from the generated `gigstack_async.catalogs` when it has the enum, else (in a source
    checkout) from openapi/catalogs.yaml, the data it is generated from.
    """
    rows = _rows_from_module(name)
    if rows is None:
        rows = _rows_from_yaml(name)
    if rows is None:
        raise CatalogUnavailableError(f"catalog {name} is not available")
    return rows


def _attribute(catalog_name: str, code: str, key: str) -> Any:
    return catalog(catalog_name).get(code, {}).get(key)


def _code(field: str, value: object) -> str:
    if isinstance(value, Enum):
        value = value.value
    if not isinstance(value, str):
        raise TypeError(f"{field}: expected a str code, got {type(value).__name__}")
    return value.strip().upper()


def _in_catalog(field: str, value: object, catalog_name: str, what: str) -> str:
    code = _code(field, value)
    rows = catalog(catalog_name)
    if code not in rows:
        allowed = ", ".join(sorted(rows))
        raise InvalidParameterError(field, f"must be a {what} code, one of {allowed}", value)
    return code


# ---------------------------------------------------------------------------------- RFC


def rfc(field: str, value: object) -> str:
    """A Mexican RFC, stripped and upper-cased (generic RFCs included).

    >>> rfc("tax_id", "XAXX010101000")
    'XAXX010101000'
    """
    return _rfc(field, value)


def rfc_kind(value: str) -> RfcKind:
    """`fisica` for a 13-character RFC (generic RFCs included), `moral` for 12."""
    return "fisica" if len(value) == 13 else "moral"


def is_generic_rfc(value: str) -> bool:
    """XAXX010101000 (público en general) or XEXX010101000 (foreign receiver)."""
    return value in (GENERIC_RFC_NATIONAL, GENERIC_RFC_FOREIGN)


def _regime_allows(regime: str, kind: RfcKind) -> bool | None:
    allowed = _attribute("TaxRegime", regime, f"persona_{kind}")
    return None if allowed is None else bool(allowed)


# ---------------------------------------------------------------------------------- régimen


def tax_regime(field: str, value: object, *, rfc: str | None = None) -> str:
    """A régimen fiscal code (catalog TaxRegime) that fits the RFC, when one is given.

    A generic RFC takes 616; a persona física (13-character RFC) cannot take a régimen for
    personas morales only, and the other way round.

    >>> tax_regime("tax_system", "601", rfc="EKU9003173C9")
    '601'
    """
    code = _in_catalog(field, value, "TaxRegime", "régimen fiscal")
    if rfc is None:
        return code
    if is_generic_rfc(rfc):
        if code != GENERIC_TAX_REGIME:
            raise InvalidParameterError(
                field,
                f"must be {GENERIC_TAX_REGIME} (sin obligaciones fiscales) for generic RFC {rfc}",
                value,
            )
        return code
    kind = rfc_kind(rfc)
    if _regime_allows(code, kind) is False:
        person = "persona física (13-character RFC)" if kind == "fisica" else "persona moral"
        raise InvalidParameterError(
            field, f"régimen {code} does not apply to a {person}: RFC {rfc}", value
        )
    return code


# ---------------------------------------------------------------------------------- uso CFDI


def _kinds_of_regime(regime: str) -> set[RfcKind]:
    kinds: set[RfcKind] = set()
    for kind in ("fisica", "moral"):
        if _regime_allows(regime, kind) is not False:
            kinds.add(kind)
    return kinds


def cfdi_use(
    field: str, value: object, *, rfc: str | None = None, tax_regime: str | None = None
) -> str:
    """A uso CFDI code (catalog CfdiUse) that fits the receiver.

    With the receiver's RFC, the use must apply to its persona type (D01–D10 and CN01 are for
    personas físicas). With only the régimen, the use must apply to a persona type the régimen
    allows. Where the catalog row lists the régimenes a use accepts (`regimes`, SAT's
    RegimenFiscalReceptor column), the régimen must be one of them: G03 is not for a salaried
    receiver (605), a receiver in 616 (público en general) takes S01 or CP01.

    >>> cfdi_use("use", "g03", rfc="EKU9003173C9")
    'G03'
    """
    code = _in_catalog(field, value, "CfdiUse", "uso CFDI")
    kinds: set[RfcKind] = {"fisica", "moral"}
    if rfc is not None:
        kinds = {rfc_kind(rfc)}
    if tax_regime is not None:
        kinds &= _kinds_of_regime(tax_regime)
    if kinds and all(_attribute("CfdiUse", code, f"persona_{k}") is False for k in kinds):
        who = " or ".join(
            "a persona física" if k == "fisica" else "a persona moral" for k in sorted(kinds)
        )
        raise InvalidParameterError(field, f"uso CFDI {code} does not apply to {who}", value)
    regimes = _attribute("CfdiUse", code, "regimes")
    if tax_regime is not None and regimes is not None and tax_regime not in regimes:
        raise InvalidParameterError(
            field, f"uso CFDI {code} does not apply to régimen {tax_regime}", value
        )
    return code


# ---------------------------------------------------------------------------------- payment


def _form(field: str, value: object) -> str:
    return _in_catalog(field, value, "PaymentForm", "forma de pago")


def _method(field: str, value: object) -> str:
    return _in_catalog(field, value, "PaymentMethod", "método de pago")


def payment_form(field: str, value: object) -> str:
    """A forma de pago code (catalog PaymentForm), e.g. "03".

    >>> payment_form("payment_form", "99")
    '99'
    """
    return _form(field, value)


def payment_method(field: str, value: object) -> str:
    """PUE or PPD (catalog PaymentMethod).

    >>> payment_method("payment_method", "ppd")
    'PPD'
    """
    return _method(field, value)


def payment_terms(
    *, payment_method: object | None, payment_form: object | None
) -> tuple[str | None, str | None]:
    """Method and form checked together: PPD (paid later) requires form 99 (por definir).

    Either may be None (the server applies its default); the pair is returned normalized.

    >>> payment_terms(payment_method="PPD", payment_form="99")
    ('PPD', '99')
    """
    method = None if payment_method is None else _method("payment_method", payment_method)
    form = None if payment_form is None else _form("payment_form", payment_form)
    if method == "PPD" and form is not None and form != _PPD_FORM:
        raise InvalidParameterError(
            "payment_form",
            f"must be {_PPD_FORM} (por definir) when payment_method is PPD",
            payment_form,
        )
    return method, form


# ---------------------------------------------------------------------------------- zip, currency


def zip_code(field: str, value: object) -> str:
    """A five-digit código postal, as a string (leading zeros matter).

    >>> zip_code("zip", " 03100 ")
    '03100'
    """
    if not isinstance(value, str):
        raise TypeError(
            f"{field}: expected a str (leading zeros matter), got {type(value).__name__}"
        )
    text = value.strip()
    if not _ZIP_RE.fullmatch(text):
        raise InvalidParameterError(field, "must be a five-digit código postal, e.g. 03100", value)
    if text == _NO_ZIP:
        raise InvalidParameterError(
            field, "00000 is not a código postal (SAT c_CodigoPostal starts at 01000)", value
        )
    return text


def _decimal(field: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float, str)):
        raise TypeError(f"{field}: expected a Decimal, int or str, got {type(value).__name__}")
    try:
        # float goes through repr so 17.25 stays 17.25, not its binary expansion.
        number = Decimal(repr(value) if isinstance(value, float) else value)
    except InvalidOperation:
        raise InvalidParameterError(field, "must be a number", value) from None
    if not number.is_finite():
        raise InvalidParameterError(field, "must be a finite number", value)
    return number


def currency(
    field: str, value: object, exchange_rate: object | None = None
) -> tuple[str, Decimal | None]:
    """An ISO 4217 currency code with its exchange rate (MXN per unit), checked together.

    MXN takes no rate or exactly 1; any other currency needs a rate greater than 0 (SAT
    TipoCambio, FACT-3p). Returns (code, rate as Decimal or None).

    >>> currency("currency", "MXN")
    ('MXN', None)
    """
    code = _code(field, value)
    if not _CURRENCY_RE.fullmatch(code):
        raise InvalidParameterError(field, "must be a three-letter ISO 4217 code, e.g. MXN", value)
    rate = None if exchange_rate is None else _decimal("exchange_rate", exchange_rate)
    if code == _MXN:
        if rate is not None and rate != 1:
            raise InvalidParameterError(
                "exchange_rate", "must be 1 or omitted when currency is MXN", exchange_rate
            )
        return code, rate
    if rate is None:
        raise InvalidParameterError(
            "exchange_rate", f"is required when currency is {code} (MXN per 1 {code})", None
        )
    if rate <= 0:
        raise InvalidParameterError("exchange_rate", "must be greater than 0", exchange_rate)
    return code, rate


# ---------------------------------------------------------------------------------- cancellation


def cancellation(motive: object, substitution_uuid: object | None = None) -> tuple[str, str | None]:
    """A cancellation motive (catalog CancellationMotive) with its substitution UUID.

    Motive 01 (issued with errors, with a relation) requires `substitution_uuid`, the SAT UUID
    of the CFDI that replaces the cancelled one (FACT-docs). Returns (motive, UUID or None).

    >>> cancellation("02")
    ('02', None)
    """
    code = _in_catalog("motive", motive, "CancellationMotive", "cancellation motive")
    needs = _attribute("CancellationMotive", code, "requires_substitution")
    if needs is None:
        needs = code == "01"
    if substitution_uuid is None:
        if needs:
            raise InvalidParameterError(
                "substitution_uuid",
                f"is required for motive {code}: the UUID of the CFDI that replaces this one",
                None,
            )
        return code, None
    if not needs:
        raise InvalidParameterError(
            "substitution_uuid",
            f"goes only with motive 01 (a CFDI replaced by another); motive {code} takes none",
            substitution_uuid,
        )
    return code, cfdi_uuid("substitution_uuid", substitution_uuid)


def relationship(field: str, value: object) -> str:
    """A relación entre CFDI code (catalog InvoiceRelationship), e.g. "01" for a credit note.

    >>> relationship("relationship", "04")
    '04'
    """
    return _in_catalog(field, value, "InvoiceRelationship", "relationship")


def global_period(periodicity: object, months: object, year: object) -> tuple[str, str, int]:
    """A global invoice's period: SAT periodicity, month or bimester, year.

    Bimesters (13–18) go only with periodicity 05 (bimestral), FACT-3p.

    >>> global_period("04", "01", 2024)
    ('04', '01', 2024)
    """
    period = _in_catalog("periodicity", periodicity, "GlobalPeriodicity", "periodicity")
    month = _in_catalog("months", months, "MonthBimester", "month or bimester")
    if isinstance(year, bool) or not isinstance(year, int):
        raise TypeError(f"year: expected an int, got {type(year).__name__}")
    if not 1000 <= year <= 9999:
        raise InvalidParameterError("year", "must be a four-digit fiscal year", year)
    bimester = _attribute("MonthBimester", month, "bimester")
    if bimester is None:
        bimester = int(month) > 12
    if bimester and period != _BIMESTER_PERIODICITY:
        raise InvalidParameterError(
            "months", f"bimester {month} goes only with periodicity 05 (bimestral)", months
        )
    return period, month, year


# ---------------------------------------------------------------------------------- whole bodies


def _get(obj: object, name: str) -> Any:
    # Bodies arrive as generated attrs models or plain mappings; both are read the same way.
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    value = getattr(obj, name, None)
    # Generated models rename Python keywords (`global` → `global_`).
    return getattr(obj, f"{name}_", None) if value is None else value


def _path(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _put(body: Any, path: tuple[str | int, ...], value: Any) -> None:
    """Write `value` at `path` in a (copied) JSON body where that field is present; models
    are left as they are (they are only checked)."""
    target = body
    for key in path[:-1]:
        if isinstance(target, dict):
            target = target.get(key)
        elif isinstance(target, list) and isinstance(key, int) and key < len(target):
            target = target[key]
        else:
            return
    if isinstance(target, dict) and path[-1] in target:
        target[path[-1]] = value


def _copy(body: Any) -> Any:
    """A deep copy of a JSON-shaped body (dicts and lists), so normalising never touches the
    caller's objects; anything else is returned as is."""
    if isinstance(body, Mapping):
        return {key: _copy(value) for key, value in body.items()}
    if isinstance(body, list):
        return [_copy(value) for value in body]
    return body


def receiver(
    client: object, *, use: object | None = None, prefix: str = "client"
) -> dict[str, str]:
    """Check the fiscal fields of an inline client (ClientInput) that are present.

    A client given only by `id` has nothing to check here (the server holds its data). `use`
    is the invoice's uso CFDI when it overrides the client's default. Errors name the field as
    `<prefix>.<field>` (just `<field>` with an empty prefix). Returns the normalised values of
    the fields it checked (`tax_id`, `tax_system`, `use`, `zip`): these are what is sent.
    """
    out: dict[str, str] = {}
    tax_id = _get(client, "tax_id")
    normalized_rfc = None if tax_id is None else rfc(_path(prefix, "tax_id"), tax_id)
    if normalized_rfc is not None:
        out["tax_id"] = normalized_rfc
    regime_value = _get(client, "tax_system")
    regime = (
        None
        if regime_value is None
        else tax_regime(_path(prefix, "tax_system"), regime_value, rfc=normalized_rfc)
    )
    if regime is not None:
        out["tax_system"] = regime
    if use is not None:
        use_value, use_field = use, "use"
    else:
        use_value, use_field = _get(client, "use"), _path(prefix, "use")
    if use_value is not None:
        out["use"] = cfdi_use(use_field, use_value, rfc=normalized_rfc, tax_regime=regime)
    zip_value = _get(_get(client, "address"), "zip")
    if zip_value is not None:
        out["zip"] = zip_code(_path(prefix, "address.zip"), zip_value)
    return out


def _put_receiver(body: Any, prefix: tuple[str, ...], values: Mapping[str, str]) -> None:
    for key in ("tax_id", "tax_system"):
        if key in values:
            _put(body, (*prefix, key), values[key])
    if "zip" in values:
        _put(body, (*prefix, "address", "zip"), values["zip"])


def client(body: object) -> Any:
    """Check a client body (create/update client) before it is sent; returns the body with
    the checked values normalised (RFC upper-cased and stripped, codes upper-cased)."""
    out = _copy(body)
    values = receiver(body, prefix="")
    _put_receiver(out, (), values)
    if "use" in values:
        _put(out, ("use",), values["use"])
    return out


def invoice(body: object) -> Any:
    """Check an invoice body (income, egress, draft, receipt, retention) before it is sent.

    Only fields that are present are checked; see the module docstring for the rules. Returns
    a copy of a mapping body with every checked value normalised, so what was checked is what
    is sent (review 11 #6: " pegj800101abc ", "g03", "ppd", "usd" went out raw).
    """
    out = _copy(body)
    values = receiver(_get(body, "client"), use=_get(body, "use"))
    _put_receiver(out, ("client",), values)
    if "use" in values:
        if _get(body, "use") is not None:
            _put(out, ("use",), values["use"])
        else:
            _put(out, ("client", "use"), values["use"])
    method, form = _get(body, "payment_method"), _get(body, "payment_form")
    if method is not None or form is not None:
        method, form = payment_terms(payment_method=method, payment_form=form)
        _put(out, ("payment_method",), method)
        _put(out, ("payment_form",), form)
    code, rate = _get(body, "currency"), _get(body, "exchange_rate")
    if code is not None:
        if _code("currency", code) == _UNDEFINED_CURRENCY:
            # SAT c_Moneda XXX ("los códigos asignados para las transacciones en que intervenga
            # ninguna moneda") is for payment-only CFDI (tipo P / T), never an income/egress
            # invoice, which has an amount (Anexo 20 CFDI 4.0 Moneda, FACT-3p).
            raise InvalidParameterError(
                "currency", "XXX (no currency) is not allowed on an invoice with amounts", code
            )
        _put(out, ("currency",), currency("currency", code, rate)[0])
    elif rate is not None:
        # gigstack's default currency is MXN (FACT-CLI default): a rate other than 1 needs a
        # currency to go with it.
        currency("currency", _MXN, rate)
    for index, related in enumerate(_get(body, "related_documents") or ()):
        code_value = _get(related, "relationship")
        if code_value is not None:
            _put(
                out,
                ("related_documents", index, "relationship"),
                relationship(f"related_documents[{index}].relationship", code_value),
            )
    global_info = _get(body, "global")
    if global_info is not None:
        _global_receiver(body)
        parts = [_get(global_info, key) for key in ("periodicity", "months", "year")]
        if all(part is not None for part in parts):
            period, month, _ = global_period(*parts)
            _put(out, ("global", "periodicity"), period)
            _put(out, ("global", "months"), month)
    return out


def _global_receiver(body: object) -> None:
    """A global invoice (`global` info) goes to público en general: receiver RFC XAXX010101000
    (SAT Anexo 20 CFDI 4.0, InformacionGlobal: "cuando el RFC del receptor sea el genérico
    XAXX010101000", FACT-3p; api-surface-core.md: the EOM global invoice is to XAXX010101000)."""
    tax_id = _get(_get(body, "client"), "tax_id")
    if tax_id is not None and rfc("client.tax_id", tax_id) != GENERIC_RFC_NATIONAL:
        raise InvalidParameterError(
            "client.tax_id",
            f"must be {GENERIC_RFC_NATIONAL} (público en general) on a global invoice",
            tax_id,
        )


def payment(body: object) -> Any:
    """Check a payment body (request, register, mark paid, update) before it is sent; returns
    a copy of a mapping body with the checked values normalised."""
    out = _copy(body)
    values = receiver(_get(body, "client"))
    _put_receiver(out, ("client",), values)
    if "use" in values:
        _put(out, ("client", "use"), values["use"])
    form = _get(body, "payment_form")
    if form is not None:
        code_ = payment_form("payment_form", form)
        _put(out, ("payment_form",), code_)
        automation = _get(body, "automation_type")
        if isinstance(automation, Enum):
            automation = automation.value
        if code_ == _PPD_FORM and isinstance(automation, str) and "complement" in automation:
            # A payment complement records money received, so its FormaDePagoP cannot be 99
            # "por definir" (SAT Complemento para recepción de pagos 2.0, guía de llenado:
            # FormaDePagoP "no debe contener el valor 99", FACT-3p).
            raise InvalidParameterError(
                "payment_form",
                f"must not be 99 (por definir) with automation {automation}: the payment "
                "complement it issues needs the real forma de pago",
                form,
            )
    code, rate = _get(body, "currency"), _get(body, "exchange_rate")
    if code is not None:
        _put(out, ("currency",), currency("currency", code, rate)[0])
    elif rate is not None:
        currency("currency", _MXN, rate)
    return out


def cancel(body: object) -> Any:
    """Check a cancellation body `{motive, substitution_uuid}` before it is sent (invoices and
    retentions); returns a copy with both normalised. Motive 01 needs the substitution UUID;
    any other motive must not carry one (SAT: FolioSustitucion only with motive 01, FACT-3p;
    api-surface-core.md: "required only for motive 01")."""
    out = _copy(body)
    motive, substitution = _get(body, "motive"), _get(body, "substitution_uuid")
    if motive is None:
        if substitution is not None:
            raise InvalidParameterError(
                "substitution_uuid", "goes only with motive 01, and no motive was given", None
            )
        return out
    code, uuid = cancellation(motive, substitution)
    _put(out, ("motive",), code)
    _put(out, ("substitution_uuid",), uuid)
    return out
