"""kt.robots: vehicles heard on the VDA 5050 interface (registered or waiting for an admin)

A platform-level table (no municipality_id): a vehicle nobody registered belongs to no municipality, so
only platform admins see the unregistered ones; a registered vehicle links its robot.

Revision ID: kt_robots_vda5050_0001
Revises: kt_voicebot_faq_0001
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'kt_robots_vda5050_0001'
down_revision: str | Sequence[str] | None = 'kt_voicebot_faq_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('kt_robot_vda_vehicle',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('manufacturer', sa.String(length=80), nullable=False),
    sa.Column('serial_number', sa.String(length=80), nullable=False),
    sa.Column('robot_id', sa.Integer(), nullable=True),
    sa.Column('connection_state', sa.String(length=20), nullable=True),
    sa.Column('protocol_version', sa.String(length=20), nullable=True),
    sa.Column('factsheet', sa.JSON(), nullable=True),
    sa.Column('order_header_id', sa.Integer(), nullable=False),
    sa.Column('instant_actions_header_id', sa.Integer(), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['robot_id'], ['kt_robot.id'], name=op.f('fk_kt_robot_vda_vehicle_robot_id_kt_robot'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kt_robot_vda_vehicle')),
    sa.UniqueConstraint('manufacturer', 'serial_number', name=op.f('uq_kt_robot_vda_vehicle_manufacturer_serial_number'))
    )
    with op.batch_alter_table('kt_robot_vda_vehicle', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kt_robot_vda_vehicle_robot_id'), ['robot_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('kt_robot_vda_vehicle', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kt_robot_vda_vehicle_robot_id'))
    op.drop_table('kt_robot_vda_vehicle')
