"""platform: KPIs bound to a module's metric source, and their computed values per period

``kpi.source_key`` names a metric source of a module's manifest (None: values typed by hand);
``kpi_reading`` keeps each period's computed value with the time it was computed.

Revision ID: platform_kpi_sources_0001
Revises: worknet_radius_0001
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.rls import disable_tenant_rls, enable_tenant_rls

revision: str = 'platform_kpi_sources_0001'
down_revision: str | Sequence[str] | None = 'worknet_radius_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('kpi', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_key', sa.String(length=80), nullable=True))

    op.create_table('kpi_reading',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kpi_id', sa.Integer(), nullable=False),
    sa.Column('source_key', sa.String(length=80), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('period_end >= period_start', name=op.f('ck_kpi_reading_period')),
    sa.ForeignKeyConstraint(['kpi_id'], ['kpi.id'], name=op.f('fk_kpi_reading_kpi_id_kpi'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_kpi_reading_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_reading')),
    sa.UniqueConstraint('kpi_id', 'source_key', 'period_start', name=op.f('uq_kpi_reading_kpi_id_source_key_period_start'))
    )
    with op.batch_alter_table('kpi_reading', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kpi_reading_kpi_id'), ['kpi_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_kpi_reading_municipality_id'), ['municipality_id'], unique=False)
    enable_tenant_rls('kpi_reading')


def downgrade() -> None:
    disable_tenant_rls('kpi_reading')
    with op.batch_alter_table('kpi_reading', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kpi_reading_municipality_id'))
        batch_op.drop_index(batch_op.f('ix_kpi_reading_kpi_id'))
    op.drop_table('kpi_reading')
    with op.batch_alter_table('kpi', schema=None) as batch_op:
        batch_op.drop_column('source_key')
