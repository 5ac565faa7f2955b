"""bench/order_submit.sql writes the rows of an order by hand, so a model change can leave it
behind (it did: a new NOT NULL column made pgbench fail every transaction). Its INSERTs must
name only columns that exist and every column the database requires."""

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.db import models

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "order_submit.sql"
INSERT = re.compile(r"INSERT INTO (\w+) \(([^)]*)\)", re.S)


def _inserts() -> list[tuple[str, list[str]]]:
    text = SCRIPT.read_text(encoding="utf-8")
    return [(table, [c.strip() for c in columns.split(",")]) for table, columns in INSERT.findall(text)]


def _model(table: str):
    return next(m for m in apps.get_models() if m._meta.db_table == table)


def test_the_script_writes_the_tables_of_an_order():
    assert {table for table, _ in _inserts()} == {
        "ordering_ordernumbercounter", "ordering_order", "ordering_historicalorder", "ordering_orderline",
        "audit_auditevent",
    }


@pytest.mark.parametrize("table,columns", _inserts(), ids=[table for table, _ in _inserts()])
def test_each_insert_names_existing_columns_and_every_required_one(table, columns):
    model = _model(table)
    fields = list(model._meta.concrete_fields)
    existing = {f.column for f in fields}
    assert set(columns) <= existing, f"{table}: no such column {sorted(set(columns) - existing)}"
    required = {
        f.column for f in fields
        if not f.null and f.db_default is models.NOT_PROVIDED
        and not isinstance(f, models.AutoField | models.BigAutoField)
    }
    assert required <= set(columns), f"{table}: the script leaves out {sorted(required - set(columns))}"
