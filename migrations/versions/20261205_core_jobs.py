"""core: the shared job table, duty claims (one run per period) and instance marks

Revision ID: core_jobs_0001
Revises: kt_cctv_0003
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'core_jobs_0001'
down_revision: str | Sequence[str] | None = 'platform_audit_0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'job',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=80), nullable=False),
        sa.Column('ref', sa.String(length=120), nullable=False),
        sa.Column('municipality_id', sa.Integer(), nullable=True),
        sa.Column('owner_user_id', sa.Integer(), nullable=True),
        sa.Column('owner', sa.String(length=120), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('done', sa.Integer(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('max_attempts', sa.Integer(), nullable=False),
        sa.Column('worker', sa.String(length=120), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_job_municipality_id_municipality'),
                                ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['owner_user_id'], ['app_user.id'], name=op.f('fk_job_owner_user_id_app_user'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_job')),
    )
    op.create_index(op.f('ix_job_ref'), 'job', ['ref'])
    op.create_index(op.f('ix_job_municipality_id'), 'job', ['municipality_id'])
    op.create_index('ix_job_status_lease_until', 'job', ['status', 'lease_until'])
    op.create_table(
        'duty_run',
        sa.Column('duty', sa.String(length=80), nullable=False),
        sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('worker', sa.String(length=120), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('duty', 'period_start', name=op.f('pk_duty_run')),
    )
    op.create_table(
        'instance_mark',
        sa.Column('key', sa.String(length=60), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_instance_mark')),
    )


def downgrade() -> None:
    op.drop_table('instance_mark')
    op.drop_table('duty_run')
    op.drop_index('ix_job_status_lease_until', table_name='job')
    op.drop_index(op.f('ix_job_municipality_id'), table_name='job')
    op.drop_index(op.f('ix_job_ref'), table_name='job')
    op.drop_table('job')
