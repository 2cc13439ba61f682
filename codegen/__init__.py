"""Spec → code: `python -m codegen` regenerates gigstack_async/_generated/ from openapi/."""
