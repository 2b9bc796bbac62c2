"""What the live ingest saw done in the world (restocks, cash, price changes, orders, refunds), for
vend shadow-report

Revision ID: 0006
Revises: 0005
Create Date: the shadow report
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('world_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(), nullable=False),
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('machine', sa.String(), nullable=False),
    sa.Column('slot', sa.String(), nullable=False),
    sa.Column('sku', sa.String(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('previous_cents', sa.Integer(), nullable=True),
    sa.Column('ref', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_world_action_shop_ts', 'world_action', ['shop', 'ts'], unique=False)
    op.create_index(op.f('ix_world_action_event_id'), 'world_action', ['event_id'], unique=False)


def downgrade() -> None:
    op.drop_table('world_action')
