"""document_refs: the business numbers each emitted or held document carries (hub.documents)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('document_refs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('route', sa.String(length=128), nullable=False),
    sa.Column('document_type', sa.String(length=64), nullable=True),
    sa.Column('document_key', sa.String(length=256), nullable=True),
    sa.Column('ref_field', sa.String(length=32), nullable=False),
    sa.Column('ref_value', sa.String(length=256), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_document_refs_message_id_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_refs'))
    )
    with op.batch_alter_table('document_refs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_refs_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_document_refs_ref_value'), ['ref_value'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('document_refs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_refs_ref_value'))
        batch_op.drop_index(batch_op.f('ix_document_refs_message_id'))

    op.drop_table('document_refs')
