"""One module per API tag. Resources validate arguments and call the pipeline; no HTTP here."""

from gigstack_async.resources.downloads import Downloads
from gigstack_async.resources.invoices import Invoices
from gigstack_async.resources.retentions import Retentions
from gigstack_async.resources.sat_invoices import SatInvoices

__all__ = ["Downloads", "Invoices", "Retentions", "SatInvoices"]
