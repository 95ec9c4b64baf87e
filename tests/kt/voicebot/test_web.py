"""Staff pages: calls, transcripts, the request queue, fee editor, statistics and the caller console."""

import re

from tests.conftest import web_login

WEB = "/kt/voicebot"


def test_staff_play_a_call_in_the_console_and_work_the_resulting_request(client, vb_world):
    csrf = web_login(client, "cw.staff")
    r = client.post(f"{WEB}/console", data={"csrf_token": csrf, "municipality_code": "4812000000",
                                            "caller_number": "010-1234-5678"}, follow_redirects=False)
    assert r.status_code == 303
    console = r.headers["location"]
    for text in ["불법 주차 신고요", "창전동 이마트 앞", "12가 3456", "방금이요", "네"]:
        r = client.post(console, data={"csrf_token": csrf, "text": text})
        assert r.status_code == 200
    assert "단속 요청을 보냈습니다" in r.text and "12가**56" in r.text
    request_id = int(re.search(r"/kt/voicebot/requests/(\d+)", r.text).group(1))
    r = client.post(console, data={"csrf_token": csrf, "text": "여보세요"})
    assert r.status_code == 400  # the call has ended: said clearly, nothing stored

    for page, korean in [("/calls", "통화"), (f"/requests/{request_id}", "단속"), ("/requests", "민원"),
                         ("/stats", "자동 처리율"), ("/fees", "수수료"), ("/console", "통화 시작")]:
        r = client.get(WEB + page)
        assert r.status_code == 200 and korean in r.text, page
    assert "자동 처리율" in client.get("/").text  # the home widget
    r = client.post(f"{WEB}/requests/{request_id}/status", data={"csrf_token": csrf, "status": "bogus"})
    assert r.status_code == 400
    r = client.post(f"{WEB}/requests/{request_id}/status", data={"csrf_token": csrf, "status": "in_progress",
                                                               "note": "현장 출동"}, follow_redirects=False)
    assert r.status_code == 303
    r = client.post(f"{WEB}/requests/{request_id}/notes", data={"csrf_token": csrf, "text": "견인 완료"},
                    follow_redirects=True)
    assert "현장 출동" in r.text and "견인 완료" in r.text
    csv = client.get(f"{WEB}/stats.csv")
    assert csv.status_code == 200 and "automation_rate" in csv.text
    assert client.get(f"{WEB}/calls?lang=en").text.count("Calls in progress") == 1


def test_fee_editor_validates_and_viewers_cannot_write(client, vb_world):
    csrf = web_login(client, "cw.staff")
    page = client.get(f"{WEB}/fees").text
    fee_id = re.search(r'/kt/voicebot/fees/(\d+)"', page).group(1)
    r = client.post(f"{WEB}/fees", data={"csrf_token": csrf, "name": "", "fee_krw": "abc"})
    assert r.status_code == 400 and "field-error" in r.text
    r = client.post(f"{WEB}/fees", data={"csrf_token": csrf, "name": "흔들의자", "fee_krw": "4000"},
                    follow_redirects=True)
    assert r.status_code == 200 and "흔들의자" in r.text
    r = client.post(f"{WEB}/fees/{fee_id}", data={"csrf_token": csrf, "action": "save", "name": "소파",
                                                 "size": "1인용", "fee_krw": "-5"})
    assert r.status_code == 400
    client.post("/logout", data={"csrf_token": csrf})
    csrf = web_login(client, "cw.viewer")
    r = client.post(f"{WEB}/fees", data={"csrf_token": csrf, "name": "탁자", "fee_krw": "1000"})
    assert r.status_code == 403
    assert client.get(f"{WEB}/fees").status_code == 200
    csrf = web_login(client, "us.staff")
    assert client.post(f"{WEB}/fees/{fee_id}", data={"csrf_token": csrf, "action": "delete"}).status_code == 404


def test_the_modules_own_address_leads_to_its_calls(client, vb_world):
    web_login(client, "cw.staff")
    r = client.get(f"{WEB}/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == f"{WEB}/calls"
    assert client.get(f"{WEB}/").status_code == 200
