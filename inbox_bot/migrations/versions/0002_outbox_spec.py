"""outbox rows keep what a message is made of until delivery builds its bytes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 02:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite cannot change a column's nullability in place; the table is copied.
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spec', sa.Text(), nullable=True))
        batch_op.alter_column('raw', existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    # Rows still waiting for their bytes get them now: the older schema has no other way to
    # keep them, and dropping them would lose mail that was promised.
    from inbox_bot import mailspec

    connection = op.get_bind()
    outbox = sa.table('outbox', sa.column('id', sa.Integer), sa.column('raw', sa.LargeBinary),
                      sa.column('spec', sa.Text))
    for row_id, spec in connection.execute(sa.select(outbox.c.id, outbox.c.spec).where(outbox.c.raw.is_(None))).all():
        raw = mailspec.build(mailspec.loads(spec))
        connection.execute(sa.update(outbox).where(outbox.c.id == row_id).values(raw=raw))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('raw', existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column('spec')
