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
"""

from gigstack_async.transports.aiohttp import AiohttpTransport
from gigstack_async.transports.base import (
    AsyncTransport,
    ConnectError,
    ConnectTimeout,
    MultipartField,
    ReadError,
    ReadTimeout,
    Request,
    Response,
    ResponseTooLarge,
    TransportError,
)
from gigstack_async.transports.mock import MockTransport

__all__ = [
    "AiohttpTransport",
    "AsyncTransport",
    "ConnectError",
    "ConnectTimeout",
    "MockTransport",
    "MultipartField",
    "ReadError",
    "ReadTimeout",
    "Request",
    "Response",
    "ResponseTooLarge",
    "TransportError",
]
