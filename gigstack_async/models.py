"""The API's data types, generated from openapi/ (attrs classes and enums).

```python
from gigstack_async.models import ClientInput, Item, TaxElement, TaxType
```

Request bodies take them (or plain keyword arguments); responses are decoded into them.
"""

from gigstack_async._generated.models import *  # noqa: F403
