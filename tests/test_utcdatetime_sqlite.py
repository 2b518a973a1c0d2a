"""UTCDateTime on SQLite writes the text SQLAlchemy's own DATETIME writes, and reads it back aware.

What could go wrong: a stored format that differs from rows already in a database (a deadline
query comparing texts would then skip or take the wrong cases), a lost microsecond, a local time
taken for UTC, or a column declared with another type.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import DATETIME
from sqlalchemy.schema import CreateTable

from inbox_bot.schema import Case, UTCDateTime

VALUES = [
    datetime(2026, 11, 25, 2, 30, tzinfo=timezone.utc),
    datetime(2026, 3, 29, 2, 30, 0, 5, tzinfo=ZoneInfo("Europe/Warsaw")),  # the hour clocks skip
    datetime(2026, 10, 25, 2, 30, 0, 999999, tzinfo=ZoneInfo("Europe/Warsaw")),  # the hour that repeats
    datetime(1, 1, 1, 5, tzinfo=timezone.utc),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc),
    datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
]


@pytest.mark.parametrize("value", VALUES)
def test_the_stored_text_is_sqlalchemys_datetime_text_of_the_utc_time(value):
    dialect = sqlite.dialect()
    reference = DATETIME().bind_processor(dialect)(value.astimezone(timezone.utc).replace(tzinfo=None))
    assert UTCDateTime().process_bind_param(value, dialect) == reference


def test_values_round_trip_compare_and_sort_in_a_real_database(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path}/t.db")
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime))
    table.create(engine)
    with engine.begin() as connection:
        connection.execute(insert(table), [{"id": i, "at": v} for i, v in enumerate(VALUES)])
        # Rows written before (SQLAlchemy's DATETIME text, with and without microseconds, and the
        # sqlite3 module's own adapter with its offset) read back as the same instants.
        connection.execute(text("INSERT INTO t VALUES (100, '2026-11-25 02:30:00'), "
                                "(101, '2026-11-25 02:30:00.000001+00:00')"))
    with engine.connect() as connection:
        back = dict(connection.execute(select(table.c.id, table.c.at)).all())
        # Compared as UTC: Python never calls a time in a skipped or repeated hour equal to one
        # in another zone (PEP 495), however the same instant.
        assert [back[i] for i in range(len(VALUES))] == [v.astimezone(timezone.utc) for v in VALUES]
        assert all(v.tzinfo is timezone.utc for v in back.values())
        assert back[100] == datetime(2026, 11, 25, 2, 30, tzinfo=timezone.utc)
        assert back[101] == datetime(2026, 11, 25, 2, 30, 0, 1, tzinfo=timezone.utc)
        cut = datetime(2026, 3, 29, 1, tzinfo=timezone.utc)  # 03:00 Warsaw summer time
        earlier = connection.execute(select(table.c.id).where(table.c.at <= cut, table.c.id < 100)).scalars()
        assert sorted(earlier) == sorted(i for i, v in enumerate(VALUES) if v <= cut)
        ordered = connection.execute(select(table.c.id).where(table.c.id < 100).order_by(table.c.at)).scalars()
        assert list(ordered) == sorted(range(len(VALUES)), key=lambda i: VALUES[i])
    engine.dispose()


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        UTCDateTime().process_bind_param(datetime(2026, 1, 1), sqlite.dialect())


def test_the_columns_are_still_declared_datetime():
    ddl = str(CreateTable(Case.__table__).compile(dialect=sqlite.dialect()))
    assert "due_at DATETIME" in ddl and "received_at DATETIME NOT NULL" in ddl
