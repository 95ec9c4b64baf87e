"""kt.worknet: routers keyed by SIM (IMSI, MSISDN), accounting records, IP-mismatch alerts, detail-file cursors

Routers gain the IMSI and MSISDN the operator's RADIUS sees (unique per municipality); access events gain
their kind (auth / start / interim / stop) and accounting session id; alerts gain the kind ``ip_mismatch``;
``worknet_radius_feed`` keeps how far the worker has read each FreeRADIUS detail file.

Revision ID: worknet_radius_0001
Revises: platform_modules_0001
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.rls import disable_tenant_rls, enable_tenant_rls

revision: str = 'worknet_radius_0001'
down_revision: str | Sequence[str] | None = 'platform_modules_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "kind IN ('off_hours', 'wrong_router', 'unknown_router', 'inactive_router', 'failure_burst')"
NEW_KINDS = ("kind IN ('off_hours', 'wrong_router', 'unknown_router', 'inactive_router', 'failure_burst', "
             "'ip_mismatch')")


def upgrade() -> None:
    with op.batch_alter_table('worknet_router', schema=None) as batch_op:
        batch_op.add_column(sa.Column('imsi', sa.String(length=15), nullable=True))
        batch_op.add_column(sa.Column('msisdn', sa.String(length=20), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_worknet_router_municipality_id_imsi'),
                                          ['municipality_id', 'imsi'])
        batch_op.create_unique_constraint(batch_op.f('uq_worknet_router_municipality_id_msisdn'),
                                          ['municipality_id', 'msisdn'])
    with op.batch_alter_table('worknet_access_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=10), nullable=False, server_default='auth'))
        batch_op.add_column(sa.Column('session_id', sa.String(length=64), nullable=True))
        batch_op.create_check_constraint('kind', "kind IN ('auth', 'start', 'interim', 'stop')")
    with op.batch_alter_table('worknet_alert', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_worknet_alert_kind'), type_='check')
        batch_op.create_check_constraint('kind', NEW_KINDS)

    op.create_table('worknet_radius_feed',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.Column('records', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_worknet_radius_feed_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_worknet_radius_feed')),
    sa.UniqueConstraint('municipality_id', 'path', name=op.f('uq_worknet_radius_feed_municipality_id_path'))
    )
    with op.batch_alter_table('worknet_radius_feed', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_worknet_radius_feed_municipality_id'), ['municipality_id'], unique=False)
    enable_tenant_rls('worknet_radius_feed')


def downgrade() -> None:
    disable_tenant_rls('worknet_radius_feed')
    with op.batch_alter_table('worknet_radius_feed', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_worknet_radius_feed_municipality_id'))
    op.drop_table('worknet_radius_feed')
    op.execute("DELETE FROM worknet_alert WHERE kind = 'ip_mismatch'")
    with op.batch_alter_table('worknet_alert', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_worknet_alert_kind'), type_='check')
        batch_op.create_check_constraint('kind', OLD_KINDS)
    with op.batch_alter_table('worknet_access_event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_worknet_access_event_kind'), type_='check')
        batch_op.drop_column('session_id')
        batch_op.drop_column('kind')
    with op.batch_alter_table('worknet_router', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_worknet_router_municipality_id_msisdn'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_worknet_router_municipality_id_imsi'), type_='unique')
        batch_op.drop_column('msisdn')
        batch_op.drop_column('imsi')
