"""skt isolation: an index on the per-dong rollup by period

The isolation ranking (its page and the home dashboard's card) sums two periods of the per-dong rollup.
For a caller who reaches every municipality (a platform admin) nothing narrows the rows by municipality, so
without an index led by the period the statement read the whole table (every month of every dong).

Revision ID: isolation_period_index_0001
Revises: skt_isolation_education_0001
Create Date: 2026-12-05
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'isolation_period_index_0001'
down_revision: str | Sequence[str] | None = 'skt_isolation_education_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_iso_dong_rollup_period', 'iso_dong_rollup', ['period', 'dong_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_iso_dong_rollup_period', table_name='iso_dong_rollup')
