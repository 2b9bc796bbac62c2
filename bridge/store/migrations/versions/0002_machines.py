"""Live machines: the machine table (online state, latest readings) and per-slot telemetry

Revision ID: 0002
Revises: 0001
Create Date: the live MQTT machine (issue 5)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('machine',
    sa.Column('machine_id', sa.String(), nullable=False),
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('online', sa.Boolean(), nullable=False),
    sa.Column('status_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('door_open', sa.Boolean(), nullable=False),
    sa.Column('temperature_c', sa.Float(), nullable=True),
    sa.Column('temperature_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('machine_id')
    )
    op.create_index('ix_machine_shop', 'machine', ['shop'], unique=False)
    op.create_table('slot_telemetry',
    sa.Column('machine_id', sa.String(), nullable=False),
    sa.Column('slot', sa.String(), nullable=False),
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('price_cents', sa.Integer(), nullable=False),
    sa.Column('snapshot_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('machine_id', 'slot')
    )
    op.create_index('ix_slot_telemetry_shop', 'slot_telemetry', ['shop'], unique=False)


def downgrade() -> None:
    op.drop_table('slot_telemetry')
    op.drop_table('machine')
