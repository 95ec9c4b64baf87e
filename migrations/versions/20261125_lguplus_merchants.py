"""lguplus merchants: merchants, solution catalogue, applications with history, budget, consulting, outcomes

Revision ID: lguplus_merchants_0001
Revises: kt_worknet_0001
Create Date: 2026-11-25 10:34:58.225971
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'lguplus_merchants_0001'
down_revision: str | Sequence[str] | None = 'skt_isolation_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('lgum_budget',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('amount_krw', sa.BigInteger(), nullable=False),
    sa.Column('committed_krw', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('committed_krw >= 0 AND committed_krw <= amount_krw', name=op.f('ck_lgum_budget_within')),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_lgum_budget_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lgum_budget')),
    sa.UniqueConstraint('municipality_id', 'year', name=op.f('uq_lgum_budget_municipality_id_year'))
    )
    with op.batch_alter_table('lgum_budget', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lgum_budget_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('lgum_merchant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brn', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('dong_code', sa.String(length=10), nullable=False),
    sa.Column('dong_name', sa.String(length=40), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('owner_phone', sa.String(length=20), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('lat IS NULL OR (lat >= 33 AND lat <= 39)', name=op.f('ck_lgum_merchant_lat_korea')),
    sa.CheckConstraint('lon IS NULL OR (lon >= 124 AND lon <= 132)', name=op.f('ck_lgum_merchant_lon_korea')),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_lgum_merchant_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lgum_merchant')),
    sa.UniqueConstraint('municipality_id', 'brn', name=op.f('uq_lgum_merchant_municipality_id_brn'))
    )
    with op.batch_alter_table('lgum_merchant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lgum_merchant_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_lgum_merchant_dong_code'), ['dong_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_lgum_merchant_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('lgum_solution',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('monthly_fee_krw', sa.BigInteger(), nullable=False),
    sa.Column('one_off_krw', sa.BigInteger(), nullable=False),
    sa.Column('subsidy_pct', sa.Integer(), nullable=False),
    sa.Column('subsidy_cap_krw', sa.BigInteger(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('monthly_fee_krw >= 0 AND one_off_krw >= 0 AND subsidy_cap_krw >= 0', name=op.f('ck_lgum_solution_money')),
    sa.CheckConstraint('subsidy_pct >= 0 AND subsidy_pct <= 100', name=op.f('ck_lgum_solution_pct')),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_lgum_solution_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lgum_solution')),
    sa.UniqueConstraint('municipality_id', 'code', name=op.f('uq_lgum_solution_municipality_id_code'))
    )
    with op.batch_alter_table('lgum_solution', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lgum_solution_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('lgum_application',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('solution_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('requested_subsidy_krw', sa.BigInteger(), nullable=False),
    sa.Column('committed_krw', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('installed_date', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("state IN ('submitted', 'reviewed', 'approved', 'installed', 'active', 'cancelled', 'rejected')", name=op.f('ck_lgum_application_state')),
    sa.CheckConstraint('requested_subsidy_krw >= 0 AND committed_krw >= 0', name=op.f('ck_lgum_application_money')),
    sa.ForeignKeyConstraint(['merchant_id'], ['lgum_merchant.id'], name=op.f('fk_lgum_application_merchant_id_lgum_merchant'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_lgum_application_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['solution_id'], ['lgum_solution.id'], name=op.f('fk_lgum_application_solution_id_lgum_solution'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lgum_application'))
    )
    with op.batch_alter_table('lgum_application', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lgum_application_merchant_id'), ['merchant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lgum_application_municipality_id'), ['municipality_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lgum_application_solution_id'), ['solution_id'], unique=False)
        batch_op.create_index('ix_lgum_application_state_year', ['state', 'year'], unique=False)

    op.create_table('lgum_consulting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('session_date', sa.Date(), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('consultant', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['lgum_merchant.id'], name=op.f('fk_lgum_consulting_merchant_id_lgum_merchant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_lgum_consulting_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lgum_consulting'))
    )
    with op.batch_alter_table('lgum_consulting', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lgum_consulting_merchant_id'), ['merchant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lgum_consulting_municipality_id'), ['municipality_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lgum_consulting_session_date'), ['session_date'], unique=False)

    op.create_table('lgum_outcome',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('month_date', sa.Date(), nullable=False),
    sa.Column('sales_krw', sa.BigInteger(), nullable=False),
    sa.Column('orders', sa.Integer(), nullable=False),
    sa.Column('reservations', sa.Integer(), nullable=False),
    sa.Column('no_show_rate', sa.Float(), nullable=True),
    sa.Column('staff_hours', sa.Float(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('no_show_rate IS NULL OR (no_show_rate >= 0 AND no_show_rate <= 1)', name=op.f('ck_lgum_outcome_rate')),
    sa.CheckConstraint('sales_krw >= 0 AND orders >= 0 AND reservations >= 0 AND staff_hours >= 0', name=op.f('ck_lgum_outcome_nonnegative')),
    sa.ForeignKeyConstraint(['merchant_id'], ['lgum_merchant.id'], name=op.f('fk_lgum_outcome_merchant_id_lgum_merchant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_lgum_outcome_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lgum_outcome')),
    sa.UniqueConstraint('merchant_id', 'month_date', name=op.f('uq_lgum_outcome_merchant_id_month_date'))
    )
    with op.batch_alter_table('lgum_outcome', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lgum_outcome_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('lgum_application_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('from_state', sa.String(length=12), nullable=True),
    sa.Column('to_state', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['lgum_application.id'], name=op.f('fk_lgum_application_step_application_id_lgum_application'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_lgum_application_step_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lgum_application_step'))
    )
    with op.batch_alter_table('lgum_application_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lgum_application_step_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lgum_application_step_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('lgum_followup',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consulting_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=300), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['consulting_id'], ['lgum_consulting.id'], name=op.f('fk_lgum_followup_consulting_id_lgum_consulting'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_lgum_followup_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lgum_followup'))
    )
    with op.batch_alter_table('lgum_followup', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lgum_followup_consulting_id'), ['consulting_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lgum_followup_municipality_id'), ['municipality_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('lgum_followup', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lgum_followup_municipality_id'))
        batch_op.drop_index(batch_op.f('ix_lgum_followup_consulting_id'))

    op.drop_table('lgum_followup')
    with op.batch_alter_table('lgum_application_step', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lgum_application_step_municipality_id'))
        batch_op.drop_index(batch_op.f('ix_lgum_application_step_application_id'))

    op.drop_table('lgum_application_step')
    with op.batch_alter_table('lgum_outcome', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lgum_outcome_municipality_id'))

    op.drop_table('lgum_outcome')
    with op.batch_alter_table('lgum_consulting', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lgum_consulting_session_date'))
        batch_op.drop_index(batch_op.f('ix_lgum_consulting_municipality_id'))
        batch_op.drop_index(batch_op.f('ix_lgum_consulting_merchant_id'))

    op.drop_table('lgum_consulting')
    with op.batch_alter_table('lgum_application', schema=None) as batch_op:
        batch_op.drop_index('ix_lgum_application_state_year')
        batch_op.drop_index(batch_op.f('ix_lgum_application_solution_id'))
        batch_op.drop_index(batch_op.f('ix_lgum_application_municipality_id'))
        batch_op.drop_index(batch_op.f('ix_lgum_application_merchant_id'))

    op.drop_table('lgum_application')
    with op.batch_alter_table('lgum_solution', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lgum_solution_municipality_id'))

    op.drop_table('lgum_solution')
    with op.batch_alter_table('lgum_merchant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lgum_merchant_municipality_id'))
        batch_op.drop_index(batch_op.f('ix_lgum_merchant_dong_code'))
        batch_op.drop_index(batch_op.f('ix_lgum_merchant_category'))

    op.drop_table('lgum_merchant')
    with op.batch_alter_table('lgum_budget', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lgum_budget_municipality_id'))

    op.drop_table('lgum_budget')
