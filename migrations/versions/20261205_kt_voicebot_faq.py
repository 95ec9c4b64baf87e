"""kt.voicebot: the FAQ table the bot answers from (생활쓰레기 배출 요일 per 동, ...)

Adds ``vb_faq_entry``: per municipality, one answer per topic and area (a 동/읍/면, or NULL for the whole
municipality), with the keywords callers use; staff keep it on the voicebot's FAQ page or through the API.

Revision ID: kt_voicebot_faq_0001
Revises: platform_kpi_sources_0001
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.rls import disable_tenant_rls, enable_tenant_rls

revision: str = 'kt_voicebot_faq_0001'
down_revision: str | Sequence[str] | None = 'platform_kpi_sources_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('vb_faq_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=80), nullable=False),
    sa.Column('area', sa.String(length=40), nullable=True),
    sa.Column('keywords', sa.String(length=300), nullable=False),
    sa.Column('answer', sa.String(length=1000), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'],
                            name=op.f('fk_vb_faq_entry_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vb_faq_entry')),
    sa.UniqueConstraint('municipality_id', 'topic', 'area', name=op.f('uq_vb_faq_entry_municipality_id_topic_area'))
    )
    with op.batch_alter_table('vb_faq_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vb_faq_entry_municipality_id'), ['municipality_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vb_faq_entry_topic'), ['topic'], unique=False)
    enable_tenant_rls('vb_faq_entry')


def downgrade() -> None:
    disable_tenant_rls('vb_faq_entry')
    with op.batch_alter_table('vb_faq_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vb_faq_entry_topic'))
        batch_op.drop_index(batch_op.f('ix_vb_faq_entry_municipality_id'))
    op.drop_table('vb_faq_entry')
