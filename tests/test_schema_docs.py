"""docs/schema.md is generated from the schema and must be current."""

from pathlib import Path

from leadflow.store import docs
from leadflow.store.schema import metadata


def test_schema_doc_is_current() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "schema.md").read_text()
    assert doc.strip() == docs.render().strip(), "run: python -m leadflow.store.docs > docs/schema.md"


def test_every_table_has_a_purpose() -> None:
    assert set(metadata.tables) <= set(docs.PURPOSE)
