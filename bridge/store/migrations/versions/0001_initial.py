"""The store's tables: ledger, lots, stock, orders, tasks, chat, audit log, dead letters, day closes

Revision ID: 0001
Revises: (none)
Create Date: the schema of the store's first release
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('run_id', sa.String(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tool', sa.String(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('args_json', sa.String(), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('result_json', sa.String(), nullable=False),
    sa.Column('verdict', sa.String(), nullable=False),
    sa.Column('idempotency_key', sa.String(), nullable=False),
    sa.Column('input_tokens', sa.Integer(), nullable=False),
    sa.Column('output_tokens', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_audit_shop_ts', 'audit_log', ['shop', 'ts'], unique=False)

    op.create_table('chat_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(), nullable=False),
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('conversation', sa.String(), nullable=False),
    sa.Column('sender', sa.String(), nullable=False),
    sa.Column('role', sa.String(), nullable=False),
    sa.Column('direction', sa.String(), nullable=False),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('thread', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('shop', 'message_id')
    )
    op.create_index('ix_chat_message_conversation', 'chat_message', ['conversation'], unique=False)

    op.create_table('day_close',
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('day', sa.String(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('bank_cents', sa.Integer(), nullable=False),
    sa.Column('card_pending_cents', sa.Integer(), nullable=False),
    sa.Column('machine_cash_cents', sa.Integer(), nullable=False),
    sa.Column('inventory_value_cents', sa.Integer(), nullable=False),
    sa.Column('prepaid_cents', sa.Integer(), nullable=False),
    sa.Column('net_worth_cents', sa.Integer(), nullable=False),
    sa.Column('units_sold', sa.Integer(), nullable=False),
    sa.Column('revenue_cents', sa.Integer(), nullable=False),
    sa.Column('units_sold_total', sa.Integer(), nullable=False),
    sa.Column('tool_calls', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('shop', 'day')
    )
    op.create_table('dead_letter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(), nullable=False),
    sa.Column('topic', sa.String(), nullable=False),
    sa.Column('reason', sa.String(), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('inventory_lot',
    sa.Column('lot_id', sa.String(), nullable=False),
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('sku', sa.String(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('qty_received', sa.Integer(), nullable=False),
    sa.Column('qty_remaining', sa.Integer(), nullable=False),
    sa.Column('unit_cost_cents', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('lot_id')
    )
    op.create_index('ix_inventory_lot_shop', 'inventory_lot', ['shop'], unique=False)

    op.create_table('ledger_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(), nullable=False),
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('debit', sa.String(), nullable=False),
    sa.Column('credit', sa.String(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(), nullable=True),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.Column('memo', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_ledger_line_event_id', 'ledger_line', ['event_id'], unique=False)
    op.create_index('ix_ledger_shop_ts', 'ledger_line', ['shop', 'ts'], unique=False)

    op.create_table('processed_event',
    sa.Column('event_id', sa.String(), nullable=False),
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_index('ix_processed_event_shop', 'processed_event', ['shop'], unique=False)

    op.create_table('purchase_order',
    sa.Column('order_id', sa.String(), nullable=False),
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('supplier', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('total_cents', sa.Integer(), nullable=False),
    sa.Column('received_cents', sa.Integer(), nullable=False),
    sa.Column('lines_json', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('order_id')
    )
    op.create_index('ix_purchase_order_shop', 'purchase_order', ['shop'], unique=False)

    op.create_table('run_info',
    sa.Column('run_id', sa.String(), nullable=False),
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('mode', sa.String(), nullable=False),
    sa.Column('scenario', sa.String(), nullable=False),
    sa.Column('policy', sa.String(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('settings_json', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('run_id')
    )
    op.create_table('stock_level',
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('location', sa.String(), nullable=False),
    sa.Column('sku', sa.String(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('shop', 'location', 'sku')
    )
    op.create_table('task',
    sa.Column('task_id', sa.String(), nullable=False),
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payload_json', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('task_id')
    )
    op.create_index('ix_task_shop', 'task', ['shop'], unique=False)



def downgrade() -> None:
    for table in ("task", "stock_level", "run_info", "purchase_order", "processed_event", "ledger_line",
                  "inventory_lot", "dead_letter", "day_close", "chat_message", "audit_log"):
        op.drop_table(table)  # its indexes go with it
