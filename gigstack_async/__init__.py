"""gigstack_async: the asyncio SDK for the gigstack API v2 and SAT Descarga Masiva.

```python
from gigstack_async import GigstackClient

async with GigstackClient() as client:
    async for invoice in client.sat_invoices.list(direction="received"):
        print(invoice.uuid, invoice.total)
```
"""

from gigstack_async._config import RetryPolicy, Timeout
from gigstack_async._convert import is_known
from gigstack_async._generated.models import (
    ActivationState,
    ApiErrorCode,
    Direction,
    DownloadRequest,
    DownloadRequestState,
    InvoiceType,
    RequestType,
    RfcType,
    SatInvoice,
    SatInvoiceStatus,
)
from gigstack_async._jsonable import to_dict, to_json
from gigstack_async._version import __version__
from gigstack_async.bulk.events import (
    BulkEvent,
    MonthFailed,
    MonthResult,
    MonthWarning,
    PackageDownloaded,
    StateChanged,
    Submitted,
)
from gigstack_async.bulk.plan import DownloadPlan
from gigstack_async.bulk.run import BulkDownload
from gigstack_async.bulk.store import (
    JournalCorruptError,
    JournalDamagedError,
    JournalError,
    JournalLockedError,
    JournalMismatchError,
    JournalStateError,
)
from gigstack_async.bulk.watch import DownloadWatchTimeout, PollSchedule
from gigstack_async.client import GigstackClient
from gigstack_async.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BilledResponseValidationError,
    ConflictError,
    DownloadInterruptedError,
    GigstackError,
    IncompleteResponseError,
    InternalServerError,
    InvalidParameterError,
    NotFoundError,
    OutcomeUnknownError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    SendWindowClosedError,
    UnprocessableEntityError,
)
from gigstack_async.money import InvalidAmountError
from gigstack_async.pagination import AsyncPager

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "ActivationState",
    "ApiErrorCode",
    "AsyncPager",
    "AuthenticationError",
    "BadRequestError",
    "BilledResponseValidationError",
    "BulkDownload",
    "BulkEvent",
    "ConflictError",
    "Direction",
    "DownloadInterruptedError",
    "DownloadPlan",
    "DownloadRequest",
    "DownloadRequestState",
    "DownloadWatchTimeout",
    "GigstackClient",
    "GigstackError",
    "IncompleteResponseError",
    "InternalServerError",
    "InvalidAmountError",
    "InvalidParameterError",
    "InvoiceType",
    "JournalCorruptError",
    "JournalDamagedError",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "JournalStateError",
    "MonthFailed",
    "MonthResult",
    "MonthWarning",
    "NotFoundError",
    "OutcomeUnknownError",
    "PackageDownloaded",
    "PaginationError",
    "PermissionDeniedError",
    "PollSchedule",
    "RateLimitError",
    "RequestType",
    "RetryPolicy",
    "RfcType",
    "SatInvoice",
    "SatInvoiceStatus",
    "SendWindowClosedError",
    "StateChanged",
    "Submitted",
    "Timeout",
    "UnprocessableEntityError",
    "__version__",
    "is_known",
    "to_dict",
    "to_json",
]
