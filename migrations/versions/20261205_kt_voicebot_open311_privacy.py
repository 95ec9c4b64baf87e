"""kt.voicebot: services per municipality and public-feed moderation of Open311 requests

Adds ``vb_service_setting`` (the services each municipality offers, and whether and when their requests
appear in the anonymous Open311 feed) with its tenant policy, and ``public_hidden`` / ``reviewed_at`` on
``vb_request`` for moderation.

Revision ID: kt_voicebot_open311_0001
Revises: core_rls_0001
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.rls import disable_tenant_rls, enable_tenant_rls

revision: str = 'kt_voicebot_open311_0001'
down_revision: str | Sequence[str] | None = 'core_rls_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('vb_service_setting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_code', sa.String(length=30), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('personal', sa.Boolean(), nullable=False),
    sa.Column('publish_after_min', sa.Integer(), nullable=False),
    sa.Column('requires_review', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('publish_after_min >= 0 AND publish_after_min <= 43200',
                       name=op.f('ck_vb_service_setting_publish_after_range')),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'],
                            name=op.f('fk_vb_service_setting_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vb_service_setting')),
    sa.UniqueConstraint('municipality_id', 'service_code',
                        name=op.f('uq_vb_service_setting_municipality_id_service_code'))
    )
    with op.batch_alter_table('vb_service_setting', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vb_service_setting_municipality_id'), ['municipality_id'], unique=False)
    enable_tenant_rls('vb_service_setting')
    with op.batch_alter_table('vb_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_hidden', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('vb_request', schema=None) as batch_op:
        batch_op.drop_column('reviewed_at')
        batch_op.drop_column('public_hidden')
    disable_tenant_rls('vb_service_setting')
    with op.batch_alter_table('vb_service_setting', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vb_service_setting_municipality_id'))
    op.drop_table('vb_service_setting')
