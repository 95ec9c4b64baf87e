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
