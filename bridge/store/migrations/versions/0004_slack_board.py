"""Slack board kept across restarts (tasks, approvals, relays, quotes) and the approval decisions the
guardrails accept

Revision ID: 0004
Revises: 0003
Create Date: Slack persistence and purchases (issue 7)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('approval_decision',
    sa.Column('approval_id', sa.String(), nullable=False),
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('subject', sa.String(), nullable=False),
    sa.Column('approved', sa.Boolean(), nullable=False),
    sa.Column('approver', sa.String(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('event_id', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('approval_id')
    )
    op.create_index('ix_approval_decision_shop', 'approval_decision', ['shop'], unique=False)
    op.create_table('slack_approval',
    sa.Column('approval_id', sa.String(), nullable=False),
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('subject', sa.String(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('summary', sa.String(), nullable=False),
    sa.Column('beneficiary', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('channel', sa.String(), nullable=False),
    sa.Column('ts', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(), nullable=False),
    sa.Column('outbox_json', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('approval_id')
    )
    op.create_index('ix_slack_approval_shop', 'slack_approval', ['shop'], unique=False)
    op.create_table('slack_quote',
    sa.Column('quote_id', sa.String(), nullable=False),
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('supplier', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('items_json', sa.String(), nullable=False),
    sa.Column('lines_json', sa.String(), nullable=False),
    sa.Column('lead_time_days', sa.Integer(), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('counter_of', sa.String(), nullable=False),
    sa.Column('channel', sa.String(), nullable=False),
    sa.Column('ts', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('quoted_by', sa.String(), nullable=False),
    sa.Column('outbox_json', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('quote_id')
    )
    op.create_index('ix_slack_quote_shop', 'slack_quote', ['shop'], unique=False)
    op.create_table('slack_relay',
    sa.Column('relay_id', sa.String(), nullable=False),
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('supplier', sa.String(), nullable=False),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('channel', sa.String(), nullable=False),
    sa.Column('ts', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('relay_id')
    )
    op.create_index('ix_slack_relay_shop', 'slack_relay', ['shop'], unique=False)
    op.create_table('slack_task',
    sa.Column('task_id', sa.String(), nullable=False),
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('machine', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('stage', sa.String(), nullable=False),
    sa.Column('channel', sa.String(), nullable=False),
    sa.Column('ts', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_by', sa.String(), nullable=False),
    sa.Column('payload_json', sa.String(), nullable=False),
    sa.Column('outbox_json', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('task_id')
    )
    op.create_index('ix_slack_task_shop', 'slack_task', ['shop'], unique=False)


def downgrade() -> None:
    op.drop_table('slack_task')
    op.drop_table('slack_relay')
    op.drop_table('slack_quote')
    op.drop_table('slack_approval')
    op.drop_table('approval_decision')
