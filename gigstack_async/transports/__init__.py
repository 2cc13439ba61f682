"""How bytes reach gigstack: one small interface, a real implementation and a mock beside it.

Everything above this package (retries, deadlines, auth, errors, models) is transport-agnostic, so
tests and users can swap the network for a function:

```python
from gigstack_async import GigstackClient
from gigstack_async.transports import MockTransport, Response

def handler(request):
    return Response(200, body=b'{"success": true, "data": [], "has_more": false}')

client = GigstackClient("sk_test_x", transport=MockTransport(handler))
```

A transport may also offer `stream(request)` (`StreamingTransport`): an async context manager
yielding a `StreamedResponse` whose `chunks()` hand the body out as it arrives. Package downloads
use it to stay within bounded memory; a transport without it still works (`BufferedStream`).
"""

from gigstack_async.transports.aiohttp import AiohttpTransport
from gigstack_async.transports.base import (
    AsyncTransport,
    BodyReadError,
    BufferedStream,
    ConnectError,
    ConnectTimeout,
    MultipartField,
    ReadError,
    ReadTimeout,
    Request,
    Response,
    ResponseTooLarge,
    StreamedResponse,
    StreamingTransport,
    TransportError,
)
from gigstack_async.transports.mock import MockTransport

__all__ = [
    "AiohttpTransport",
    "AsyncTransport",
    "BodyReadError",
    "BufferedStream",
    "ConnectError",
    "ConnectTimeout",
    "MockTransport",
    "MultipartField",
    "ReadError",
    "ReadTimeout",
    "Request",
    "Response",
    "ResponseTooLarge",
    "StreamedResponse",
    "StreamingTransport",
    "TransportError",
]
