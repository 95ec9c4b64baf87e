"""skt.isolation: digital-education sessions held per 행정동

Adds ``iso_education_session``: per municipality, one row per session held in a 행정동 (date, title,
attendees aged 65+ and in all), the record behind the module's "older people at digital-education
sessions" KPI source.

Revision ID: skt_isolation_education_0001
Revises: tdeal_sales_index_0001
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.rls import disable_tenant_rls, enable_tenant_rls

revision: str = 'skt_isolation_education_0001'
down_revision: str | Sequence[str] | None = 'tdeal_sales_index_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('iso_education_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dong_id', sa.Integer(), nullable=False),
    sa.Column('held_date', sa.Date(), nullable=False),
    sa.Column('title', sa.String(length=80), nullable=False),
    sa.Column('attendees_65plus', sa.Integer(), nullable=False),
    sa.Column('attendees_total', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('attendees_65plus >= 0', name=op.f('ck_iso_education_session_attendees_65plus_nonnegative')),
    sa.CheckConstraint('attendees_total >= attendees_65plus',
                       name=op.f('ck_iso_education_session_attendees_total_covers_65plus')),
    sa.ForeignKeyConstraint(['dong_id'], ['iso_dong.id'], name=op.f('fk_iso_education_session_dong_id_iso_dong'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'],
                            name=op.f('fk_iso_education_session_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_iso_education_session'))
    )
    with op.batch_alter_table('iso_education_session', schema=None) as batch_op:
        batch_op.create_index('ix_iso_education_session_municipality_held', ['municipality_id', 'held_date'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_iso_education_session_municipality_id'), ['municipality_id'],
                              unique=False)
    enable_tenant_rls('iso_education_session')


def downgrade() -> None:
    disable_tenant_rls('iso_education_session')
    with op.batch_alter_table('iso_education_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_iso_education_session_municipality_id'))
        batch_op.drop_index('ix_iso_education_session_municipality_held')
    op.drop_table('iso_education_session')
