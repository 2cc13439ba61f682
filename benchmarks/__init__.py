"""`make bench`: gigstack_async measured side by side with raw aiohttp, an openapi-python-client
SDK generated from our spec, and pydantic v2 models. Writes BENCHMARKS.md.

```console
.venv/bin/python -m benchmarks              # the full run (minutes); rewrites BENCHMARKS.md
.venv/bin/python -m benchmarks --quick --output /tmp/B.md  # tiny sizes, seconds
.venv/bin/python -m benchmarks --only decode,fanout
```

Layout: `payloads` (canned SAT invoices), `server` (the canned loopback server, run in its own
process), `peers` (generating the peer SDKs into `.bench/`), `clients` (one adapter per peer), one
module per scenario (`per_request`, `pagination`, `memory`, `decode`, `concurrency`, `fanout`),
`stats` (medians, ranges, records) and `report` (BENCHMARKS.md).
"""
