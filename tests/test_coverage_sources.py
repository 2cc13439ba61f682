"""docs/coverage.md reports the provenance of what an operation really returns."""

from __future__ import annotations

from typing import Any

from codegen.coverage import render_coverage


def _bundle(response_description: str) -> dict[str, Any]:
    envelope = {
        "type": "object",
        "properties": {"data": {"$ref": "#/components/schemas/Invoice"}},
    }
    return {
        "openapi": "3.0.3",
        "paths": {
            "/invoices/draft/{id}/stamp": {
                "post": {
                    "operationId": "stampDraftInvoice",
                    "summary": "Stamp draft invoice (finalize)",
                    "description": "FACT-docs (llms): stamps a draft.",
                    "x-gigstack-resource": "invoices.drafts",
                    "x-gigstack-method": "stamp",
                    "x-gigstack-side-effect": "fiscal-document",
                    "x-gigstack-unwrap": "data",
                    "x-gigstack-docs-title": "Invoices · Drafts · Stamp draft invoice (finalize)",
                    "responses": {
                        "200": {
                            "description": response_description,
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/InvoiceEnvelope"}
                                }
                            },
                        }
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "Invoice": {"type": "object", "description": "FACT-docs (list example)."},
                "InvoiceEnvelope": envelope,
            }
        },
    }


def _row(markdown: str) -> str:
    return next(line for line in markdown.splitlines() if "Stamp draft invoice" in line)


def test_a_guessed_answer_reusing_a_fact_schema_reads_as_guess() -> None:
    row = _row(render_coverage(_bundle("GUESS (the CLI reads only data.id): the invoice.")))
    assert row.endswith("| fiscal-document | no body | GUESS |")


def test_an_untagged_response_description_falls_back_to_the_schema() -> None:
    row = _row(render_coverage(_bundle("The stamped invoice.")))
    assert row.endswith("| fiscal-document | no body | FACT |")
