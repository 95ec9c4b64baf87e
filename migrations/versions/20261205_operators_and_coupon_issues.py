"""kt.robots: operator holds and per-site task kinds; skt.tdeal: coupon issuance, redemptions that name
their merchant and can be cancelled

Robots get ``hold`` (the dock, pause or charge command keeping them off dispatch until they report idle);
sites get ``task_kinds`` (existing sites: guide, patrol, care). T deal gets ``tdeal_coupon_issue`` (each
coupon issued to a subscriber, with its tenant policy), and redemptions get their merchant, order
reference, issued coupon and cancellation. Each existing redemption is given the issued coupon it used.

Revision ID: operators_coupons_0001
Revises: kt_voicebot_open311_0001
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.rls import disable_tenant_rls, enable_tenant_rls

revision: str = 'operators_coupons_0001'
down_revision: str | Sequence[str] | None = 'kt_voicebot_open311_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('kt_robot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold', sa.String(length=10), nullable=True))
    with op.batch_alter_table('kt_robot_site', schema=None) as batch_op:
        batch_op.add_column(sa.Column('task_kinds', sa.JSON(), nullable=False,
                                      server_default='["guide", "patrol", "care"]'))
    with op.batch_alter_table('kt_robot_site', schema=None) as batch_op:
        batch_op.alter_column('task_kinds', server_default=None)

    op.create_table('tdeal_coupon_issue',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('coupon_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=80), nullable=True),
    sa.Column('at_checkout', sa.Boolean(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['coupon_id'], ['tdeal_coupon.id'], name=op.f('fk_tdeal_coupon_issue_coupon_id_tdeal_coupon'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], name=op.f('fk_tdeal_coupon_issue_municipality_id_municipality'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['tdeal_subscriber.id'], name=op.f('fk_tdeal_coupon_issue_subscriber_id_tdeal_subscriber'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tdeal_coupon_issue')),
    sa.UniqueConstraint('coupon_id', 'client_id', name=op.f('uq_tdeal_coupon_issue_coupon_id_client_id'))
    )
    with op.batch_alter_table('tdeal_coupon_issue', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tdeal_coupon_issue_coupon_id'), ['coupon_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tdeal_coupon_issue_municipality_id'), ['municipality_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tdeal_coupon_issue_subscriber_id'), ['subscriber_id'], unique=False)
    enable_tenant_rls('tdeal_coupon_issue')

    with op.batch_alter_table('tdeal_redemption', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merchant_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('issue_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('order_ref', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cancelled_by', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f('ix_tdeal_redemption_merchant_id'), ['merchant_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_tdeal_redemption_merchant_id_tdeal_merchant'), 'tdeal_merchant',
                                    ['merchant_id'], ['id'], ondelete='RESTRICT')
        batch_op.create_foreign_key(batch_op.f('fk_tdeal_redemption_issue_id_tdeal_coupon_issue'),
                                    'tdeal_coupon_issue', ['issue_id'], ['id'], ondelete='SET NULL')

    # Every redemption so far used a coupon issued at checkout: record those issues.
    op.execute("INSERT INTO tdeal_coupon_issue (municipality_id, coupon_id, subscriber_id, client_id, at_checkout, "
               "issued_at) SELECT municipality_id, coupon_id, subscriber_id, 'redemption:' || id, true, redeemed_at "
               "FROM tdeal_redemption")
    with op.batch_alter_table('tdeal_coupon', schema=None) as batch_op:
        batch_op.add_column(sa.Column('issued_count', sa.Integer(), nullable=False, server_default='0'))
    op.execute("UPDATE tdeal_coupon SET issued_count = (SELECT count(*) FROM tdeal_coupon_issue i "
               "WHERE i.coupon_id = tdeal_coupon.id)")
    with op.batch_alter_table('tdeal_coupon', schema=None) as batch_op:
        batch_op.alter_column('issued_count', server_default=None)
        batch_op.create_check_constraint(
            batch_op.f('ck_tdeal_coupon_issued_within'), 'issued_count >= 0 AND issued_count <= total_quantity')
    op.execute("UPDATE tdeal_redemption SET issue_id = (SELECT i.id FROM tdeal_coupon_issue i "
               "WHERE i.coupon_id = tdeal_redemption.coupon_id "
               "AND i.client_id = 'redemption:' || tdeal_redemption.id)")


def downgrade() -> None:
    with op.batch_alter_table('tdeal_redemption', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_tdeal_redemption_issue_id_tdeal_coupon_issue'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_tdeal_redemption_merchant_id_tdeal_merchant'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_tdeal_redemption_merchant_id'))
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('cancelled_by')
        batch_op.drop_column('cancelled_at')
        batch_op.drop_column('order_ref')
        batch_op.drop_column('issue_id')
        batch_op.drop_column('merchant_id')
    with op.batch_alter_table('tdeal_coupon', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_tdeal_coupon_issued_within'), type_='check')
        batch_op.drop_column('issued_count')
    disable_tenant_rls('tdeal_coupon_issue')
    with op.batch_alter_table('tdeal_coupon_issue', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tdeal_coupon_issue_subscriber_id'))
        batch_op.drop_index(batch_op.f('ix_tdeal_coupon_issue_municipality_id'))
        batch_op.drop_index(batch_op.f('ix_tdeal_coupon_issue_coupon_id'))
    op.drop_table('tdeal_coupon_issue')
    with op.batch_alter_table('kt_robot_site', schema=None) as batch_op:
        batch_op.drop_column('task_kinds')
    with op.batch_alter_table('kt_robot', schema=None) as batch_op:
        batch_op.drop_column('hold')
