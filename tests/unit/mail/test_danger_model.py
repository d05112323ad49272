"""The danger model (issue 24): shipped inside the package, trained only on what it may be
trained on, and reading the classes of danger the clause rules missed, in both languages."""

import json
from importlib import resources

import pytest

from gateway.mail import urgency
from gateway.mail.danger import model, train


def test_the_model_ships_inside_the_package_and_is_small():
    data = resources.files("gateway.mail.danger").joinpath("weights.bin").read_bytes()
    # Two models of 65,536 16-bit weights each, compressed (the second, of the message whole,
    # has word pairs, so more of its weights are used): a budget of 200 KB.
    assert len(data) < 200_000
    shipped = model.shipped()
    assert shipped.meta["messages"] > 1000


def test_it_was_never_trained_on_the_batches_kept_apart():
    shipped = model.shipped()
    assert set(train.TRAIN).isdisjoint(train.HELD_OUT)
    assert set(shipped.meta["trained_on"]).isdisjoint(train.HELD_OUT)
    assert shipped.meta["never_trained_on"] == train.HELD_OUT


def test_the_file_keeps_both_models_their_mix_and_the_threshold(tmp_path):
    window, whole = [0.0] * (1 << 16), [0.0] * (1 << 16)
    window[5], window[70], whole[9] = 1.25, -3.5, 2.0
    data = model.dump(window, whole, 0.6, -0.5, {"messages": 3})
    again = model.parse(data)
    assert again.threshold == -0.5 and again.mix == 0.6 and again.meta["messages"] == 3
    assert abs(again.window[5] - 1.25) < 1e-3 and abs(again.window[70] + 3.5) < 1e-3
    assert abs(again.whole[9] - 2.0) < 1e-3 and again.whole[5] == 0.0
    for broken in (b"not a model", data[:-40], data.replace(b"model 2", b"model 1")):
        with pytest.raises(ValueError):
            model.parse(broken)


def test_training_is_deterministic_on_a_small_set(monkeypatch):
    rows = [json.loads(line) for line in (train.DATA / "messages.jsonl").read_text().splitlines()[:60]]
    monkeypatch.setattr(train, "EPOCHS", 2)
    items = train.prepare(rows)
    assert train.fit(items) == train.fit(items)
    assert train.fit(train.whole(items)) == train.fit(train.whole(items))


def test_the_mix_and_threshold_are_chosen_on_writers_left_out():
    rows = [{"id": f"{letter}-{i}", "urgent": i % 3 == 0, "text": text, "writer": f"batch_{letter}"}
            for letter in "ab" for i, text in enumerate(["he is kicking the door in now", "lovely weather",
                                                          "parking again", "she has taken all her tablets",
                                                          "the bins", "fox in the garden"])]
    assert {train.writer(r) for r in rows} == {"batch_a", "batch_b"} and train.writer({"id": "urgent-en-1"}) == "own"
    assert {train.writer(r) for r in train.load(["messages.jsonl", "independent/batch_a.jsonl"])} == {"own", "batch_a"}
    scored = train.cross_validate(train.prepare(rows), [train.writer(r) for r in rows])
    assert len(scored) == len(rows) and [y for _, _, y in scored] == [float(r["urgent"]) for r in rows]
    share, mixed = train.choose_mix(scored, 1.0)
    assert share in train.MIXES
    assert min(s for s, y in mixed if y) >= train.threshold_for(mixed, 1.0)


@pytest.mark.parametrize("text", [
    # domestic abuse happening now, heard through a wall or written in hiding
    "The woman next door keeps screaming and there are thuds against our shared wall, he sounds drunk.",
    "writing this from the bathroom, I've locked the door, he's downstairs smashing things",
    # suicidal intent, calm or as a goodbye
    "Please tell my mum I'm sorry for everything. I'm on the footbridge over the bypass.",
    "I've taken all my tablets, I just want someone to look after my cat. 4 Mill Row.",
    # a child or vulnerable person in danger
    "There's a toddler on his own walking along the edge of the dual carriageway by the retail park",
    "A little boy has gone into the river by the weir and I can't see an adult",
    # a threat with a time or a place
    "He messaged saying he'll be waiting at the school gates at 3 and I'll regret it",
    # a crime still going on
    "Two men are under my neighbour's car with an angle grinder, 12 Ash Grove",
    # the Welsh forms
    "Dwi'n cuddio yn y stafell molchi, mae o'n feddw ac yn taflu pethau",
    "Sori am bob dim. Dwi wedi llyncu'r tabledi i gyd.",
    "Mae plentyn bach ar ei ben ei hun wrth ymyl y ffordd fawr",
])
def test_danger_written_without_danger_words_is_flagged_with_words_to_check(text):
    found = urgency.assess(text)
    assert found.urgent, text
    assert found.why and all(isinstance(w, str) and w for w in found.why)


def test_danger_buried_in_a_long_email_is_found():
    business = ("I am writing about the parking on Station Road, which has got worse since the new "
                "flats opened. Cars are left on the pavement all day and the bin lorry cannot get by. ")
    text = business * 4 + ("Also my husband took all the pills from the cupboard after we argued and he "
                           "is not waking up when I shake him. ") + business * 3
    assert urgency.assess(text).urgent


@pytest.mark.parametrize("text", [
    "My back is killing me after the gardening, can you tell me when the PACT meeting is?",
    "Is it legal to carry a penknife with a three inch blade to work on the farm?",
    "Last year my ex punched me but it's all sorted now, I'm safe and he has moved away.",
    "Can I book a place on the first aid course about knife wounds next Thursday?",
    "The fox killed three of our chickens last night, who do I tell?",
    "Mae'r gwres yn fy lladd i, pryd mae'r cyfarfod nesaf?",
])
def test_danger_words_without_the_situation_are_not_flagged(text):
    assert not urgency.assess(text).urgent, (text, urgency.assess(text).why)


def test_officers_corrections_become_training_rows(tmp_path):
    found = tmp_path / "corrections.jsonl"
    found.write_text(json.dumps({"label": "not_urgent", "text": "Subject\nthe storm nearly killed us", "case": "SG-1",
                                 "by": "pc@police.example", "at": "2026-12-03T10:00:00Z", "language": "en"}) + "\n"
                     + json.dumps({"label": "urgent", "text": "Pwnc\nmae o tu allan eto", "case": "SG-2",
                                   "by": "pc@police.example", "at": "2026-12-03T11:00:00Z", "language": "cy"}) + "\n")
    rows = train.corrections(found)
    assert [(r["urgent"], r["lang"]) for r in rows] == [(False, "en"), (True, "cy")]
    assert train.prepare(rows)[1][1] == 1.0
