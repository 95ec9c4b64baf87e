"""kt.cctv: the daily incident rollup that the statistics read, and incident indexes for the list

Revision ID: kt_cctv_0002
Revises: kt_voicebot_0002
Create Date: 2026-12-03
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'kt_cctv_0002'
down_revision: str | Sequence[str] | None = 'kt_voicebot_0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUCKETS = 10  # times to acknowledge and to resolve, counted per bucket


def upgrade() -> None:
    op.create_table(
        'kt_cctv_incident_daily',
        sa.Column('camera_id', sa.Integer(), nullable=False),
        sa.Column('type', sa.String(length=20), nullable=False),
        sa.Column('day_date', sa.Date(), nullable=False),
        sa.Column('incidents', sa.Integer(), nullable=False),
        sa.Column('closed', sa.Integer(), nullable=False),
        sa.Column('false_alarms', sa.Integer(), nullable=False),
        sa.Column('acknowledged', sa.Integer(), nullable=False),
        sa.Column('ack_s_sum', sa.Float(), nullable=False),
        sa.Column('resolved', sa.Integer(), nullable=False),
        sa.Column('resolve_s_sum', sa.Float(), nullable=False),
        *(sa.Column(f'ack_b{i}', sa.Integer(), nullable=False) for i in range(BUCKETS)),
        *(sa.Column(f'res_b{i}', sa.Integer(), nullable=False) for i in range(BUCKETS)),
        sa.Column('municipality_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['camera_id'], ['kt_cctv_camera.id'],
                                name=op.f('fk_kt_cctv_incident_daily_camera_id_kt_cctv_camera'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'],
                                name=op.f('fk_kt_cctv_incident_daily_municipality_id_municipality'),
                                ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('camera_id', 'type', 'day_date', name=op.f('pk_kt_cctv_incident_daily')),
    )
    with op.batch_alter_table('kt_cctv_incident_daily', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kt_cctv_incident_daily_day_date'), ['day_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_kt_cctv_incident_daily_municipality_id'), ['municipality_id'],
                              unique=False)
    with op.batch_alter_table('kt_cctv_incident', schema=None) as batch_op:
        batch_op.create_index('ix_kt_cctv_incident_municipality_status_last',
                              ['municipality_id', 'status', 'last_detected_at', 'id'], unique=False)
        batch_op.create_index('ix_kt_cctv_incident_municipality_started', ['municipality_id', 'started_at'],
                              unique=False)
    # Incidents stored before this revision: fill their rows (the same aggregate the platform keeps).
    from app.kt.cctv import rollup
    rollup.rebuild(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table('kt_cctv_incident', schema=None) as batch_op:
        batch_op.drop_index('ix_kt_cctv_incident_municipality_started')
        batch_op.drop_index('ix_kt_cctv_incident_municipality_status_last')
    with op.batch_alter_table('kt_cctv_incident_daily', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kt_cctv_incident_daily_municipality_id'))
        batch_op.drop_index(batch_op.f('ix_kt_cctv_incident_daily_day_date'))
    op.drop_table('kt_cctv_incident_daily')
