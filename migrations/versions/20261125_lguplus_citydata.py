"""lguplus citydata: zones, raw living population and card spending, rollups, surveys, festivals, import jobs

Revision ID: lguplus_citydata_0001
Revises: kt_worknet_0001
Create Date: 2026-11-25 10:38:42.609586
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'lguplus_citydata_0001'
down_revision: str | Sequence[str] | None = 'lguplus_merchants_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('citydata_festival',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('host_code', sa.String(length=10), nullable=False),
    sa.Column('host_name', sa.String(length=100), nullable=False),
    sa.Column('zone_code', sa.String(length=10), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('end_date >= start_date', name=op.f('ck_citydata_festival_dates')),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_citydata_festival_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citydata_festival')),
    sa.UniqueConstraint('municipality_id', 'name', 'start_date', name=op.f('uq_citydata_festival_municipality_id_name_start_date'))
    )
    with op.batch_alter_table('citydata_festival', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citydata_festival_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('citydata_import_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('client_id', sa.String(length=80), nullable=True),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('encoding', sa.String(length=10), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('bytes_total', sa.BigInteger(), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('error_count', sa.Integer(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('message', sa.String(length=500), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_citydata_import_job_status')),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_citydata_import_job_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citydata_import_job')),
    sa.UniqueConstraint('municipality_id', 'client_id', name=op.f('uq_citydata_import_job_municipality_id_client_id'))
    )
    with op.batch_alter_table('citydata_import_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citydata_import_job_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('citydata_survey',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('provider', sa.String(length=100), nullable=False),
    sa.Column('fielded_date', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_citydata_survey_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citydata_survey')),
    sa.UniqueConstraint('municipality_id', 'name', name=op.f('uq_citydata_survey_municipality_id_name'))
    )
    with op.batch_alter_table('citydata_survey', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citydata_survey_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('citydata_zone',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=10), nullable=False),
    sa.Column('name_ko', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=100), nullable=False),
    sa.Column('area_code', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_citydata_zone_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citydata_zone')),
    sa.UniqueConstraint('municipality_id', 'code', name=op.f('uq_citydata_zone_municipality_id_code'))
    )
    with op.batch_alter_table('citydata_zone', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citydata_zone_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('citydata_card_monthly',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('category_large', sa.String(length=40), nullable=False),
    sa.Column('category_middle', sa.String(length=60), nullable=False),
    sa.Column('origin_class', sa.String(length=10), nullable=False),
    sa.Column('amount_krw', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_citydata_card_monthly_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['zone_id'], ['citydata_zone.id'], name=op.f('fk_citydata_card_monthly_zone_id_citydata_zone'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citydata_card_monthly')),
    sa.UniqueConstraint('zone_id', 'month', 'category_large', 'category_middle', 'origin_class', name=op.f('uq_citydata_card_monthly_zone_id_month_category_large_category_middle_origin_class'))
    )
    with op.batch_alter_table('citydata_card_monthly', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citydata_card_monthly_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('citydata_card_spending',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('merchant_zone_id', sa.Integer(), nullable=False),
    sa.Column('category_large', sa.String(length=40), nullable=False),
    sa.Column('category_middle', sa.String(length=60), nullable=False),
    sa.Column('customer_home_code', sa.String(length=10), nullable=False),
    sa.Column('sex', sa.String(length=3), nullable=False),
    sa.Column('age_band', sa.String(length=5), nullable=False),
    sa.Column('amount_krw', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['citydata_import_job.id'], name=op.f('fk_citydata_card_spending_job_id_citydata_import_job'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['merchant_zone_id'], ['citydata_zone.id'], name=op.f('fk_citydata_card_spending_merchant_zone_id_citydata_zone'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_citydata_card_spending_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citydata_card_spending'))
    )
    with op.batch_alter_table('citydata_card_spending', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citydata_card_spending_municipality_id'), ['municipality_id'], unique=False)
        batch_op.create_index('ix_citydata_card_spending_zone_month', ['merchant_zone_id', 'month'], unique=False)

    op.create_table('citydata_living_population',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('obs_date', sa.Date(), nullable=False),
    sa.Column('hour', sa.SmallInteger(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('sex', sa.String(length=3), nullable=False),
    sa.Column('age_band', sa.String(length=5), nullable=False),
    sa.Column('visitor_type', sa.String(length=8), nullable=False),
    sa.Column('origin_code', sa.String(length=10), nullable=True),
    sa.Column('count', sa.Float(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['citydata_import_job.id'], name=op.f('fk_citydata_living_population_job_id_citydata_import_job'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_citydata_living_population_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['zone_id'], ['citydata_zone.id'], name=op.f('fk_citydata_living_population_zone_id_citydata_zone'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citydata_living_population'))
    )
    with op.batch_alter_table('citydata_living_population', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citydata_living_population_municipality_id'), ['municipality_id'], unique=False)
        batch_op.create_index('ix_citydata_living_population_zone_date', ['zone_id', 'obs_date'], unique=False)

    op.create_table('citydata_pop_daily',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('obs_date', sa.Date(), nullable=False),
    sa.Column('visitor_type', sa.String(length=8), nullable=False),
    sa.Column('count', sa.Float(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_citydata_pop_daily_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['zone_id'], ['citydata_zone.id'], name=op.f('fk_citydata_pop_daily_zone_id_citydata_zone'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citydata_pop_daily')),
    sa.UniqueConstraint('zone_id', 'obs_date', 'visitor_type', name=op.f('uq_citydata_pop_daily_zone_id_obs_date_visitor_type'))
    )
    with op.batch_alter_table('citydata_pop_daily', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citydata_pop_daily_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('citydata_pop_hourly',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.SmallInteger(), nullable=False),
    sa.Column('hour', sa.SmallInteger(), nullable=False),
    sa.Column('visitor_type', sa.String(length=8), nullable=False),
    sa.Column('count', sa.Float(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_citydata_pop_hourly_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['zone_id'], ['citydata_zone.id'], name=op.f('fk_citydata_pop_hourly_zone_id_citydata_zone'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citydata_pop_hourly')),
    sa.UniqueConstraint('zone_id', 'weekday', 'hour', 'visitor_type', name=op.f('uq_citydata_pop_hourly_zone_id_weekday_hour_visitor_type'))
    )
    with op.batch_alter_table('citydata_pop_hourly', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citydata_pop_hourly_municipality_id'), ['municipality_id'], unique=False)

    op.create_table('citydata_question',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('choices', sa.JSON(), nullable=False),
    sa.Column('scale_min', sa.Integer(), nullable=True),
    sa.Column('scale_max', sa.Integer(), nullable=True),
    sa.Column('topic', sa.String(length=40), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('choice', 'multi', 'scale')", name=op.f('ck_citydata_question_kind')),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_citydata_question_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['survey_id'], ['citydata_survey.id'], name=op.f('fk_citydata_question_survey_id_citydata_survey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citydata_question')),
    sa.UniqueConstraint('survey_id', 'code', name=op.f('uq_citydata_question_survey_id_code'))
    )
    with op.batch_alter_table('citydata_question', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citydata_question_municipality_id'), ['municipality_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_citydata_question_survey_id'), ['survey_id'], unique=False)

    op.create_table('citydata_response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('respondent_key', sa.String(length=80), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('sex', sa.String(length=3), nullable=False),
    sa.Column('age_band', sa.String(length=5), nullable=False),
    sa.Column('zone_code', sa.String(length=10), nullable=True),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('weight > 0', name=op.f('ck_citydata_response_weight_positive')),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_citydata_response_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['survey_id'], ['citydata_survey.id'], name=op.f('fk_citydata_response_survey_id_citydata_survey'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citydata_response')),
    sa.UniqueConstraint('survey_id', 'respondent_key', name=op.f('uq_citydata_response_survey_id_respondent_key'))
    )
    with op.batch_alter_table('citydata_response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citydata_response_municipality_id'), ['municipality_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_citydata_response_survey_id'), ['survey_id'], unique=False)

    op.create_table('citydata_answer',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.String(length=100), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_citydata_answer_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['question_id'], ['citydata_question.id'], name=op.f('fk_citydata_answer_question_id_citydata_question'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['response_id'], ['citydata_response.id'], name=op.f('fk_citydata_answer_response_id_citydata_response'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citydata_answer'))
    )
    with op.batch_alter_table('citydata_answer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citydata_answer_municipality_id'), ['municipality_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_citydata_answer_question_id'), ['question_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_citydata_answer_response_id'), ['response_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('citydata_answer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citydata_answer_response_id'))
        batch_op.drop_index(batch_op.f('ix_citydata_answer_question_id'))
        batch_op.drop_index(batch_op.f('ix_citydata_answer_municipality_id'))

    op.drop_table('citydata_answer')
    with op.batch_alter_table('citydata_response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citydata_response_survey_id'))
        batch_op.drop_index(batch_op.f('ix_citydata_response_municipality_id'))

    op.drop_table('citydata_response')
    with op.batch_alter_table('citydata_question', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citydata_question_survey_id'))
        batch_op.drop_index(batch_op.f('ix_citydata_question_municipality_id'))

    op.drop_table('citydata_question')
    with op.batch_alter_table('citydata_pop_hourly', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citydata_pop_hourly_municipality_id'))

    op.drop_table('citydata_pop_hourly')
    with op.batch_alter_table('citydata_pop_daily', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citydata_pop_daily_municipality_id'))

    op.drop_table('citydata_pop_daily')
    with op.batch_alter_table('citydata_living_population', schema=None) as batch_op:
        batch_op.drop_index('ix_citydata_living_population_zone_date')
        batch_op.drop_index(batch_op.f('ix_citydata_living_population_municipality_id'))

    op.drop_table('citydata_living_population')
    with op.batch_alter_table('citydata_card_spending', schema=None) as batch_op:
        batch_op.drop_index('ix_citydata_card_spending_zone_month')
        batch_op.drop_index(batch_op.f('ix_citydata_card_spending_municipality_id'))

    op.drop_table('citydata_card_spending')
    with op.batch_alter_table('citydata_card_monthly', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citydata_card_monthly_municipality_id'))

    op.drop_table('citydata_card_monthly')
    with op.batch_alter_table('citydata_zone', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citydata_zone_municipality_id'))

    op.drop_table('citydata_zone')
    with op.batch_alter_table('citydata_survey', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citydata_survey_municipality_id'))

    op.drop_table('citydata_survey')
    with op.batch_alter_table('citydata_import_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citydata_import_job_municipality_id'))

    op.drop_table('citydata_import_job')
    with op.batch_alter_table('citydata_festival', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citydata_festival_municipality_id'))

    op.drop_table('citydata_festival')
