"""platform: which modules each municipality runs (administrators' switches)

A module is on for a municipality when it has a program of that module; a platform administrator's switch
(one row per municipality and module) turns it on without a program, or off despite one.

Revision ID: platform_modules_0001
Revises: kt_cctv_frigate_0001
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.rls import disable_tenant_rls, enable_tenant_rls

revision: str = 'platform_modules_0001'
down_revision: str | Sequence[str] | None = 'kt_cctv_frigate_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('municipality_module',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('module_key', sa.String(length=40), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('switched_by', sa.String(length=120), nullable=False),
    sa.Column('switched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_municipality_module_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_municipality_module')),
    sa.UniqueConstraint('municipality_id', 'module_key', name=op.f('uq_municipality_module_municipality_id_module_key'))
    )
    with op.batch_alter_table('municipality_module', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_municipality_module_municipality_id'), ['municipality_id'], unique=False)
    enable_tenant_rls('municipality_module')


def downgrade() -> None:
    disable_tenant_rls('municipality_module')
    with op.batch_alter_table('municipality_module', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_municipality_module_municipality_id'))
    op.drop_table('municipality_module')
