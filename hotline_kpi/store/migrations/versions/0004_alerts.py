"""alerts: alert state, state changes that double as the outbox, delivery attempts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 23:55:34.675134

Generated with alembic autogenerate against a SQLite database at 0003 and reviewed: new
tables only (issue #5, docs/alerts.md); the index creation is plain ``op.create_index``
(no table copy is needed for an index on a new table).
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alert',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('rule_id', sa.String(length=64), nullable=False),
    sa.Column('hotline_id', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('held_days', sa.Integer(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=True),
    sa.Column('since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('figures', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['hotline_id'], ['hotline.id'], name=op.f('fk_alert_hotline_id_hotline')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert')),
    sa.UniqueConstraint('rule_id', 'hotline_id', name='uq_alert_rule_hotline')
    )
    op.create_table('alert_event',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=True),
    sa.Column('hotline_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('old_state', sa.String(length=16), nullable=False),
    sa.Column('new_state', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('snapshot_id', sa.Integer(), nullable=True),
    sa.Column('figures', sa.Text(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=255), nullable=True),
    sa.Column('notify', sa.Boolean(), nullable=False),
    sa.Column('recipients', sa.Text(), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('in_reply_to', sa.String(length=255), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deliver_by', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sa.String(length=128), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], name=op.f('fk_alert_event_alert_id_alert')),
    sa.ForeignKeyConstraint(['snapshot_id'], ['evaluation_snapshot.id'], name=op.f('fk_alert_event_snapshot_id_evaluation_snapshot')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_event')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_alert_event_dedupe_key'))
    )
    # Serves the history of one alert (In-Reply-To of a resolved notice, alerts list).
    op.create_index('ix_alert_event_alert', 'alert_event', ['alert_id', 'id'], unique=False)
    # Partial: serves the dispatcher's scan for owed notifications
    # (WHERE processed_at IS NULL ORDER BY next_attempt_at) and the oldest-undelivered
    # metric; only owed rows are in it, so it stays tiny however long the history grows.
    op.create_index('ix_alert_event_owed', 'alert_event', ['next_attempt_at'], unique=False,
                    sqlite_where=sa.text('processed_at IS NULL'), postgresql_where=sa.text('processed_at IS NULL'))

    op.create_table('alert_delivery',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('code', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['alert_event.id'], name=op.f('fk_alert_delivery_event_id_alert_event')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_delivery'))
    )
    # Serves "which recipients are already done" before each retry of a notification.
    op.create_index('ix_alert_delivery_event', 'alert_delivery', ['event_id', 'recipient'], unique=False)



def downgrade() -> None:
    op.drop_index('ix_alert_delivery_event', table_name='alert_delivery')
    op.drop_table('alert_delivery')
    op.drop_index('ix_alert_event_owed', table_name='alert_event')
    op.drop_index('ix_alert_event_alert', table_name='alert_event')
    op.drop_table('alert_event')
    op.drop_table('alert')
