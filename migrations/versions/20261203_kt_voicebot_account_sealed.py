"""kt.voicebot: the refund account of a service request, sealed at rest

Revision ID: kt_voicebot_0002
Revises: lguplus_citydata_0001
Create Date: 2026-12-03
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'kt_voicebot_0002'
down_revision: str | Sequence[str] | None = 'lguplus_citydata_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('vb_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('account_sealed', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('vb_request', schema=None) as batch_op:
        batch_op.drop_column('account_sealed')
