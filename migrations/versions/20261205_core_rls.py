"""core: row-level security on every tenant table (PostgreSQL; nothing on SQLite)

Each table with ``municipality_id``, and ``municipality`` by its ``id``, gets RLS enabled and forced and
the one tenant policy of ``app.core.rls`` (``USING`` and ``WITH CHECK``). The list is static, as a
migration's must be; a later migration that adds a tenant table calls ``enable_tenant_rls`` itself.

Revision ID: core_rls_0001
Revises: core_jobs_0001
Create Date: 2026-12-05
"""
from collections.abc import Sequence

from app.core.rls import disable_tenant_rls, enable_tenant_rls

revision: str = 'core_rls_0001'
down_revision: str | Sequence[str] | None = 'core_jobs_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    'access_log', 'api_key', 'app_user', 'audit_log', 'citydata_answer', 'citydata_card_monthly', 'citydata_card_spending',
    'citydata_festival', 'citydata_import_job', 'citydata_living_population', 'citydata_pop_daily',
    'citydata_pop_hourly', 'citydata_question', 'citydata_response', 'citydata_survey', 'citydata_zone',
    'iso_band_rollup', 'iso_cell', 'iso_definition', 'iso_dong', 'iso_dong_rollup', 'job', 'kpi', 'kpi_value',
    'kt_cctv_camera', 'kt_cctv_event', 'kt_cctv_incident', 'kt_cctv_incident_daily', 'kt_cctv_rule',
    'kt_cctv_snapshot', 'kt_cctv_zone', 'kt_robot', 'kt_robot_alert', 'kt_robot_command', 'kt_robot_daily',
    'kt_robot_place', 'kt_robot_site', 'kt_robot_state', 'kt_robot_task', 'lgum_application',
    'lgum_application_step', 'lgum_budget', 'lgum_consulting', 'lgum_followup', 'lgum_merchant', 'lgum_outcome',
    'lgum_solution', 'milestone', 'program', 'tdeal_campaign', 'tdeal_campaign_merchant', 'tdeal_coupon',
    'tdeal_event', 'tdeal_merchant', 'tdeal_model', 'tdeal_product', 'tdeal_redemption', 'tdeal_subscriber',
    'vb_call', 'vb_fee_item', 'vb_note', 'vb_request', 'vb_tax_refund', 'vb_turn', 'worknet_access_event',
    'worknet_alert', 'worknet_lease', 'worknet_policy', 'worknet_policy_version', 'worknet_pool', 'worknet_router',
    'worknet_router_event',
)


def upgrade() -> None:
    enable_tenant_rls('municipality', column='id')
    for table in TENANT_TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        disable_tenant_rls(table)
    disable_tenant_rls('municipality')
