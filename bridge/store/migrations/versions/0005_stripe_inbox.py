"""Stripe webhook inbox: verified deliveries kept before the 200, booked by the core

Revision ID: 0005
Revises: 0004
Create Date: the Stripe inbox's release
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stripe_inbox',
    sa.Column('stripe_event_id', sa.String(), nullable=False),
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('type', sa.String(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('events_json', sa.String(), nullable=False),
    sa.Column('booked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('stripe_event_id')
    )
    op.create_index(op.f('ix_stripe_inbox_shop'), 'stripe_inbox', ['shop'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_stripe_inbox_shop'), table_name='stripe_inbox')
    op.drop_table('stripe_inbox')
