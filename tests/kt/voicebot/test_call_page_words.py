"""The call pages speak people's words: dialogue steps and slots by their Korean labels, never keys, and
personal numbers stay masked."""

import re

from tests.conftest import web_login

WEB = "/kt/voicebot"


def test_call_page_shows_steps_and_slots_in_words_with_the_plate_masked(client, vb_world):
    csrf = web_login(client, "cw.staff")
    r = client.post(f"{WEB}/console", data={"csrf_token": csrf, "municipality_code": "4812000000",
                                            "caller_number": "010-1234-5678"}, follow_redirects=False)
    console = r.headers["location"]
    r = client.post(console, data={"csrf_token": csrf, "text": "불법 주차 신고요"})
    assert "묻는 중: 주소" in r.text and "collect:address" not in r.text
    for text in ["창전동 이마트 앞", "34나 7890", "방금이요"]:
        r = client.post(console, data={"csrf_token": csrf, "text": text})
    # the console's read-back step: words, and the plate masked
    assert "읽어 드리고 확인" in r.text and "차량번호(가림)" in r.text and "34나**90" in r.text
    assert "34나 7890</" not in r.text
    client.post(console, data={"csrf_token": csrf, "text": "네"})
    call_id = int(re.search(r"/console/(\d+)", console).group(1))

    page = client.get(f"{WEB}/calls/{call_id}")
    assert page.status_code == 200
    details = page.text.split("</ol>")[-1]  # past the transcript: the call's details and slots
    for words in ("콘솔", "주소", "창전동", "차량번호(가림)", "34나**90", "확인 시각"):
        assert words in details, words
    for key in ("plate_masked", "seen_at", "<code>", "34나 7890", "34나7890"):
        assert key not in details, key


def test_the_bots_read_back_is_stored_and_shown_with_the_plate_masked(client, vb_world, database):
    """The caller hears the plate in full; the transcript (stored, the call pages, the API) keeps it masked,
    including turns stored before read-backs were masked."""
    from sqlalchemy import select

    from app.core.tenancy import SYSTEM, bind_principal
    from app.kt.voicebot.models import VoicebotTurn
    from tests.conftest import api_headers

    csrf = web_login(client, "cw.staff")
    console = client.post(f"{WEB}/console", data={"csrf_token": csrf, "municipality_code": "4812000000",
                                                  "caller_number": "010-1234-5678"},
                          follow_redirects=False).headers["location"]
    for text in ["불법 주차 신고요", "창전동 이마트 앞", "34나 7890", "방금이요"]:
        client.post(console, data={"csrf_token": csrf, "text": text})
    call_id = int(re.search(r"/console/(\d+)", console).group(1))
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        bot = s.scalars(select(VoicebotTurn.text).where(VoicebotTurn.call_id == call_id,
                                                        VoicebotTurn.speaker == "bot")).all()
        read_back = next(t for t in bot if "불법 주정차로 신고할게요" in t)
        assert "34나**90" in read_back and "7890" not in read_back
        # a turn stored before the bot's words were masked
        s.add(VoicebotTurn(municipality_id=vb_world.changwon.id, call_id=call_id, seq=99, speaker="bot",
                           text="창전동에 세워진 34나7890 차량, 연락처 010-2345-6789로 알려 드릴게요."))

    shown = [client.get(console).text, client.get(f"{WEB}/calls/{call_id}").text,
             client.get(f"/api/v1/kt/voicebot/calls/{call_id}", headers=api_headers(client, "cw.staff")).text]
    for text in shown:
        assert "34나**90" in text and "010-****-6789" in text
        for raw in ("34나7890", "34나 7890", "2345-6789"):
            assert raw not in text, raw
