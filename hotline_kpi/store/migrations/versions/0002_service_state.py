"""service state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 23:33:01.691241
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ingest_attempt',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('hotline_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('file_name', sa.String(length=512), nullable=False),
    sa.Column('result', sa.String(length=16), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_attempt'))
    )
    with op.batch_alter_table('ingest_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_ingest_attempt_source_result', ['source', 'result'], unique=False)

    op.create_table('job_run',
    sa.Column('job_id', sa.String(length=64), nullable=False),
    sa.Column('last_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_duration_seconds', sa.Float(), nullable=True),
    sa.Column('runs_total', sa.BigInteger(), nullable=False),
    sa.Column('failures_total', sa.BigInteger(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('job_id', name=op.f('pk_job_run'))
    )
    op.create_table('lease',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=128), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_lease'))
    )
    op.create_table('evaluation_snapshot',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('hotline_id', sa.String(length=64), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('data_date', sa.Date(), nullable=True),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['hotline_id'], ['hotline.id'], name=op.f('fk_evaluation_snapshot_hotline_id_hotline')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_snapshot'))
    )
    with op.batch_alter_table('evaluation_snapshot', schema=None) as batch_op:
        batch_op.create_index('ix_evaluation_snapshot_latest', ['hotline_id', 'evaluated_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('evaluation_snapshot', schema=None) as batch_op:
        batch_op.drop_index('ix_evaluation_snapshot_latest')

    op.drop_table('evaluation_snapshot')
    op.drop_table('lease')
    op.drop_table('job_run')
    with op.batch_alter_table('ingest_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_ingest_attempt_source_result')

    op.drop_table('ingest_attempt')
