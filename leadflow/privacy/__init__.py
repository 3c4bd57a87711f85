"""Personal data protection: URL stripping, erasure tombstones, erasure and subject access export.

Cross-cutting like ``leadflow.store``: ingest calls the landing guard, identity load the
tombstone check, the CLI the erase and export operations. Nothing here logs a value.
See docs/privacy.md.
"""
