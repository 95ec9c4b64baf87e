"""The classifier and slot extraction on Korean as speech recognition gives it (no database)."""

from datetime import date

from app.kt.voicebot import classifier
from app.kt.voicebot.slots import find_address, find_amount, find_birth, find_plate, parse_when, says_recently

TODAY = date(2026, 11, 25)  # a Wednesday


def test_held_out_accuracy_reaches_ninety_percent():
    ev = classifier.evaluate()
    assert ev.accuracy >= 0.9, ev.errors
    assert len(ev.confusion) == len(classifier.INTENTS) == 7 and sum(map(sum, ev.confusion)) == ev.test_size
    assert 90 <= ev.test_lines < ev.test_size  # a quarter of the lines, each with its spoken variants


def test_near_duplicate_lines_stay_on_one_side_of_the_split():
    clusters = classifier.near_duplicate_clusters(classifier.load_examples())
    by_text = {e.text: i for i, cluster in enumerate(clusters) for e in cluster}
    assert by_text["상담원 연결 좀 해 주이소"] == by_text["상담원 연결 해 주이소 마"]
    assert by_text["불법주정차신고요"] == by_text["불볍 주차 신고요"]
    assert by_text["소파 버리려면 어떻게 해야 돼요"] != by_text["대형폐기물 버리려고 하는데요"]
    assert all(len({e.intent for e in cluster}) == 1 for cluster in clusters)


def test_classifier_copes_with_dialect_missing_spaces_and_stt_mistakes(intent_model):
    cases = {
        "쇼파 내삐릴라카는데예": "bulky_waste",
        "불법주차신고할께요": "illegal_parking",
        "가로등이 나가가 캄캄해예": "night_duty",
        "지방세 한급금 있능가요": "local_tax_refund",
        "아이고 사람 좀 바꿔 주소": "human_agent",
        "쓰레기 언제 버리능교 우리 동네는": "faq",
        "장롱 버리려고요": "bulky_waste",
    }
    for text, intent in cases.items():
        assert intent_model.predict(text).intent == intent, text


def test_relative_and_absolute_dates():
    assert parse_when("내일 오전에요", today=TODAY).day == date(2026, 11, 26)
    assert parse_when("모레", today=TODAY).day == date(2026, 11, 27)
    assert parse_when("다음 주 화요일", today=TODAY).day == date(2026, 12, 1)
    when = parse_when("3월 5일 오전", today=TODAY)
    assert when.day == date(2027, 3, 5) and when.part == "morning"
    assert parse_when("금요일 오후 3시", today=TODAY).hour == 15
    assert parse_when("2월 31일", today=TODAY).day is None


def test_plates_addresses_amounts_birth():
    assert find_plate("차 번호는 12가 3456이요") == ("12가3456", True)
    assert find_plate("123가4567") == ("123가4567", True)
    assert find_plate("12갸3456") == (None, True)  # not a plate syllable: ask again
    assert find_plate("소파 버려요") == (None, False)
    assert find_address("관고동 우성아파트 3동 402호 앞이요") == "관고동 우성아파트 3동 402호 앞"
    assert find_address("부발읍 아미리 55") == "부발읍 아미리 55"
    assert find_address("소파 버리려면 어떻게 해요") is None
    assert find_amount("만 오천 원") == 15000 and find_amount("3만 5천원") == 35000
    assert find_birth("850312") == "850312"
    # Birth dates as callers say them: in words, with the full year, digit by digit.
    for said in ("85년 3월 12일생이요", "1985년 3월 12일", "팔십오년 삼월 십이일", "팔오공삼일이요", "85.03.12"):
        assert find_birth(said) == "850312", said
    assert find_birth("85년 2월 30일") is None and find_birth("지방세 환급 조회요") is None
    assert find_address("중앙동 시청 앞 사거리요") == "중앙동 시청 앞"


def test_how_long_ago_a_car_was_seen():
    for said in ("한 30분 전부터요", "아까부터요", "두 시간째 서 있어요", "며칠째요", "밤새 서 있었어요"):
        assert says_recently(said), said
    assert not says_recently("예 보내 주세요") and not says_recently("충분히 기다렸어요")


def test_single_utterance_scoring_gives_the_pipeline_numbers(intent_model):
    texts = [e.text for e in classifier.load_examples()[::7]] + ["", "😀", "hello", "소파  버려요"]
    batch = intent_model.predict_many(texts)
    for text, expected in zip(texts, batch, strict=True):
        single = intent_model.predict(text)
        assert (single.intent, single.confidence) == (expected.intent, expected.confidence), text


def test_cli_trains_a_model_file_the_app_then_loads(trained_model_file, intent_model):
    path, printed = trained_model_file
    assert path.exists() and "Trained on" in printed and str(path) in printed
    assert intent_model is classifier.get_model()  # the app's model is the one loaded from that file
    assert intent_model.predict("불법 주차 신고요").intent == "illegal_parking"
    from app.kt.voicebot.cli import format_evaluation

    text = format_evaluation(classifier.Evaluation(accuracy=0.95, labels=list(classifier.INTENTS),
                                                   confusion=[[1] * 7] * 7, test_size=49, train_size=100,
                                                   seconds=1.0, errors=[]))
    assert "Held-out accuracy: 95.0%" in text and "parking" in text and "faq" in text
