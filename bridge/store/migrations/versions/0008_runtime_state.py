"""A shop runtime's memory between two jobs, so a restarted process carries on where it stopped

Revision ID: 0008
Revises: 0007
Create Date: one shop, two worlds: `vend hil --faults` kills the shop's process and starts it again
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('runtime_state',
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('run_id', sa.String(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state_json', sa.String(), nullable=False),
    sa.Column('memory', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('shop')
    )


def downgrade() -> None:
    op.drop_table('runtime_state')
