"""`python -m gigstack_async`: the same command line as `gigstack-async`."""

import sys

from gigstack_async.cli import main

if __name__ == "__main__":
    sys.exit(main())
