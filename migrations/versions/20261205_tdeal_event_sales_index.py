"""tdeal: covering index for sales aggregates over purchase events

The campaign report and the home dashboard's T deal widget sum purchases per merchant over a date window;
an index on (kind, occurred_at, municipality_id, merchant_id, amount_krw) answers that from the index alone
instead of visiting every event of the region.

Revision ID: tdeal_sales_index_0001
Revises: kt_robots_vda5050_0001
Create Date: 2026-12-05
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'tdeal_sales_index_0001'
down_revision: str | Sequence[str] | None = 'kt_robots_vda5050_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_tdeal_event_sales', 'tdeal_event',
                    ['kind', 'occurred_at', 'municipality_id', 'merchant_id', 'amount_krw'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_tdeal_event_sales', table_name='tdeal_event')
