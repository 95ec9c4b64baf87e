"""kt.cctv: an index for the escalation check that runs before every incident list

Revision ID: kt_cctv_0003
Revises: kt_cctv_0002
Create Date: 2026-12-03
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'kt_cctv_0003'
down_revision: str | Sequence[str] | None = 'kt_cctv_0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_kt_cctv_incident_status_severity_opened', 'kt_cctv_incident',
                    ['status', 'severity', 'opened_at'])


def downgrade() -> None:
    op.drop_index('ix_kt_cctv_incident_status_severity_opened', table_name='kt_cctv_incident')
