"""HEAD is answered like the GET of the same URL, without the body: pages, the API, streams, probes."""

from __future__ import annotations

from tests.conftest import api_headers, web_login


def test_head_answers_what_get_would_without_a_body(client, world):
    for path in ("/login", "/livez", "/docs", "/openapi.json", "/open311/v2/discovery.json"):
        get, head = client.get(path), client.head(path)
        assert head.status_code == get.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"], path
    anonymous = client.head("/", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")  # as GET answers
    assert client.head("/").status_code == 200  # following the redirect, as a monitor does
    web_login(client, "cw.staff")
    get, head = client.get("/"), client.head("/")
    assert head.status_code == 200 and head.content == b""
    assert head.headers.get("content-length") == get.headers.get("content-length")
    assert client.head("/kt/voicebot/faq").status_code == 200
    assert client.head("/kt/voicebot/calls/999999").status_code == 404


def test_head_on_the_api_and_on_a_stream_ends(client, world):
    h = api_headers(client, "cw.staff")
    assert client.head("/api/v1/kt/voicebot/faq", headers=h).status_code == 200
    assert client.head("/api/v1/kt/voicebot/faq").status_code == 401
    web_login(client, "cw.staff")
    stream = client.head("/kt/voicebot/calls/stream")  # a server-sent event stream: headers, then done
    assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
    assert stream.content == b""
