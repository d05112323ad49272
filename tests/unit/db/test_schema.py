"""The migrations build what the models describe, on both backends."""

from __future__ import annotations

import pytest
import peewee as pw

from gateway import db
from gateway.clock import FakeClock
from gateway.db import models
from tests.helpers import ready_settings, write_config

pytestmark = pytest.mark.database

TABLES = [m for m in vars(models).values()
          if isinstance(m, type) and issubclass(m, models.BaseModel) and m is not models.BaseModel]


def test_a_new_database_has_every_column_of_every_model_and_no_other(tmp_path):
    settings = ready_settings(write_config(tmp_path))
    database = db.connect(settings.database, audit_key=settings.audit_key)
    applied = db.migrate(FakeClock().now())
    assert applied[0] == "0001_initial" and db.schema_is_current()
    for model in TABLES:
        table = model._meta.table_name
        built = {c.name for c in database.get_columns(table)}
        assert built == {f.column_name for f in model._meta.sorted_fields}, table
    assert db.migrate(FakeClock().now()) == []   # a second run changes nothing


def test_the_first_migration_is_frozen_at_version_one(tmp_path):
    """Migration 0001 alone builds the first schema, without the columns later ones add."""
    from gateway.db.migrations import m0001_initial

    database = pw.SqliteDatabase(str(tmp_path / "old.db"))
    m0001_initial.apply(database)
    assert "urgent" not in {c.name for c in database.get_columns("case")}
    assert "peer" not in {c.name for c in database.get_columns("inbound")}
