"""platform: server-side sessions (signing out ends a session); sign-in failures leave the user row

Failed sign-ins are counted per (username, address) by the rate limiter, not on the account, so the
columns that locked the whole account go.

Revision ID: platform_0002
Revises: kt_cctv_0003
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'platform_0002'
down_revision: str | Sequence[str] | None = 'kt_cctv_0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('app_user_session',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_app_user_session_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user_session'))
    )
    with op.batch_alter_table('app_user_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_app_user_session_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_app_user_session_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_logins')


def downgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('app_user_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_app_user_session_user_id'))
        batch_op.drop_index(batch_op.f('ix_app_user_session_expires_at'))

    op.drop_table('app_user_session')
