"""ingest_keys (a sender's Idempotency-Key, committed with the message it made):
hub.store.ingest_keys

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ingest_keys',
    sa.Column('scope', sa.String(length=128), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_ingest_keys_message_id_messages')),
    sa.PrimaryKeyConstraint('scope', 'key', name=op.f('pk_ingest_keys'))
    )
    with op.batch_alter_table('ingest_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ingest_keys_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ingest_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ingest_keys_expires_at'))

    op.drop_table('ingest_keys')
