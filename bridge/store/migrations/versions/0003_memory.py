"""The LLM shopkeeper's memory: scratchpad, key-value store, notes

Revision ID: 0003
Revises: 0002
Create Date: the LLM shopkeeper's release
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('memory_scratchpad',
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('shop')
    )
    op.create_table('memory_kv',
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('key', sa.String(), nullable=False),
    sa.Column('value', sa.String(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('shop', 'key')
    )
    op.create_table('memory_note',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop', sa.String(), nullable=False),
    sa.Column('ts', sa.DateTime(timezone=True), nullable=False),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('tags', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_memory_note_shop'), 'memory_note', ['shop'], unique=False)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS memory_note_fts")  # the search index, made by the shopkeeper's memory
    for table in ("memory_note", "memory_kv", "memory_scratchpad"):
        op.drop_table(table)
