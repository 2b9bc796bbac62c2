"""What each live slot holds over time (product and capacity), from devices' reports and ops' restocks

Revision ID: 0007
Revises: 0006
Create Date: one shop, two worlds: the machine's slots as the machine holds them
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('slot_product',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('machine_id', sa.String(), nullable=False),
    sa.Column('slot', sa.String(), nullable=False),
    sa.Column('sku', sa.String(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('event_id', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_slot_product_shop', 'slot_product', ['shop'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_slot_product_shop', table_name='slot_product')
    op.drop_table('slot_product')
