"""skt isolation: 행정동, indicator cells, their two rollups, definitions of isolation

Revision ID: skt_isolation_0001
Revises: kt_worknet_0001
Create Date: 2026-11-25 10:33:25.412026
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'skt_isolation_0001'
down_revision: str | Sequence[str] | None = 'kt_worknet_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('iso_band_rollup',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('age_band', sa.String(length=5), nullable=False),
    sa.Column('sex', sa.String(length=1), nullable=False),
    sa.Column('income_band', sa.String(length=6), nullable=False),
    sa.Column('cells', sa.Integer(), nullable=False),
    sa.Column('population', sa.BigInteger(), nullable=False),
    sa.Column('low_communication', sa.BigInteger(), nullable=False),
    sa.Column('low_outing', sa.BigInteger(), nullable=False),
    sa.Column('isolated', sa.BigInteger(), nullable=False),
    sa.Column('sum_smartphone_data_mb', sa.Float(), nullable=False),
    sa.Column('sum_app_minutes', sa.Float(), nullable=False),
    sa.Column('sum_messenger_minutes', sa.Float(), nullable=False),
    sa.Column('sum_sns_minutes', sa.Float(), nullable=False),
    sa.Column('sum_calls', sa.Float(), nullable=False),
    sa.Column('sum_call_partners', sa.Float(), nullable=False),
    sa.Column('sum_outings', sa.Float(), nullable=False),
    sa.Column('sum_travel_km', sa.Float(), nullable=False),
    sa.Column('sum_home_hours', sa.Float(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_iso_band_rollup_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_iso_band_rollup')),
    sa.UniqueConstraint('municipality_id', 'period', 'age_band', 'sex', 'income_band', name='uq_iso_band_rollup_key')
    )
    with op.batch_alter_table('iso_band_rollup', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_iso_band_rollup_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('iso_dong',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('district', sa.String(length=60), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_iso_dong_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_iso_dong')),
    sa.UniqueConstraint('code', name=op.f('uq_iso_dong_code'))
    )
    with op.batch_alter_table('iso_dong', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_iso_dong_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('iso_cell',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('dong_id', sa.Integer(), nullable=False),
    sa.Column('age_band', sa.String(length=5), nullable=False),
    sa.Column('sex', sa.String(length=1), nullable=False),
    sa.Column('income_band', sa.String(length=6), nullable=False),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.Column('low_communication', sa.Integer(), nullable=False),
    sa.Column('low_outing', sa.Integer(), nullable=False),
    sa.Column('isolated', sa.Integer(), nullable=False),
    sa.Column('smartphone_data_mb', sa.Float(), nullable=False),
    sa.Column('app_minutes', sa.Float(), nullable=False),
    sa.Column('messenger_minutes', sa.Float(), nullable=False),
    sa.Column('sns_minutes', sa.Float(), nullable=False),
    sa.Column('calls', sa.Float(), nullable=False),
    sa.Column('call_partners', sa.Float(), nullable=False),
    sa.Column('outings', sa.Float(), nullable=False),
    sa.Column('travel_km', sa.Float(), nullable=False),
    sa.Column('home_hours', sa.Float(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('isolated >= 0 AND isolated <= low_communication AND isolated <= low_outing', name=op.f('ck_iso_cell_isolated')),
    sa.CheckConstraint('low_communication >= 0 AND low_communication <= population', name=op.f('ck_iso_cell_low_communication')),
    sa.CheckConstraint('low_outing >= 0 AND low_outing <= population', name=op.f('ck_iso_cell_low_outing')),
    sa.CheckConstraint('population >= 0', name=op.f('ck_iso_cell_population_nonnegative')),
    sa.ForeignKeyConstraint(['dong_id'], ['iso_dong.id'], name=op.f('fk_iso_cell_dong_id_iso_dong'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_iso_cell_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_iso_cell')),
    sa.UniqueConstraint('dong_id', 'period', 'age_band', 'sex', 'income_band', name='uq_iso_cell_key')
    )
    with op.batch_alter_table('iso_cell', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_iso_cell_municipality_id'), ['municipality_id'], unique=False)
        batch_op.create_index('ix_iso_cell_municipality_period', ['municipality_id', 'period'], unique=False)

    op.create_table('iso_dong_rollup',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('dong_id', sa.Integer(), nullable=False),
    sa.Column('age_band', sa.String(length=5), nullable=False),
    sa.Column('cells', sa.Integer(), nullable=False),
    sa.Column('population', sa.BigInteger(), nullable=False),
    sa.Column('low_communication', sa.BigInteger(), nullable=False),
    sa.Column('low_outing', sa.BigInteger(), nullable=False),
    sa.Column('isolated', sa.BigInteger(), nullable=False),
    sa.Column('sum_smartphone_data_mb', sa.Float(), nullable=False),
    sa.Column('sum_app_minutes', sa.Float(), nullable=False),
    sa.Column('sum_messenger_minutes', sa.Float(), nullable=False),
    sa.Column('sum_sns_minutes', sa.Float(), nullable=False),
    sa.Column('sum_calls', sa.Float(), nullable=False),
    sa.Column('sum_call_partners', sa.Float(), nullable=False),
    sa.Column('sum_outings', sa.Float(), nullable=False),
    sa.Column('sum_travel_km', sa.Float(), nullable=False),
    sa.Column('sum_home_hours', sa.Float(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dong_id'], ['iso_dong.id'], name=op.f('fk_iso_dong_rollup_dong_id_iso_dong'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_iso_dong_rollup_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_iso_dong_rollup')),
    sa.UniqueConstraint('dong_id', 'period', 'age_band', name='uq_iso_dong_rollup_key')
    )
    with op.batch_alter_table('iso_dong_rollup', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_iso_dong_rollup_municipality_id'), ['municipality_id'], unique=False)
        batch_op.create_index('ix_iso_dong_rollup_municipality_period', ['municipality_id', 'period', 'dong_id'], unique=False)

    op.create_table('iso_definition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.String(length=7), nullable=False),
    sa.Column('low_communication', sa.String(length=500), nullable=False),
    sa.Column('low_outing', sa.String(length=500), nullable=False),
    sa.Column('isolated', sa.String(length=500), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_iso_definition_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_iso_definition')),
    sa.UniqueConstraint('municipality_id', 'effective_from', name=op.f('uq_iso_definition_municipality_id_effective_from'))
    )
    with op.batch_alter_table('iso_definition', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_iso_definition_municipality_id'), ['municipality_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('iso_definition', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_iso_definition_municipality_id'))

    op.drop_table('iso_definition')
    with op.batch_alter_table('iso_dong_rollup', schema=None) as batch_op:
        batch_op.drop_index('ix_iso_dong_rollup_municipality_period')
        batch_op.drop_index(batch_op.f('ix_iso_dong_rollup_municipality_id'))

    op.drop_table('iso_dong_rollup')
    with op.batch_alter_table('iso_cell', schema=None) as batch_op:
        batch_op.drop_index('ix_iso_cell_municipality_period')
        batch_op.drop_index(batch_op.f('ix_iso_cell_municipality_id'))

    op.drop_table('iso_cell')
    with op.batch_alter_table('iso_dong', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_iso_dong_municipality_id'))

    op.drop_table('iso_dong')
    with op.batch_alter_table('iso_band_rollup', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_iso_band_rollup_municipality_id'))

    op.drop_table('iso_band_rollup')
