"""A shop runtime's memory between two jobs, a machine's cash box as its telemetry has it, and what
people wrote in Slack kept before its 200, so a restarted process carries on where it stopped

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
    op.create_table('slack_inbox',
    sa.Column('event_id', sa.String(), nullable=False),
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('events_json', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_index(op.f('ix_slack_inbox_shop'), 'slack_inbox', ['shop'], unique=False)
    with op.batch_alter_table('machine') as batch:
        batch.add_column(sa.Column('cash_cents', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    op.drop_index(op.f('ix_slack_inbox_shop'), table_name='slack_inbox')
    op.drop_table('slack_inbox')
    with op.batch_alter_table('machine') as batch:
        batch.drop_column('cash_cents')
    op.drop_table('runtime_state')
