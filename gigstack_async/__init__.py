"""gigstack_async."""
