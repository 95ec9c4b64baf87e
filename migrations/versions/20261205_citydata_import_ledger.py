"""citydata: import digests and coverage (no double counting), category market fit

Each import records the sha256 of what it received and one coverage row per kind × period × zone (unique,
so two imports cannot both hold a cell); municipalities set which card categories fit a traditional market.

Revision ID: citydata_ledger_0001
Revises: operators_coupons_0001
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.rls import disable_tenant_rls, enable_tenant_rls

revision: str = 'citydata_ledger_0001'
down_revision: str | Sequence[str] | None = 'operators_coupons_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('citydata_import_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('coverage', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.create_index('ix_citydata_import_job_digest', ['municipality_id', 'kind', 'digest'], unique=False)

    op.create_table('citydata_import_coverage',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['citydata_import_job.id'], name=op.f('fk_citydata_import_coverage_job_id_citydata_import_job'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_citydata_import_coverage_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['zone_id'], ['citydata_zone.id'], name=op.f('fk_citydata_import_coverage_zone_id_citydata_zone'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citydata_import_coverage')),
    sa.UniqueConstraint('municipality_id', 'kind', 'zone_id', 'period', name=op.f('uq_citydata_import_coverage_municipality_id_kind_zone_id_period'))
    )
    with op.batch_alter_table('citydata_import_coverage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citydata_import_coverage_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_citydata_import_coverage_municipality_id'), ['municipality_id'], unique=False)
    enable_tenant_rls('citydata_import_coverage')

    op.create_table('citydata_category_fit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=60), nullable=False),
    sa.Column('fits', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_citydata_category_fit_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citydata_category_fit')),
    sa.UniqueConstraint('municipality_id', 'category', name=op.f('uq_citydata_category_fit_municipality_id_category'))
    )
    with op.batch_alter_table('citydata_category_fit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citydata_category_fit_municipality_id'), ['municipality_id'], unique=False)
    enable_tenant_rls('citydata_category_fit')


def downgrade() -> None:
    disable_tenant_rls('citydata_category_fit')
    with op.batch_alter_table('citydata_category_fit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citydata_category_fit_municipality_id'))
    op.drop_table('citydata_category_fit')
    disable_tenant_rls('citydata_import_coverage')
    with op.batch_alter_table('citydata_import_coverage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citydata_import_coverage_municipality_id'))
        batch_op.drop_index(batch_op.f('ix_citydata_import_coverage_job_id'))
    op.drop_table('citydata_import_coverage')
    with op.batch_alter_table('citydata_import_job', schema=None) as batch_op:
        batch_op.drop_index('ix_citydata_import_job_digest')
        batch_op.drop_column('coverage')
        batch_op.drop_column('digest')
