"""Program KPIs bound to a module's metric source: each source computes the module's own figure, the home
dashboard, the program page and the module's statistics page show the same number, and the worker keeps
a history per month."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from app.core.db import utcnow
from app.core.i18n import SEOUL
from app.core.manifest import metric_sources
from app.core.tenancy import SYSTEM, bind_principal
from app.core.worker import run_duty_now
from app.kt.voicebot.models import VoicebotCall
from app.lguplus.merchants import service as merchants_service
from app.lguplus.merchants.models import Application, MerchantStore
from app.platform import service as platform_service
from app.platform.models import Kpi, KpiReading, Program
from app.platform.schemas import KpiIn, KpiUpdate
from tests.conftest import csrf_of, make_world, web_login

DEC = (date(2026, 12, 1), date(2026, 12, 31))


def _at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SEOUL)


def _calls(s, municipality_id: int, day: date, **statuses: int) -> None:
    for status, n in statuses.items():
        for _ in range(n):
            s.add(VoicebotCall(municipality_id=municipality_id, status=status, turn_count=3, started_at=_at(day),
                               handoff_reason="asked_for_person" if status == "handed_off" else None))
    s.flush()


def _compute(s, key: str, municipality_id: int, period: tuple[date, date] = DEC):
    return platform_service.compute_metric(s, source=metric_sources()[key][1], municipality_id=municipality_id,
                                           period_start=period[0], period_end=period[1])


def test_every_metric_source_is_named_in_both_languages_with_a_unit(database):
    sources = metric_sources()
    assert {"kt.voicebot.automation_rate", "kt.voicebot.calls_handled", "lguplus.merchants.installed"} <= set(sources)
    for key, (module, source) in sources.items():
        assert key.startswith(module.key + ".") and source.name_ko and source.name_en and source.unit
        assert source.description


def test_voicebot_sources_count_the_municipalitys_finished_calls_of_the_period(database):
    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        w = make_world(s)
        _calls(s, w.changwon.id, date(2026, 12, 2), completed=3, handed_off=1, active=2)
        _calls(s, w.changwon.id, date(2026, 11, 30), completed=0, handed_off=5)  # the month before
        _calls(s, w.ulsan.id, date(2026, 12, 2), handed_off=4)  # another municipality
        assert _compute(s, "kt.voicebot.automation_rate", w.changwon.id) == 75.0  # 3 of 4 finished
        assert _compute(s, "kt.voicebot.calls_handled", w.changwon.id) == 3
        assert _compute(s, "kt.voicebot.automation_rate", w.changwon.id, (date(2026, 11, 1), date(2026, 11, 30))) == 0
        assert _compute(s, "kt.voicebot.automation_rate", w.ulsan.id) == 0
        assert _compute(s, "kt.voicebot.automation_rate", w.gyeongnam.id) == 75.0  # the province reaches Changwon
        assert _compute(s, "kt.voicebot.automation_rate", w.ulsan.id, (date(2026, 10, 1), date(2026, 10, 31))) is None


def _merchants(s, municipality_id: int, installs: list[tuple[str, date | None]]) -> None:
    catalogue = merchants_service.ensure_catalogue(s, municipality_id=municipality_id)
    solution = next(iter(catalogue.values()))
    for i, (state, installed) in enumerate(installs):
        m = MerchantStore(municipality_id=municipality_id, brn=f"{municipality_id:03d}{i:07d}", name=f"가게 {i}",
                          dong_code="4812000000", dong_name="동", category="음식점")
        s.add(m)
        s.flush()
        s.add(Application(municipality_id=municipality_id, merchant_id=m.id, solution_id=solution.id, year=2026,
                          requested_subsidy_krw=100_000, state=state, installed_date=installed))
    s.flush()


def test_merchants_installed_counts_installations_by_the_periods_last_day(database):
    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        w = make_world(s)
        _merchants(s, w.changwon.id, [("installed", date(2026, 10, 5)), ("active", date(2026, 11, 20)),
                                      ("active", date(2026, 12, 1)), ("cancelled", date(2026, 9, 1)),
                                      ("approved", None)])
        _merchants(s, w.ulsan.id, [("active", date(2026, 10, 1))])
        # Installed, active, and cancelled after installation count; an approved one not yet installed does not.
        assert _compute(s, "lguplus.merchants.installed", w.changwon.id) == 4
        assert _compute(s, "lguplus.merchants.installed", w.changwon.id, (date(2026, 11, 1), date(2026, 11, 30))) == 3
        assert _compute(s, "lguplus.merchants.installed", w.changwon.id, (date(2026, 8, 1), date(2026, 8, 31))) == 0
        assert _compute(s, "lguplus.merchants.installed", w.ulsan.id) == 1
        assert merchants_service.installed_merchants(s) == 5  # the caller's reach: every municipality


def test_worknet_counts_distinct_users_signed_in_successfully_in_the_period(database):
    from app.kt.worknet.models import AccessEvent

    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        w = make_world(s)
        for i, (muni, user, result, day) in enumerate([
                (w.changwon, "kim", "success", date(2026, 12, 1)), (w.changwon, "kim", "success", date(2026, 12, 2)),
                (w.changwon, "lee", "success", date(2026, 12, 3)), (w.changwon, "park", "failure", date(2026, 12, 2)),
                (w.changwon, "choi", "success", date(2026, 11, 30)), (w.ulsan, "jung", "success", date(2026, 12, 2))]):
            s.add(AccessEvent(municipality_id=muni.id, client_id=f"e{i}", occurred_at=_at(day), username=user,
                              result=result))
        s.flush()
        assert _compute(s, "kt.worknet.connected_users", w.changwon.id) == 2  # kim and lee; park failed
        assert _compute(s, "kt.worknet.connected_users", w.changwon.id, (date(2026, 11, 1), date(2026, 11, 30))) == 1
        assert _compute(s, "kt.worknet.connected_users", w.ulsan.id) == 1


def test_robots_count_tasks_finished_as_completed_in_the_period(database):
    from app.kt.robots.models import RobotSite, RobotTask

    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        w = make_world(s)
        sites = {}
        for muni in (w.changwon, w.ulsan):
            sites[muni.id] = RobotSite(municipality_id=muni.id, code=f"s{muni.id}", name="민원실", map_id="m",
                                       map_width_m=10, map_height_m=10)
            s.add(sites[muni.id])
        s.flush()
        for muni, status, day in [(w.changwon, "completed", date(2026, 12, 1)), (w.changwon, "completed",
                                                                                 date(2026, 12, 2)),
                                  (w.changwon, "failed", date(2026, 12, 2)), (w.changwon, "completed",
                                                                              date(2026, 11, 29)),
                                  (w.ulsan, "completed", date(2026, 12, 2))]:
            s.add(RobotTask(municipality_id=muni.id, site_id=sites[muni.id].id, kind="guide", status=status,
                            waypoints=[], finished_at=_at(day)))
        s.add(RobotTask(municipality_id=w.changwon.id, site_id=sites[w.changwon.id].id, kind="guide", status="queued",
                        waypoints=[]))
        s.flush()
        assert _compute(s, "kt.robots.tasks_completed", w.changwon.id) == 2
        assert _compute(s, "kt.robots.tasks_completed", w.changwon.id, (date(2026, 11, 1), date(2026, 11, 30))) == 1
        assert _compute(s, "kt.robots.tasks_completed", w.ulsan.id) == 1
        assert _compute(s, "kt.robots.utilisation", w.changwon.id) is None  # no robot was online


def test_tdeal_counts_the_merchants_of_the_campaign_running_in_the_period(database):
    from app.skt.tdeal.models import TdealCampaign, TdealCampaignMerchant, TdealMerchant

    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        w = make_world(s)
        campaign = TdealCampaign(municipality_id=w.gyeongnam.id, name="경남 세일", start_date=date(2026, 11, 15),
                                 end_date=date(2026, 12, 20))
        s.add(campaign)
        s.flush()
        for i, muni in enumerate([w.changwon, w.changwon, w.gyeongnam]):  # merchants of the province's cities too
            m = TdealMerchant(municipality_id=muni.id, brn=f"12345678{i:02d}", name=f"상점 {i}", category="식품")
            s.add(m)
            s.flush()
            s.add(TdealCampaignMerchant(municipality_id=muni.id, campaign_id=campaign.id, merchant_id=m.id))
        s.flush()
        assert _compute(s, "skt.tdeal.participants", w.gyeongnam.id) == 3
        assert _compute(s, "skt.tdeal.campaign_sales", w.gyeongnam.id) == 0  # nothing sold yet
        assert _compute(s, "skt.tdeal.participants", w.gyeongnam.id, (date(2026, 10, 1), date(2026, 10, 31))) is None
        assert _compute(s, "skt.tdeal.participants", w.ulsan.id) is None  # no campaign of Ulsan's


def test_citydata_counts_the_municipalitys_own_festivals_begun_in_the_period(database):
    from app.lguplus.citydata.models import CitydataFestival

    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        w = make_world(s)
        assert _compute(s, "lguplus.citydata.festivals_held", w.changwon.id) is None  # no festival of its own yet
        for name, host, start in [("창원 가고파 국화축제", w.changwon.code, date(2026, 12, 3)),
                                  ("진해 별빛축제", w.changwon.code, date(2026, 11, 28)),  # began in November
                                  ("울산 고래축제", w.ulsan.code, date(2026, 12, 10))]:  # a neighbour's, for comparison
            s.add(CitydataFestival(municipality_id=w.changwon.id, name=name, host_code=host, start_date=start,
                                   end_date=start + timedelta(days=3)))
        s.flush()
        held = "lguplus.citydata.festivals_held"
        assert _compute(s, held, w.changwon.id) == 1
        assert _compute(s, held, w.changwon.id, (date(2026, 11, 1), date(2026, 11, 30))) == 1
        assert _compute(s, held, w.changwon.id, (date(2026, 10, 1), date(2026, 10, 31))) == 0
        assert _compute(s, held, w.ulsan.id) is None


def test_isolation_counts_older_attendees_of_the_education_sessions_held_in_the_period(database):
    from app.skt.isolation import service as isolation_service
    from app.skt.isolation.schemas import EducationSessionIn

    key = "skt.isolation.education_attendees"
    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        w = make_world(s)
        for code, muni in (("4812151000", w.changwon), ("4812152000", w.changwon), ("3111051000", w.ulsan)):
            isolation_service.import_dongs(s, rows=[{"code": code, "name": code, "municipality_code": muni.code}])
        assert _compute(s, key, w.changwon.id) is None  # no session recorded at all: no figure, not zero
        for dong, held, older, total in [("4812151000", date(2026, 12, 1), 12, 15),
                                         ("4812152000", date(2026, 12, 3), 7, 7),
                                         ("4812151000", date(2026, 11, 30), 20, 22),  # the month before
                                         ("3111051000", date(2026, 12, 2), 9, 9)]:  # another municipality
            isolation_service.record_education_session(s, data=EducationSessionIn(
                dong_code=dong, held_date=held, title="스마트폰 기초 교실", attendees_65plus=older,
                attendees_total=total))
        assert _compute(s, key, w.changwon.id) == 19
        assert _compute(s, key, w.changwon.id, (date(2026, 11, 1), date(2026, 11, 30))) == 20
        assert _compute(s, key, w.changwon.id, (date(2026, 10, 1), date(2026, 10, 31))) == 0  # sessions, none then
        assert _compute(s, key, w.ulsan.id) == 9
        assert _compute(s, key, w.gyeongnam.id) == 19  # the province reaches 창원시
        source = metric_sources()[key][1]
        assert (source.name_ko, source.unit, source.stats_route) == ("디지털 교육 참여 어르신", "명",
                                                                     "isolation_education")


def test_isolation_education_page_shows_the_sources_figure_for_the_kpis_period(database, client, world):
    from app.skt.isolation import service as isolation_service
    from app.skt.isolation.schemas import EducationSessionIn

    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        isolation_service.import_dongs(s, rows=[{"code": "4812151000", "name": "의창동",
                                                 "municipality_code": "4812000000"}])
        for held, older in ((date(2026, 12, 1), 12), (date(2026, 11, 30), 20)):
            isolation_service.record_education_session(s, data=EducationSessionIn(
                dong_code="4812151000", held_date=held, title="교실", attendees_65plus=older, attendees_total=older))
    web_login(client, "cw.viewer")
    html = client.get("/skt/isolation/education", params={"since": "2026-12-01", "until": "2026-12-31"}).text
    assert re.search(r'data-metric="skt.isolation.education_attendees">12\xa0명<', html)


def _program(s, municipality_id: int, module: str) -> Program:
    program = Program(title=f"{module} 사업", module=module, status="active", municipality_id=municipality_id)
    s.add(program)
    s.flush()
    return program


def test_a_bound_kpi_is_computed_at_once_and_refuses_typed_values(database):
    from app.core.errors import InvalidInput
    from app.platform.schemas import KpiValueIn

    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        w = make_world(s)
        _calls(s, w.changwon.id, date(2026, 12, 2), completed=1, handed_off=1)
        program = _program(s, w.changwon.id, "kt.voicebot")
        kpi = platform_service.add_kpi(s, program=program, data=KpiIn(
            name="자동 처리율", target=70, source_key="kt.voicebot.automation_rate"))
        assert kpi.unit == "%" and [(r.period_start, r.value) for r in kpi.readings] == [(DEC[0], 50.0)]
        assert platform_service.kpi_progress(kpi) == (50.0, 50 / 70)
        with pytest.raises(InvalidInput):
            platform_service.record_kpi_value(s, kpi=kpi, data=KpiValueIn(measured_date=DEC[0], value=61))
        with pytest.raises(InvalidInput):
            platform_service.add_kpi(s, program=program, data=KpiIn(name="x", target=1, source_key="kt.nothing.here"))
        platform_service.update_kpi(s, kpi=kpi, data=KpiUpdate(source_key=None))  # typed by hand again
        assert kpi.source_key is None and platform_service.kpi_progress(kpi) == (None, None)


def test_the_worker_duty_refreshes_bound_kpis_and_keeps_a_value_per_month(database, job_queue):
    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        w = make_world(s)
        _calls(s, w.changwon.id, date(2026, 11, 10), completed=1, handed_off=3)
        _calls(s, w.changwon.id, date(2026, 12, 2), completed=1, handed_off=1)
        program = _program(s, w.changwon.id, "kt.voicebot")
        bound = platform_service.add_kpi(s, program=program, data=KpiIn(
            name="자동 처리율", target=70, source_key="kt.voicebot.automation_rate")).id
        typed = platform_service.add_kpi(s, program=program, data=KpiIn(name="만족도", unit="점", target=5)).id
        first = s.scalar(select(KpiReading.computed_at).where(KpiReading.kpi_id == bound))
        _calls(s, w.changwon.id, date(2026, 12, 3), completed=2)  # after the KPI was bound
    later = utcnow() + timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        assert run_duty_now(job_queue, "platform.kpis.refresh")
    with database.unit_of_work(principal=SYSTEM) as s:
        readings = s.execute(select(KpiReading.period_start, KpiReading.period_end, KpiReading.value,
                                    KpiReading.computed_at).where(KpiReading.kpi_id == bound)
                             .order_by(KpiReading.period_start)).all()
        assert [(r.period_start, r.period_end, r.value) for r in readings] == [
            (date(2026, 11, 1), date(2026, 11, 30), 25.0), (DEC[0], DEC[1], 75.0)]
        assert all(r.computed_at > first for r in readings)
        # One audit entry per refresh that changed a KPI's values, by the worker.
        from app.platform.models import AuditLog

        entries = s.execute(select(AuditLog.actor, AuditLog.after).where(
            AuditLog.object_type == "kpi", AuditLog.object_id == str(bound), AuditLog.action == "computed")
            .order_by(AuditLog.id)).all()
        assert [e.after["values"] for e in entries] == [{"2026-12": 50.0}, {"2026-11": 25.0, "2026-12": 75.0}]
        assert entries[-1].actor.startswith("system:worker")
        assert not s.scalar(select(KpiReading.id).where(KpiReading.kpi_id == typed))
        assert s.get(Kpi, typed).source_key is None


# --- the same figure on every page ----------------------------------------------------------------------

def _figure(html: str, kpi_id: int) -> str:
    found = re.search(rf'class="kpi-figure nowrap" data-kpi="{kpi_id}">([^<]+)<', html)
    assert found, f"KPI {kpi_id} not shown"
    return found.group(1)


def _source_link(html: str, key: str) -> str:
    found = re.search(rf'data-source-key="{re.escape(key)}">[^<]*<a href="([^"]+)"', html)
    assert found, f"no source link for {key}"
    return found.group(1).replace("&amp;", "&")


AGREEMENT = [
    ("icheon.staff", "에이센 클라우드 보이스봇 민원 상담", "자동 처리율", "kt.voicebot.automation_rate"),
    ("seogu.staff", "서구 소상공인 디지털 전환", "솔루션 도입 매장", "lguplus.merchants.installed"),
]
# Every other KPI the demo binds: the module's own page shows the same figure too.
AGREEMENT_MORE = [
    ("icheon.staff", "에이센 클라우드 보이스봇 민원 상담", "보이스봇 처리 전화", "kt.voicebot.calls_handled"),
    ("icheon.staff", "이천시 CCTV AI 영상분석", "AI 탐지 건수", "kt.cctv.incidents"),
    ("ulsan.staff", "울산 CCTV AI 영상분석 관제", "오탐률", "kt.cctv.false_alarm_rate"),
    ("chungbuk.staff", "충북도청 AI 로봇플랫폼", "로봇 작업 완료", "kt.robots.tasks_completed"),
    ("chungbuk.staff", "충북도청 AI 로봇플랫폼", "로봇 가동률", "kt.robots.utilisation"),
    ("geoje.staff", "5G 업무망", "원격 접속 공무원", "kt.worknet.connected_users"),
    ("gyeongbuk.staff", "경북세일페스타 티딜 AI 큐레이션", "입점 소상공인", "skt.tdeal.participants"),
    ("gyeongbuk.staff", "경북세일페스타 티딜 AI 큐레이션", "기획전 매출", "skt.tdeal.campaign_sales"),
    ("changwon.staff", "어르신 정보격차·고립 분석", "고립 어르신 비율", "skt.isolation.isolated_share"),
    ("changwon.staff", "어르신 정보격차·고립 분석", "정보교육 수강 어르신", "skt.isolation.education_attendees"),
]


def _module_figure(client, link: str, key: str) -> str:
    page = client.get(link)
    assert page.status_code == 200
    html = page.text
    if key.startswith("skt.tdeal."):  # the campaigns list links each campaign's page, which shows the figures
        campaign = re.search(r'href="(/skt/tdeal/campaigns/\d+)"', html)
        html = client.get(campaign.group(1)).text
    extra = ' data-period="2026-12"' if key == "skt.isolation.isolated_share" else ""  # the criteria page's trend
    shown = re.search(rf'data-metric="{re.escape(key)}"{extra}>([^<]+)<', html)
    assert shown, f"{key} not on {link}"
    return shown.group(1)


@pytest.mark.parametrize(("username", "program_title", "kpi_name", "key"), AGREEMENT + AGREEMENT_MORE)
def test_home_program_page_and_module_statistics_show_the_same_figure(demo_loaded, client, username, program_title,
                                                                       kpi_name, key):
    from app.platform.demo import DEMO_PASSWORD

    with demo_loaded.unit_of_work(principal=SYSTEM) as s:
        kpi = s.scalar(select(Kpi).join(Program).where(Program.title == program_title, Kpi.name == kpi_name))
        assert kpi.source_key == key
        kpi_id, program_id, municipality_id = kpi.id, kpi.program_id, kpi.municipality_id
        reading = platform_service.current_reading(kpi)
        assert reading.period_start == DEC[0] and reading.value is not None
        computed = _compute(s, key, municipality_id)
        assert computed == reading.value
    web_login(client, username, DEMO_PASSWORD)
    page = client.get(f"/programs/{program_id}").text
    figure = _figure(page, kpi_id)
    home = client.get("/").text
    # The home dashboard lists the eight KPIs furthest from their targets: those of AGREEMENT among them.
    if f'data-kpi="{kpi_id}"' in home or (username, program_title, kpi_name, key) in AGREEMENT:
        assert _figure(home, kpi_id) == figure
        assert _source_link(home, key) == _source_link(page, key)
    digits = re.sub(r"[^\d.]", "", figure)
    assert digits and abs(float(digits) - computed) <= 0.05 + 1e-9
    assert "출처" in page and "2026-12-01 ~ 2026-12-31" in page
    link = _source_link(page, key)
    assert "2026-12-01" in link and "2026-12-31" in link
    assert _module_figure(client, link, key) == figure


def test_staff_bind_a_kpi_from_the_dropdown_or_type_by_hand(database, client):
    from app.platform.models import User

    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        w = make_world(s)
        _merchants(s, w.changwon.id, [("active", date(2026, 11, 2)), ("installed", date(2026, 12, 1))])
        program_id = _program(s, w.changwon.id, "lguplus.merchants").id
        assert s.scalar(select(User.id).where(User.username == "cw.staff"))
    token = web_login(client, "cw.staff")
    page = client.get(f"/programs/{program_id}").text
    assert 'value="lguplus.merchants.installed"' in page and "직접 입력" in page
    r = client.post(f"/programs/{program_id}/kpis", data={
        "csrf_token": token, "name": "솔루션 도입 매장", "target": "300", "source_key": "lguplus.merchants.installed"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    r = client.post(f"/programs/{program_id}/kpis", data={
        "csrf_token": token, "name": "만족도", "unit": "점", "target": "5", "source_key": ""}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get(f"/programs/{program_id}").text
    with database.unit_of_work(principal=SYSTEM) as s:
        bound, typed = s.scalars(select(Kpi).where(Kpi.program_id == program_id).order_by(Kpi.id)).all()
        assert bound.source_key == "lguplus.merchants.installed" and bound.unit == "곳" and typed.source_key is None
        bound_id, typed_id = bound.id, typed.id
    assert _figure(page, bound_id) == "2\u00a0곳"
    assert "직접 입력" in page.split(f'data-kpi="{typed_id}"')[1]
    r = client.post(f"/programs/{program_id}/kpis", data={
        "csrf_token": token, "name": "엉뚱한 출처", "target": "5", "source_key": "kt.nothing.here"})
    assert r.status_code == 400 and "사용 중인 모듈이 없습니다" in r.text
    exported = client.get(f"/programs/{program_id}/kpis.csv").text.splitlines()
    assert exported[0].lstrip("\ufeff").split(",")[-2:] == ["source", "computed_at"]
    assert [line.split(",")[:6] + line.split(",")[7:8] for line in exported[1:]] == [
        ["솔루션 도입 매장", "곳", "0.0", "300.0", "2026-12-01", "2.0", "lguplus.merchants.installed"]]
    r = client.post(f"/programs/{program_id}/kpis/{bound_id}/source", data={"csrf_token": token, "source_key": ""},
                    follow_redirects=False)
    assert r.status_code == 303
    with database.unit_of_work(principal=SYSTEM) as s:
        assert s.get(Kpi, bound_id).source_key is None
    assert csrf_of(client, f"/programs/{program_id}")
