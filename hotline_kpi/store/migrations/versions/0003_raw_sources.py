"""raw sources: queue_log calls, tickets, callbacks, log marks, source state

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 23:53:18.453670

Generated with alembic autogenerate against a SQLite database at 0002 and reviewed:
other sessions' tables that the models held at the time (alerts, 0004/0005) were taken
out; new tables only, the existing ones keep their meaning.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('source_state',
    sa.Column('hotline_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('watermark', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hotline_id'], ['hotline.id'], name=op.f('fk_source_state_hotline_id_hotline')),
    sa.PrimaryKeyConstraint('hotline_id', 'source', name=op.f('pk_source_state'))
    )
    op.create_table('callback',
    sa.Column('hotline_id', sa.String(length=64), nullable=False),
    sa.Column('callback_id', sa.String(length=128), nullable=False),
    sa.Column('ticket_no', sa.String(length=64), nullable=False),
    sa.Column('called_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('result', sa.String(length=24), nullable=False),
    sa.Column('ingest_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['hotline_id'], ['hotline.id'], name=op.f('fk_callback_hotline_id_hotline')),
    sa.ForeignKeyConstraint(['ingest_id'], ['ingest.id'], name=op.f('fk_callback_ingest_id_ingest')),
    sa.PrimaryKeyConstraint('hotline_id', 'callback_id', name=op.f('pk_callback'))
    )
    with op.batch_alter_table('callback', schema=None) as batch_op:
        batch_op.create_index('ix_callback_day', ['hotline_id', 'day'], unique=False)

    op.create_table('log_mark',
    sa.Column('hotline_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('head_sha256', sa.String(length=64), nullable=False),
    sa.Column('length', sa.BigInteger(), nullable=False),
    sa.Column('prefix_sha256', sa.String(length=64), nullable=False),
    sa.Column('lines', sa.BigInteger(), nullable=False),
    sa.Column('ingest_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['hotline_id'], ['hotline.id'], name=op.f('fk_log_mark_hotline_id_hotline')),
    sa.ForeignKeyConstraint(['ingest_id'], ['ingest.id'], name=op.f('fk_log_mark_ingest_id_ingest')),
    sa.PrimaryKeyConstraint('hotline_id', 'source', 'head_sha256', name=op.f('pk_log_mark'))
    )
    op.create_table('queue_call_day',
    sa.Column('hotline_id', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('calls', sa.LargeBinary(), nullable=False),
    sa.Column('entered', sa.Integer(), nullable=False),
    sa.Column('orphans', sa.Integer(), nullable=False),
    sa.Column('open_since', sa.BigInteger(), nullable=True),
    sa.Column('ingest_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['hotline_id'], ['hotline.id'], name=op.f('fk_queue_call_day_hotline_id_hotline')),
    sa.ForeignKeyConstraint(['ingest_id'], ['ingest.id'], name=op.f('fk_queue_call_day_ingest_id_ingest')),
    sa.PrimaryKeyConstraint('hotline_id', 'day', name=op.f('pk_queue_call_day'))
    )
    op.create_table('ticket',
    sa.Column('hotline_id', sa.String(length=64), nullable=False),
    sa.Column('ticket_no', sa.String(length=64), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('request_type', sa.String(length=32), nullable=False),
    sa.Column('handling', sa.String(length=16), nullable=False),
    sa.Column('unit', sa.String(length=200), nullable=False),
    sa.Column('returned', sa.Boolean(), nullable=False),
    sa.Column('operator_fault', sa.Boolean(), nullable=False),
    sa.Column('returned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('return_reason', sa.Text(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('state', sa.String(length=64), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('ingest_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['hotline_id'], ['hotline.id'], name=op.f('fk_ticket_hotline_id_hotline')),
    sa.ForeignKeyConstraint(['ingest_id'], ['ingest.id'], name=op.f('fk_ticket_ingest_id_ingest')),
    sa.PrimaryKeyConstraint('hotline_id', 'ticket_no', name=op.f('pk_ticket'))
    )
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_day', ['hotline_id', 'day'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_day')
    op.drop_table('ticket')
    op.drop_table('queue_call_day')
    op.drop_table('log_mark')
    with op.batch_alter_table('callback', schema=None) as batch_op:
        batch_op.drop_index('ix_callback_day')
    op.drop_table('callback')
    op.drop_table('source_state')
