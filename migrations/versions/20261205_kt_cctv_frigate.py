"""kt.cctv: Frigate label mapping per municipality, Frigate cameras that match no camera

Revision ID: kt_cctv_frigate_0001
Revises: citydata_ledger_0001
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.rls import disable_tenant_rls, enable_tenant_rls

revision: str = 'kt_cctv_frigate_0001'
down_revision: str | Sequence[str] | None = 'citydata_ledger_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('kt_cctv_frigate_label',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=60), nullable=False),
    sa.Column('zone_type', sa.String(length=20), nullable=False),
    sa.Column('event_type', sa.String(length=20), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_kt_cctv_frigate_label_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kt_cctv_frigate_label')),
    sa.UniqueConstraint('municipality_id', 'label', 'zone_type', name=op.f('uq_kt_cctv_frigate_label_municipality_id_label_zone_type'))
    )
    with op.batch_alter_table('kt_cctv_frigate_label', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kt_cctv_frigate_label_municipality_id'), ['municipality_id'], unique=False)
    enable_tenant_rls('kt_cctv_frigate_label')

    op.create_table('kt_cctv_frigate_unknown_camera',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_event_id', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kt_cctv_frigate_unknown_camera')),
    sa.UniqueConstraint('name', name=op.f('uq_kt_cctv_frigate_unknown_camera_name'))
    )


def downgrade() -> None:
    op.drop_table('kt_cctv_frigate_unknown_camera')
    disable_tenant_rls('kt_cctv_frigate_label')
    with op.batch_alter_table('kt_cctv_frigate_label', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kt_cctv_frigate_label_municipality_id'))
    op.drop_table('kt_cctv_frigate_label')
