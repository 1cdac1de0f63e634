"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 23:25:29.759515
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hotline',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hotline'))
    )
    op.create_table('daily_counters',
    sa.Column('hotline_id', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('provenance', sa.Text(), nullable=False),
    sa.Column('requests_accepted', sa.BigInteger(), nullable=True),
    sa.Column('calls_offered', sa.BigInteger(), nullable=True),
    sa.Column('calls_answered', sa.BigInteger(), nullable=True),
    sa.Column('calls_abandoned_short', sa.BigInteger(), nullable=True),
    sa.Column('answer_wait_seconds_sum', sa.Float(), nullable=True),
    sa.Column('calls_answered_within_15s', sa.BigInteger(), nullable=True),
    sa.Column('first_contact_resolved', sa.BigInteger(), nullable=True),
    sa.Column('first_contact_eligible', sa.BigInteger(), nullable=True),
    sa.Column('tickets_dispatched', sa.BigInteger(), nullable=True),
    sa.Column('tickets_returned_operator_fault', sa.BigInteger(), nullable=True),
    sa.Column('survey_responses', sa.BigInteger(), nullable=True),
    sa.Column('survey_satisfied', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['hotline_id'], ['hotline.id'], name=op.f('fk_daily_counters_hotline_id_hotline')),
    sa.PrimaryKeyConstraint('hotline_id', 'day', name=op.f('pk_daily_counters'))
    )
    op.create_table('ingest',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('hotline_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('file_name', sa.String(length=512), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('original_path', sa.String(length=1024), nullable=False),
    sa.Column('ingested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=True),
    sa.Column('last_day', sa.Date(), nullable=True),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('days_revised', sa.Integer(), nullable=False),
    sa.Column('settings_json', sa.Text(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['hotline_id'], ['hotline.id'], name=op.f('fk_ingest_hotline_id_hotline')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest')),
    sa.UniqueConstraint('hotline_id', 'source', 'content_sha256', name='uq_ingest_file')
    )
    op.create_table('source_day',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('hotline_id', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.Column('ingest_id', sa.Integer(), nullable=False),
    sa.Column('derived', sa.String(length=512), nullable=False),
    sa.Column('requests_accepted', sa.BigInteger(), nullable=True),
    sa.Column('calls_offered', sa.BigInteger(), nullable=True),
    sa.Column('calls_answered', sa.BigInteger(), nullable=True),
    sa.Column('calls_abandoned_short', sa.BigInteger(), nullable=True),
    sa.Column('answer_wait_seconds_sum', sa.Float(), nullable=True),
    sa.Column('calls_answered_within_15s', sa.BigInteger(), nullable=True),
    sa.Column('first_contact_resolved', sa.BigInteger(), nullable=True),
    sa.Column('first_contact_eligible', sa.BigInteger(), nullable=True),
    sa.Column('tickets_dispatched', sa.BigInteger(), nullable=True),
    sa.Column('tickets_returned_operator_fault', sa.BigInteger(), nullable=True),
    sa.Column('survey_responses', sa.BigInteger(), nullable=True),
    sa.Column('survey_satisfied', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['hotline_id'], ['hotline.id'], name=op.f('fk_source_day_hotline_id_hotline')),
    sa.ForeignKeyConstraint(['ingest_id'], ['ingest.id'], name=op.f('fk_source_day_ingest_id_ingest')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_day')),
    sa.UniqueConstraint('hotline_id', 'day', 'source', 'revision', name='uq_source_day_revision')
    )
    with op.batch_alter_table('source_day', schema=None) as batch_op:
        batch_op.create_index('ix_source_day_current', ['hotline_id', 'source', 'day', 'is_current'], unique=False)
        batch_op.create_index(batch_op.f('ix_source_day_ingest_id'), ['ingest_id'], unique=False)

    op.create_table('source_day_channel',
    sa.Column('source_day_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('requests', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['source_day_id'], ['source_day.id'], name=op.f('fk_source_day_channel_source_day_id_source_day')),
    sa.PrimaryKeyConstraint('source_day_id', 'channel', name=op.f('pk_source_day_channel'))
    )


def downgrade() -> None:
    op.drop_table('source_day_channel')
    with op.batch_alter_table('source_day', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_day_ingest_id'))
        batch_op.drop_index('ix_source_day_current')

    op.drop_table('source_day')
    op.drop_table('ingest')
    op.drop_table('daily_counters')
    op.drop_table('hotline')
