"""expected_answers (855/ORDRSP owed for a PO sent) and stored_documents (documents kept for
matching): hub.documents

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('expected_answers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('route', sa.String(length=128), nullable=True),
    sa.Column('partner_id', sa.String(length=128), nullable=False),
    sa.Column('document_type', sa.String(length=64), nullable=False),
    sa.Column('document_key', sa.String(length=256), nullable=False),
    sa.Column('answer_type', sa.String(length=64), nullable=False),
    sa.Column('within_seconds', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_expected_answers_message_id_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_expected_answers')),
    sa.UniqueConstraint('message_id', 'document_type', 'document_key', name=op.f('uq_expected_answers_message_id'))
    )
    with op.batch_alter_table('expected_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_expected_answers_document_key'), ['document_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_expected_answers_message_id'), ['message_id'], unique=False)

    op.create_table('stored_documents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('document_type', sa.String(length=64), nullable=False),
    sa.Column('document_key', sa.String(length=256), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('route', sa.String(length=128), nullable=True),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_stored_documents_message_id_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stored_documents')),
    sa.UniqueConstraint('document_type', 'document_key', 'message_id', name=op.f('uq_stored_documents_document_type'))
    )
    with op.batch_alter_table('stored_documents', schema=None) as batch_op:
        batch_op.create_index('ix_stored_documents_key', ['document_type', 'document_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_stored_documents_message_id'), ['message_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('stored_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stored_documents_message_id'))
        batch_op.drop_index('ix_stored_documents_key')

    op.drop_table('stored_documents')
    with op.batch_alter_table('expected_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_expected_answers_message_id'))
        batch_op.drop_index(batch_op.f('ix_expected_answers_document_key'))

    op.drop_table('expected_answers')
