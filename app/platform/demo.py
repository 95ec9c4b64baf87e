"""Demo data: the municipalities, partners and programs of the source article, and users of every role."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core import jobs, security
from app.core.db import Database
from app.core.i18n import today_seoul
from app.core.manifest import installed, metric_sources
from app.core.tenancy import SYSTEM, bind_principal
from app.platform import service as platform_service
from app.platform.models import Kpi, KpiValue, Milestone, Municipality, MunicipalityModule, Partner, Program, User

DEMO_PASSWORD = "dxhub-demo-2026"

# The 17 provinces and metropolitan cities (광역자치단체), with their current 10-digit codes.
PROVINCES = [
    ("1100000000", "서울특별시", "Seoul"),
    ("2600000000", "부산광역시", "Busan"),
    ("2700000000", "대구광역시", "Daegu"),
    ("2800000000", "인천광역시", "Incheon"),
    ("2900000000", "광주광역시", "Gwangju"),
    ("3000000000", "대전광역시", "Daejeon"),
    ("3100000000", "울산광역시", "Ulsan"),
    ("3600000000", "세종특별자치시", "Sejong"),
    ("4100000000", "경기도", "Gyeonggi-do"),
    ("4300000000", "충청북도", "Chungcheongbuk-do"),
    ("4400000000", "충청남도", "Chungcheongnam-do"),
    ("4600000000", "전라남도", "Jeollanam-do"),
    ("4700000000", "경상북도", "Gyeongsangbuk-do"),
    ("4800000000", "경상남도", "Gyeongsangnam-do"),
    ("5000000000", "제주특별자치도", "Jeju"),
    ("5100000000", "강원특별자치도", "Gangwon"),
    ("5200000000", "전북특별자치도", "Jeonbuk"),
]

# Basic governments (기초자치단체) named in the article, and Gyeongbuk's cities of the Sale Festa.
CITIES = [
    ("4812000000", "창원시", "Changwon", "4800000000"),
    ("4831000000", "거제시", "Geoje", "4800000000"),
    ("4311000000", "청주시", "Cheongju", "4300000000"),
    ("4167000000", "여주시", "Yeoju", "4100000000"),
    ("4150000000", "이천시", "Icheon", "4100000000"),
    ("2914000000", "서구", "Seo-gu, Gwangju", "2900000000"),
    ("4679000000", "화순군", "Hwasun", "4600000000"),
    ("4711000000", "포항시", "Pohang", "4700000000"),
    ("4713000000", "경주시", "Gyeongju", "4700000000"),
    ("4717000000", "안동시", "Andong", "4700000000"),
    ("4719000000", "구미시", "Gumi", "4700000000"),
]

PARTNERS = [
    ("skt", "SK텔레콤", "SK Telecom", "telecom"),
    ("kt", "KT", "KT", "telecom"),
    ("lguplus", "LG유플러스", "LG Uplus", "telecom"),
    ("kostat", "통계청", "Statistics Korea", "public_agency"),
    ("nia", "한국지능정보사회진흥원", "National Information Society Agency", "public_agency"),
    ("mois", "행정안전부", "Ministry of the Interior and Safety", "public_agency"),
    ("nicegeniedata", "나이스지니데이타", "NICE GenieData", "data_company"),
    ("tbridge", "티브릿지코퍼레이션", "T-Bridge Corporation", "data_company"),
    ("kimyujin", "김유진아카데미", "Kim Yujin Academy", "consultancy"),
]

# title, description, module, lead municipality, partners, status, start, end, budget, MOU date
PROGRAMS = [
    ("어르신 정보격차·고립 분석",
     "통신 데이터로 65세 이상 어르신의 스마트폰 이용, 메신저·SNS 이용, 외출 빈도를 분석해 "
     "고립의 기준을 세우고 창원시 정보 교육 프로그램의 대상을 정한다. 창원미래포럼에서 공개.",
     "skt.isolation", "4812000000", ["skt", "kostat"], "active", "2026-03-01", "2027-02-28", 180_000_000,
     "2026-02-15"),
    ("경북세일페스타 티딜 AI 큐레이션",
     "티딜 내 경북세일페스타 기획전: 경북 소상공인 약 500곳 입점, 특별 할인 쿠폰, "
     "가입자 프로필 기반 상품 추천으로 소상공인 매출 증진.",
     "skt.tdeal", "4700000000", ["skt"], "active", "2026-05-01", "2026-12-31", 350_000_000, "2026-04-10"),
    ("5G 업무망",
     "5G 에그로 사무실 밖에서도 청사와 같은 네트워크: 고정 IP로 같은 보안 정책, 설치 없이 사용자 인증만으로 접속.",
     "kt.worknet", "4831000000", ["kt", "nia"], "active", "2026-01-15", "2027-01-14", 120_000_000, "2025-12-20"),
    ("에이센 클라우드 보이스봇 민원 상담",
     "야간 당직민원, 대형폐기물 접수·처리, 주정차 단속, 지방세 환급 등 단순·반복 상담을 "
     "보이스봇이 처리해 공무원이 심층 업무에 집중.",
     "kt.voicebot", "4150000000", ["kt"], "active", "2026-02-01", "2027-01-31", 240_000_000, "2026-01-20"),
    ("거제시 보이스봇 민원 상담",
     "대형폐기물 접수와 야간 당직민원을 보이스봇이 받아 민원 접수로 넘긴다 (이천시 사례 확산).",
     "kt.voicebot", "4831000000", ["kt"], "active", "2026-06-01", "2027-05-31", 90_000_000, "2026-05-20"),
    ("이천시 5G 업무망", "현장 부서(민원지적·안전총괄·도로·환경보호)에 5G 에그 보급, 청사와 같은 보안 정책.",
     "kt.worknet", "4150000000", ["kt"], "active", "2026-03-01", "2027-02-28", 45_000_000, "2026-02-10"),
    ("충북도청 AI 로봇플랫폼", "충북도청 민원실과 청남대의 안내·순찰·돌봄 로봇을 한 곳에서 관제·운영.",
     "kt.robots", "4300000000", ["kt"], "active", "2026-04-01", "2027-03-31", 410_000_000, "2026-03-05"),
    ("울산 CCTV AI 영상분석 관제", "관제센터 CCTV에 AI를 적용해 화재, 연기, 쓰러짐, 불법주정차 등을 탐지.",
     "kt.cctv", "3100000000", ["kt"], "active", "2026-01-01", "2026-12-31", 820_000_000, "2025-11-30"),
    ("여주시 CCTV AI 영상분석", "여주시 CCTV 통합관제센터의 AI 영상분석 도입.",
     "kt.cctv", "4167000000", ["kt"], "planned", "2027-01-01", "2027-12-31", 260_000_000, None),
    ("이천시 CCTV AI 영상분석", "이천시 CCTV 통합관제센터의 AI 영상분석.",
     "kt.cctv", "4150000000", ["kt"], "active", "2026-06-01", "2027-05-31", 300_000_000, "2026-05-12"),
    ("서구 소상공인 디지털 전환", "광주광역시 서구·LG유플러스·김유진아카데미 업무협약: U+AI전화, U+AI예약, U+웨이팅, "
     "U+오더, U+포스, U+서빙로봇 보급과 컨설팅, 구청의 행정 지원.",
     "lguplus.merchants", "2914000000", ["lguplus", "kimyujin"], "active", "2026-07-01", "2027-06-30",
     500_000_000, "2026-06-18"),
    ("화순군 스마트시티 데이터 컨설팅",
     "통신 기반 인구(LG유플러스), 소비·물품구매(나이스지니데이타), 주민 설문(티브릿지코퍼레이션) "
     "데이터로 관광·문화·교통 컨설팅: 축제 시기, 전통시장 활성화 품목.",
     "lguplus.citydata", "4679000000", ["lguplus", "nicegeniedata", "tbridge"], "active", "2026-05-01",
     "2027-04-30", 270_000_000, "2026-04-22"),
]

# Per program title: KPIs (name, unit, baseline, target, monthly values) and milestones (title, due offset)
KPIS = {
    # 정보교육 수강 어르신: attendees 65+ a month (bound below: the isolation module's education sessions, about
    # 25 a month in its demo, against 40 once the program is reworked); the typed values serve without it.
    "어르신 정보격차·고립 분석": [("정보교육 수강 어르신", "명", 0, 40, [9, 20, 26, 25]),
                         ("고립 어르신 비율", "%", 18.0, 14.0, [18.0, 17.4, 16.9, 16.5])],
    "경북세일페스타 티딜 AI 큐레이션": [("입점 소상공인", "곳", 0, 500, [120, 310, 460, 512]),
                             ("기획전 매출", "원", 0, 1_500_000_000,
                              [180_000_000, 520_000_000, 910_000_000, 1_230_000_000])],
    "5G 업무망": [("원격 접속 공무원", "명", 0, 400, [40, 130, 210, 260])],
    "에이센 클라우드 보이스봇 민원 상담": [("자동 처리율", "%", 0, 70, [35, 48, 56, 61]),
                              ("보이스봇 처리 전화", "건", 0, 2000, [400, 900, 1300])],
    "충북도청 AI 로봇플랫폼": [("로봇 가동률", "%", 60, 95, [72, 81, 86]),
                        ("로봇 작업 완료", "건", 0, 1000, [150, 320, 410])],
    "울산 CCTV AI 영상분석 관제": [("오탐률", "%", 35, 10, [30, 24, 19, 16]),
                          ("평균 확인 시간", "초", 180, 60, [150, 120, 95, 80])],
    "이천시 CCTV AI 영상분석": [("AI 탐지 건수", "건", 0, 3000, [800, 1400])],
    "서구 소상공인 디지털 전환": [("솔루션 도입 매장", "곳", 0, 300, [25, 70, 110]),
                        ("참여 매장 매출 증가율", "%", 0, 10, [1.5, 3.2, 4.1])],
    "화순군 스마트시티 데이터 컨설팅": [("컨설팅 과제 완료", "건", 0, 6, [1, 2, 3])],
}
# KPIs computed from a module's own figures (app.core.manifest.MetricSource), when the module is installed:
# their typed values above then give way to the module's computation, month by month.
KPI_SOURCES = {
    ("에이센 클라우드 보이스봇 민원 상담", "자동 처리율"): "kt.voicebot.automation_rate",
    ("에이센 클라우드 보이스봇 민원 상담", "보이스봇 처리 전화"): "kt.voicebot.calls_handled",
    ("서구 소상공인 디지털 전환", "솔루션 도입 매장"): "lguplus.merchants.installed",
    ("어르신 정보격차·고립 분석", "정보교육 수강 어르신"): "skt.isolation.education_attendees",
    ("어르신 정보격차·고립 분석", "고립 어르신 비율"): "skt.isolation.isolated_share",
    ("경북세일페스타 티딜 AI 큐레이션", "입점 소상공인"): "skt.tdeal.participants",
    ("경북세일페스타 티딜 AI 큐레이션", "기획전 매출"): "skt.tdeal.campaign_sales",
    ("5G 업무망", "원격 접속 공무원"): "kt.worknet.connected_users",
    ("충북도청 AI 로봇플랫폼", "로봇 가동률"): "kt.robots.utilisation",
    ("충북도청 AI 로봇플랫폼", "로봇 작업 완료"): "kt.robots.tasks_completed",
    ("울산 CCTV AI 영상분석 관제", "오탐률"): "kt.cctv.false_alarm_rate",
    ("이천시 CCTV AI 영상분석", "AI 탐지 건수"): "kt.cctv.incidents",
}
# How many months of history the demo computes for each bound KPI.
KPI_HISTORY_MONTHS = 6
MILESTONES = {
    "어르신 정보격차·고립 분석": [("창원미래포럼 분석 결과 공개", -150, True), ("정보교육 프로그램 개편", 20, False),
                         ("2차 분석 보고서", 120, False)],
    "경북세일페스타 티딜 AI 큐레이션": [("기획전 오픈", -200, True), ("하반기 쿠폰 정산", -5, False)],
    "5G 업무망": [("5G 에그 1차 보급", -90, True), ("보안 점검", 12, False)],
    "에이센 클라우드 보이스봇 민원 상담": [("야간 당직민원 개통", -120, True),
                              ("지방세 환급 시나리오 추가", 25, False)],
    "충북도청 AI 로봇플랫폼": [("청남대 안내로봇 연동", -30, True), ("순찰로봇 도입", 40, False)],
    "울산 CCTV AI 영상분석 관제": [("화재·연기 탐지 개통", -200, True), ("쓰러짐 탐지 고도화", 8, False)],
    "서구 소상공인 디지털 전환": [("업무협약 체결", -160, True), ("1차 지원 매장 선정", -20, True),
                        ("컨설팅 성과 보고회", 60, False)],
    "화순군 스마트시티 데이터 컨설팅": [("데이터 연계", -100, True), ("축제 시기 컨설팅 보고", 15, False)],
}

# Modules switched on by an administrator where a municipality has no program of its own: the cities whose
# merchants take part in 경상북도's Sale Festa (the T deal data of their merchants lives there).
SWITCHED_ON = [("4711000000", "skt.tdeal"), ("4713000000", "skt.tdeal"), ("4717000000", "skt.tdeal"),
               ("4719000000", "skt.tdeal")]

# username, role, municipality code (None for the platform admin), display name
USERS = [
    ("admin", "platform_admin", None, "플랫폼 관리자"),
    ("changwon.admin", "municipal_admin", "4812000000", "창원시 관리자"),
    ("changwon.staff", "staff", "4812000000", "창원시 담당자"),
    ("changwon.viewer", "viewer", "4812000000", "창원시 열람자"),
    ("gyeongbuk.admin", "municipal_admin", "4700000000", "경상북도 관리자"),
    ("gyeongbuk.staff", "staff", "4700000000", "경상북도 담당자"),
    ("gyeongbuk.viewer", "viewer", "4700000000", "경상북도 열람자"),
    ("ulsan.staff", "staff", "3100000000", "울산 관제센터"),
    ("icheon.staff", "staff", "4150000000", "이천시 담당자"),
    ("icheon.viewer", "viewer", "4150000000", "이천시 열람자"),
    ("chungbuk.staff", "staff", "4300000000", "충북도청 담당자"),
    ("chungbuk.viewer", "viewer", "4300000000", "충북도청 열람자"),
    ("geoje.staff", "staff", "4831000000", "거제시 담당자"),
    ("seogu.staff", "staff", "2914000000", "광주 서구 담당자"),
    ("seogu.viewer", "viewer", "2914000000", "광주 서구 열람자"),
    ("hwasun.staff", "staff", "4679000000", "화순군 담당자"),
    ("hwasun.viewer", "viewer", "4679000000", "화순군 열람자"),
]


def _month_start(today: date, months_ago: int) -> date:
    index = today.year * 12 + today.month - 1 - months_ago
    return date(index // 12, index % 12 + 1, 1)


def is_empty(db: Database) -> bool:
    with db.session(principal=SYSTEM) as session:
        return not session.scalar(select(func.count()).select_from(Municipality))


def load_platform(session: Session, *, today: date | None = None) -> None:
    today = today or today_seoul()
    by_code: dict[str, Municipality] = {}
    for code, ko, en in PROVINCES:
        by_code[code] = Municipality(code=code, name_ko=ko, name_en=en, level="metropolitan")
    session.add_all(by_code.values())
    session.flush()
    for code, ko, en, parent in CITIES:
        by_code[code] = Municipality(code=code, name_ko=ko, name_en=en, level="basic",
                                     parent_id=by_code[parent].id)
        session.add(by_code[code])
    partners = {code: Partner(code=code, name_ko=ko, name_en=en, kind=kind) for code, ko, en, kind in PARTNERS}
    session.add_all(partners.values())
    session.flush()

    modules = installed()
    for title, desc, module, muni, partner_codes, status, start, end, budget, mou in PROGRAMS:
        m = by_code[muni]
        program = Program(title=title, description=desc, module=module if module in modules else None,
                          status=status, municipality_id=m.id, start_date=date.fromisoformat(start),
                          end_date=date.fromisoformat(end), budget_krw=budget,
                          agreement_date=date.fromisoformat(mou) if mou else None,
                          partners=[partners[c] for c in partner_codes])
        session.add(program)
        session.flush()
        for name, unit, baseline, target, values in KPIS.get(title, []):
            source = metric_sources().get(KPI_SOURCES.get((title, name), ""))
            kpi = Kpi(program_id=program.id, municipality_id=m.id, name=name, unit=source[1].unit if source else unit,
                      baseline=baseline, target=target, source_key=source[1].key if source else None)
            session.add(kpi)
            session.flush()
            for i, value in enumerate(values if source is None else []):
                session.add(KpiValue(kpi_id=kpi.id, municipality_id=m.id, value=value,
                                     measured_date=_month_start(today, len(values) - 1 - i)))
        for ms_title, offset, done in MILESTONES.get(title, []):
            due = today + timedelta(days=offset)
            session.add(Milestone(program_id=program.id, municipality_id=m.id, title=ms_title, due_date=due,
                                  done_date=due if done else None))
    session.add_all(MunicipalityModule(municipality_id=by_code[code].id, module_key=module, enabled=True,
                                       switched_by="system:demo")
                    for code, module in SWITCHED_ON if module in modules)
    password_hash = security.hash_password(DEMO_PASSWORD)
    for username, role, code, name in USERS:
        session.add(User(username=username, role=role, display_name=name, password_hash=password_hash,
                         municipality_id=by_code[code].id if code else None))
    session.flush()


def load_all(db: Database) -> None:
    """The platform's demo data, then each module's, in one transaction."""
    with db.unit_of_work() as session:
        bind_principal(session, SYSTEM)
        load_platform(session)
        for manifest in installed().values():
            if manifest.load_demo is not None:
                manifest.load_demo(session)
        platform_service.refresh_bound_kpis(session, months=KPI_HISTORY_MONTHS)
        jobs.set_mark(session, "demo_data")  # the worker then keeps the demo alive (DXHUB_DEMO_SIMULATE)


def print_sign_ins() -> None:
    print(f"\nDemo sign-ins (password for all: {DEMO_PASSWORD}):")
    for username, role, _code, name in USERS:
        print(f"  {username:<18} {role:<16} {name}")
    print()
