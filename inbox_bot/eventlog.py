"""Rows written in bulk: case events, screening hits and queued mail, one INSERT per table write;
and a transaction's new cases, drafts and suppressions, written as rows at the flush
(`_write_new_objects`).

A message that opens a case records five or six events (opened, reply queued, status changes,
draft created and mailed), screening notes a hit or two for each message, and one or two
mails are queued for it. As ORM objects they were a sixth of a message's processing time; here
they wait in a buffer on the session and go to the database in one executemany per table:

- when the session flushes: before it those whose parent is in the database already (so that
  a flushed object may point at them, as an approved draft at its outbox row), after it the
  rest (so a new case has its id),
- before any commit, a savepoint's included,
- before anything reads their table (a query on CaseEvent or ScreenHit, or loading
  `Case.events`),

and those recorded inside a savepoint that is rolled back are dropped with it. A case whose
`events` collection is already loaded in the session gets its event as an ORM object instead,
so that the collection the caller holds stays true (inbox_bot.cases.record_event decides).
"""

from __future__ import annotations

import json
import weakref
from datetime import datetime, timezone
from json.encoder import c_make_encoder, encode_basestring_ascii
from operator import itemgetter
from typing import Callable, NamedTuple

from sqlalchemy import JSON, Connection, Table, bindparam, event, insert, inspect, update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, SessionTransaction, make_transient_to_detached
from sqlalchemy.orm.attributes import NO_VALUE, instance_state, manager_of_class
from sqlalchemy.orm.decl_base import _declarative_constructor
from sqlalchemy.orm.instrumentation import ClassManager
from sqlalchemy.orm.mapper import _event_on_init

from inbox_bot import ids, txscope
from inbox_bot.schema import Case, CaseEvent, Draft, Suppression, UTCDateTime

_KEY = txscope.key("inbox_bot.pending_events")


def buffer(session: Session, case: Case, row: dict) -> None:
    """Queue one event row (without case_id: taken from `case` when written)."""
    buffer_row(session, CaseEvent, row, parent=case, parent_key="case_id")


def buffer_row(session: Session, model, row: dict, *, parent=None, parent_key: str | None = None) -> None:
    """Queue one row of `model`, a table nothing updates in the transaction that writes it.

    With `parent`, the row waits until the parent is written and takes its id as `parent_key`.
    """
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_KEY, []).append((transaction, model, parent, parent_key, row))


def pending(session: Session, model) -> list[dict]:
    """The rows of `model` buffered in this transaction and not yet written (for lookups that
    read the table on the bare connection, where nothing writes the buffer first)."""
    return [row for _, buffered, _, _, row in session.info.get(_KEY) or () if buffered is model]


def write(session: Session, models: set | None = None) -> None:
    """Write every buffered row whose parent is written (all of them after a flush), or only
    those of `models`."""
    pending = session.info.get(_KEY)
    if not pending:
        return
    # One pass over the buffer: it holds a group's hundreds of rows, and is looked at before and
    # after every flush. A case not yet written (its id handed out in advance, inbox_bot.ids)
    # keeps its events until it is: written before it, they would point at a row that does not
    # exist yet. Whether a parent is written is asked once per parent, not per row.
    parent_ids: dict = {}
    keep = []
    by_table: dict = {}
    for item in pending:
        _, model, parent, parent_key, row = item
        if models is not None and model not in models:
            keep.append(item)
            continue
        if parent is not None:
            parent_id = parent_ids.get(id(parent), _UNASKED)
            if parent_id is _UNASKED:
                parent_id = parent_ids[id(parent)] = parent.id if _written(parent) else None
            if parent_id is None:
                keep.append(item)
                continue
            # Into the buffered row itself (made for the buffer, leaving it now): no copy per row.
            row[parent_key] = parent_id
        by_table.setdefault(model.__table__, []).append(row)
    if not by_table:
        return
    session.info[_KEY] = keep
    connection = session.connection()
    for table, rows in by_table.items():
        insert_rows(connection, table, rows)


_UNASKED = object()


def insert_rows(connection: Connection, table: Table, rows: list[dict]) -> None:
    """INSERT `rows` (dicts with the same keys) into `table` in one executemany, storing exactly
    what `connection.execute(insert(table), rows)` stores.

    SQLAlchemy's own executemany builds every row's parameters anew (a dict of every bind, then
    each column type's bind step looked up and called through its execution context): it cost
    more than the database's executemany itself. Here the statement is compiled once per
    dialect, table and keys, each column's bind step is looked up once, and the driver gets
    rows it can take as they are. Rows unlike the first (other keys) and statements this cannot
    reproduce (a column filled by a Python-side default) go through SQLAlchemy's insert.
    """
    if rows:
        _execute_rows(connection, table, rows, None)


def update_rows(connection: Connection, table: Table, rows: list[dict], key: str) -> None:
    """UPDATE `table` with `rows` (dicts with the same keys), each naming its row's primary key
    under `key`, in one executemany; what `connection.execute(update(table).where(pk ==
    bindparam(key)), rows)` stores, for a fraction of its cost (see insert_rows)."""
    if rows:
        _execute_rows(connection, table, rows, key)


def _execute_rows(connection: Connection, table: Table, rows: list[dict], key: str | None) -> None:
    plan = _plan(connection.dialect, table, tuple(rows[0]), key)
    width = len(rows[0])
    if plan is None or any(len(row) != width for row in rows):
        connection.execute(_statement(table, key), rows)
        return
    sources = plan.sources
    try:
        if plan.names is None:  # positional paramstyle (SQLite's qmark)
            # The row's values in the driver's order taken in one C call, then only the columns
            # with a bind step converted: most of a row's values go to the driver as they are.
            getter, bound = plan.getter, plan.bound
            params = []
            append = params.append
            for row in rows:
                values = list(getter(row))
                for index, bind in bound:
                    values[index] = bind(values[index])
                append(tuple(values))
        else:  # named (psycopg's pyformat)
            names = plan.names
            params = [{name: row[key] if bind is None else bind(row[key]) for name, (key, bind) in zip(names, sources)}
                      for row in rows]
    except Exception:  # noqa: BLE001 - a row with other keys than the first, a value a type refuses:
        # SQLAlchemy's statement decides what that means and raises its own error, as before.
        connection.execute(_statement(table, key), rows)
        return
    connection.exec_driver_sql(plan.sql, params)


def _statement(table: Table, key: str | None):
    """The statement the plan stands for: an INSERT, or an UPDATE of the row whose primary key is `key`."""
    if key is None:
        return insert(table)
    (primary,) = table.primary_key.columns
    return update(table).where(primary == bindparam(key))


def _utc_bind(processor, sqlite: bool):
    """UTCDateTime's bind step with a shortcut for the usual value, an aware datetime in UTC.

    A message binds some twenty datetimes, and the type's own step (a wrapper around
    process_bind_param, which converts to UTC and on SQLite drops the zone and formats) was
    the dearest part of converting a row. The shortcut gives the same value: on SQLite the
    very text ("2026-11-24 16:52:53.424126": the zone suffix cut off), on PostgreSQL the
    datetime itself (astimezone to the zone it is in already returns it unchanged). Anything
    else (None, another zone, a naive datetime to be refused) takes the type's own step.
    """
    if sqlite:
        texts = _UTC_TEXTS

        def bind(value):
            if type(value) is datetime and value.tzinfo is timezone.utc:
                # Most of a group's datetimes are a few values written many times (a message's
                # receipt is the time of its five or six events, its case and its drafts):
                # formatting was most of the cost, a dict lookup is a twentieth of it. Only UTC
                # datetimes are keys, and equal UTC datetimes have the same text.
                found = texts.get(value)
                if found is None:
                    if len(texts) >= _UTC_TEXTS_MAX:
                        texts.clear()
                    found = texts[value] = value.isoformat(" ", "microseconds")[:26]
                return found
            return processor(value)
    else:
        def bind(value):
            if type(value) is datetime and value.tzinfo is timezone.utc:
                return value
            return processor(value)
    return bind


# The SQLite text of recently bound UTC datetimes (bounded: cleared when full).
_UTC_TEXTS: dict[datetime, str] = {}
_UTC_TEXTS_MAX = 4096

# json.dumps's own C encoder with json.dumps's default settings, made once: json.dumps builds
# it anew for every value through three Python calls, a third of the time of a small event
# detail. No circular-reference markers, so that it keeps no state between calls (any thread
# may use it): a value it cannot encode, a circular one included, goes to the type's own step,
# which raises as before.
_JSON_ENCODE = c_make_encoder(None, json.JSONEncoder().default, encode_basestring_ascii, None, ": ", ", ",
                              False, False, True) if c_make_encoder is not None else None


def _json_bind(processor):
    """The JSON type's bind step on SQLite (json.dumps), with the C encoder called directly for a
    dict or list: the same text, json.dumps itself runs the same encoder with the same settings."""
    encode = _JSON_ENCODE

    def bind(value):
        kind = type(value)
        if kind is dict or kind is list:
            try:
                return "".join(encode(value, 0))
            except Exception:  # noqa: BLE001 - json.dumps decides what the value means, or raises
                pass
        return processor(value)
    return bind


class _Plan(NamedTuple):
    sql: str  # the dialect's INSERT or UPDATE statement, as SQLAlchemy compiles it
    sources: tuple[tuple[str, object], ...]  # per parameter, in the driver's order: row key, bind step or None
    names: tuple[str, ...] | None  # the parameters' names for a named paramstyle; None when positional
    getter: Callable  # a row's values in the driver's order, as a tuple
    bound: tuple[tuple[int, Callable], ...]  # the positions with a bind step, and the step


# Per dialect object (an engine's, so that a disposed engine's plans go with it):
# (table, keys, primary key's parameter or None for an INSERT) -> plan.
_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _plan(dialect: Dialect, table: Table, keys: tuple[str, ...], key: str | None) -> _Plan | None:
    plans = _PLANS.get(dialect)
    if plans is None:
        plans = _PLANS[dialect] = {}
    try:
        return plans[table, keys, key]
    except KeyError:
        plan = plans[table, keys, key] = _compile(dialect, table, keys, key)
        return plan


def _compile(dialect: Dialect, table: Table, keys: tuple[str, ...], key: str | None) -> _Plan | None:
    # Compiled as Connection.execute compiles an executemany (sorted keys, for_executemany).
    if key is not None and (key in table.c or len(table.primary_key.columns) != 1):
        return None  # a parameter named like a column, or a composite key: left to SQLAlchemy
    compiled = _statement(table, key).compile(
        dialect=dialect, column_keys=sorted(k for k in keys if k != key), for_executemany=True)
    # Values SQLAlchemy would compute per row (Python-side defaults of absent columns), SQL
    # expanded per execution, or batches rendered as one multi-VALUES statement: not
    # reproduced here, so such a statement stays SQLAlchemy's.
    if (compiled.insert_prefetch or compiled.update_prefetch or compiled.literal_execute_params or compiled.post_compile_params
            or compiled.effective_returning or compiled._insertmanyvalues is not None):
        return None
    if compiled.positional:
        names = list(compiled.positiontup)
    else:
        names = list(compiled.bind_names.values())
    sources = []
    for name in names:
        bind = compiled.binds[name]
        if bind.key not in keys or not bind.required or bind.callable is not None:
            return None
        processor = bind.type._cached_bind_processor(dialect)
        if isinstance(bind.type, UTCDateTime):
            processor = _utc_bind(processor, dialect.name == "sqlite")
        elif (type(bind.type) is JSON and dialect.name == "sqlite" and dialect._json_serializer is None
              and _JSON_ENCODE is not None and processor is not None):
            # SQLite's JSON bind step is json.dumps of the value (no string step after it); a
            # configured serializer, another dialect (psycopg adapts the value itself) or a
            # subclass of the type keep their own.
            processor = _json_bind(processor)
        sources.append((bind.key, processor))
    if sorted(source[0] for source in sources) != sorted(keys):
        return None  # a key the statement does not take: SQLAlchemy's insert ignores it silently
    escaped = compiled.escaped_bind_names
    ordered = [source[0] for source in sources]
    getter = itemgetter(*ordered) if len(ordered) > 1 else (lambda row, key=ordered[0]: (row[key],))
    bound = tuple((index, bind) for index, (_, bind) in enumerate(sources) if bind is not None)
    return _Plan(compiled.string, tuple(sources),
                   None if compiled.positional else tuple(escaped.get(name, name) for name in names), getter, bound)


def add_new(session: Session, model, **values):
    """`model(**values)` added to `session`, for a model whose new objects are written as plain
    rows (Case, Draft): the same pending object, built for a fifth of the cost.

    The declarative constructor sets each value through the attribute's instrumentation (a
    check, an event dispatch and a history entry per column) and `session.add` walks every
    relationship for objects to cascade to: for a new object holding column values only, neither
    does anything a plain dict would not. So the values go into the new instance's dict with the
    history the constructor leaves (each key "had no value", the state modified) and the object
    joins the session's new objects as `add` puts it there, through the session's own attach
    step. Where something could tell the difference, the constructor and `add` are used: a
    model with its own constructor or an init listener other than the mapper's, a listener for one of the attributes'
    changes, a value that is not a column, a session inside a flush event.
    """
    plain = _PLAIN_NEW.get(model)
    if plain is None or session._warn_on_events or not plain.column_keys.issuperset(values) \
            or not _unobserved(session, model, plain):
        obj = model(**values)
        session.add(obj)
        return obj
    manager = plain.manager
    obj = manager.new_instance()
    state = instance_state(obj)
    _event_on_init(state, (), values)  # the mapper's own init listener (configuration), as the constructor runs it
    state.dict.update(values)
    state.committed_state.update(dict.fromkeys(values, NO_VALUE))
    state.modified = True
    state._orphaned_outside_of_session = False
    session._save_or_update_impl(state)
    return obj


_UNOBSERVED = txscope.key("inbox_bot.add_new_unobserved")


def _unobserved(session: Session, model, plain: _Plain) -> bool:
    """Nothing but the mapper itself listens for `model`'s construction or its columns' changes.

    Asked once per model and transaction: the listeners' collections cost more to look at than
    the rest of building the object. A listener is added when the application starts (or by a
    test before its transaction), not within a transaction that builds cases.
    """
    known = session.info.get(_UNOBSERVED)
    if known is None:
        known = session.info[_UNOBSERVED] = {}
    answer = known.get(model)
    if answer is None:
        manager = plain.manager
        answer = known[model] = (
            manager.original_init is _declarative_constructor
            and all(listener is _event_on_init for listener in manager.dispatch.init)
            and not any(manager[key].dispatch.set for key in plain.column_keys))
    return answer


def _written(parent) -> bool:
    return parent.id is not None and inspect(parent).persistent


def _within(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context, _instances) -> None:
    write(session)
    if _write_new_objects(session):
        write(session)  # the rows that waited for a case written just now


def _write_new_objects(session: Session) -> bool:
    """Write the transaction's new cases and drafts as plain rows; True when there were any.

    They stay ORM objects for the code that changes them before the commit (a new case is
    acknowledged, paused and given drafts within its message), but the unit of work's insert
    of them was a tenth of a message's processing: bookkeeping per object and attribute that
    an INSERT of rows does not need. Each is written with every column's value (its default
    where unset, as the unit of work would have written it) and then joins the session as a
    persistent, unchanged object, so that later changes are written as usual.
    """
    # One pass over the session's new objects (a group's hundred or so), reading the pending
    # objects' values from their dicts: what the attributes would return, without a call each.
    by_model: dict = {}
    late = []
    for obj in session._new.values():
        model = type(obj)
        if model in _PLAIN_NEW:
            if obj.__dict__.get("id") is None and model in _IDS_AT_FLUSH:
                late.append(obj)
            by_model.setdefault(model, []).append(obj)
    if late:
        _ids_at_flush(session, late)
    # Only objects whose id was handed out in advance (inbox_bot.ids) and whose parent's id is
    # known: the others are left to the unit of work, which finds both out as it inserts.
    wanted = {}
    for model, objects in by_model.items():
        parent_keys = _PLAIN_NEW[model].parent_keys
        objects = [obj for obj in objects if obj.__dict__.get("id") is not None
                   and all(obj.__dict__.get(key) is not None for key in parent_keys)]
        if objects:
            wanted[model] = objects
    if not wanted:
        return False
    connection = session.connection()
    for model in _PLAIN_NEW:  # cases before the drafts that point at them
        objects = wanted.get(model)
        if not objects:
            continue
        columns = _PLAIN_NEW[model].columns
        # Defaults go straight into the objects' dicts unless something listens for attribute
        # changes: the set events' history is dropped by _persistent's commit anyway.
        manager = instance_state(objects[0]).manager
        quiet = not any(manager[key].dispatch.set for key, _ in columns)
        rows = [_row(obj, columns, quiet) for obj in objects]
        insert_rows(connection, model.__table__, rows)
        _persistent(session, objects, _PLAIN_NEW[model].expunged_with)
    return True


def _ids_at_flush(session: Session, late: list) -> None:
    """On SQLite, give `late`, new objects without an id of the models that take theirs at the
    flush (suppressions), the ids SQLite would have given them, so that they too are written as rows.

    Nothing refers to a new suppression by id before the flush, so its id is not handed out when
    it is added; the unit of work's insert of the group's few was still its only work at the
    commit. SQLite numbers a row max(id) + 1, in the order the unit of work inserts (the order
    of adding), and inbox_bot.ids counts on from max(id) under the same write lock: the same
    ids. Not on PostgreSQL, where ids come from the sequence in blocks (gaps where the unit of
    work's inserts took consecutive numbers).
    """
    if session.connection().dialect.name == "sqlite":
        for obj in late:
            obj.id = ids.next_id(session, type(obj))


def _persistent(session: Session, objects: list, expunged_with: tuple[str, ...]) -> None:
    """Make pending `objects`, their rows just written, persistent and unchanged in `session`.

    The same as `session.expunge(obj); make_transient_to_detached(obj); session.add(obj)` for
    each, whose cascades over every relationship (out of the session and back) cost more than
    the INSERT of the rows: here the object goes from the session's new objects to its identity
    map under its key, its attributes committed and the unloaded ones expired, as those three
    calls leave it. Neither way records it on the transaction: a savepoint rolled back after
    the write takes its row and leaves the object in the session as it was. The three calls are still
    made where their cascades or events would do more: an object with loaded related objects
    that leave the session with it (a new case's loaded `events`, whose new events go out and
    back in), a session with listeners for the events they fire, a key already in the session
    (they raise the error).
    """
    dispatch = session.dispatch
    plain = not (dispatch.pending_to_transient or dispatch.before_attach or dispatch.after_attach
                 or dispatch.detached_to_persistent or dispatch.persistent_to_detached)
    new = session._new
    identity_map = session.identity_map
    for obj in objects:
        state = instance_state(obj)
        key = state.mapper._identity_key_from_state(state)
        if not plain or key in identity_map or any(state.dict.get(name) for name in expunged_with):
            session.expunge(obj)
            make_transient_to_detached(obj)
            session.add(obj)
            continue
        del new[state]
        state.key = key
        state._commit_all(state.dict)
        state._expire_attributes(state.dict, state.unloaded)
        state._orphaned_outside_of_session = False
        identity_map.add(state)


def _row(obj, columns, quiet: bool) -> dict:
    state = obj.__dict__
    row = {}
    for key, default in columns:
        if key not in state:
            # Set on the object too, as the unit of work's insert would: read later, an unset
            # attribute of a detached object would need a query.
            value = default() if callable(default) else default
            if quiet:
                state[key] = value
            else:
                setattr(obj, key, value)
        row[key] = state[key]
    return row


def _defaults(model) -> list[tuple[str, object]]:
    out = []
    for column in model.__table__.columns:
        default = column.default
        if default is None:
            value = None
        elif default.is_callable:
            value = lambda fn=default.arg: fn(None)  # noqa: E731 - SQLAlchemy wraps it to take a context
        else:
            value = default.arg
        out.append((column.key, value))
    return out


class _Plain(NamedTuple):
    parent_keys: tuple[str, ...]  # written only once these (their parent's id) are known
    columns: list[tuple[str, object]]  # every column, with the default of an unset one
    expunged_with: tuple[str, ...]  # relationships whose objects session.expunge takes along
    manager: ClassManager  # the class's instrumentation (add_new)
    column_keys: frozenset[str]  # the mapped column attributes (add_new sets only these)


def _plain(model, parent_keys: tuple[str, ...]) -> _Plain:
    mapper = inspect(model)
    return _Plain(parent_keys, _defaults(model), tuple(r.key for r in mapper.relationships if r.cascade.expunge),
                  manager_of_class(model), frozenset(prop.key for prop in mapper.column_attrs))


# New objects of these models are written as plain rows, in this order (a draft points at its case).
_PLAIN_NEW = {Case: _plain(Case, ()), Draft: _plain(Draft, ("case_id",)), Suppression: _plain(Suppression, ())}
# Of those, the models whose new objects get their id at the flush, on SQLite (_ids_at_flush).
_IDS_AT_FLUSH = frozenset({Suppression})


@event.listens_for(Session, "after_flush_postexec")
def _after_flush(session: Session, _context) -> None:
    write(session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.info.get(_KEY):
        session.flush()  # a case opened in this transaction gets its id
        write(session)


@event.listens_for(Session, "do_orm_execute")
def _before_read(state) -> None:
    pending = state.session.info.get(_KEY) if state.is_select else None
    if pending:
        # Only the rows of the tables the query reads: writing the others early (a bounce's
        # lookup of our outbox wrote the group's hits and events so far) splits the group's
        # INSERTs into more statements for nothing.
        read = {item[1] for item in pending} & {m.class_ for m in state.all_mappers}
        if read:
            write(state.session, read)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    pending = session.info.get(_KEY)
    if pending:
        session.info[_KEY] = [item for item in pending if not _within(item[0], previous)]

