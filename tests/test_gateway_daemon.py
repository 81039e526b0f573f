"""Take DecisionTelecom's status callbacks on the daemon's listener, and poll when none come."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from feedserver import FeedServer
from support.daemon import Feeds, Project, running
from support.decisiontelecom import Clock, fake_gateway
from support.wait import wait_for

from poster.cli import EXIT_FAILED, main
from poster.config import load_config
from poster.daemon.callbacks import PREFIX, GatewayDesk, secret_key
from poster.daemon.httpserver import Call
from poster.destinations.decisiontelecom.fake import FakeDecisionTelecom
from poster.destinations.gateway.destination import item_ref
from poster.destinations.smsby.fake import DEFAULT_TOKEN as SMSBY_TOKEN
from poster.destinations.smsby.fake import SmsByFake
from poster.destinations.viber.sandbox import Sandbox
from poster.ops.status import format_status, status_view
from poster.ops.statusjson import status_json
from poster.store import Store
from poster.store.recipientledger import RecipientLedger, ledger_path

KEY = "dt-daemon-key-never-shown-3131"
PHONES = [f"37529{n:07d}" for n in range(2000, 2010)]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeDecisionTelecom]:
    with fake_gateway(KEY, clock) as server:
        yield server


@pytest.fixture
def project(
    tmp_path: Path, sandbox: Sandbox, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> Project:
    monkeypatch.setenv("POSTER_SUBS_TOKEN", KEY)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "default.j2").write_text("{{ item.title }}")
    (tmp_path / "subscribers.txt").write_text("\n".join("+" + p for p in PHONES) + "\n")
    return Project(tmp_path, sandbox, Feeds(feed_server))


def write(project: Project, fake: FakeDecisionTelecom, public: bool, replies: bool = False) -> None:
    """Write feeds.toml: feed "city" to DecisionTelecom, the listener public or not."""
    url = f'public_url = "http://127.0.0.1:{project.listen}"\n' if public else ""
    two_way = "replies = true\n" if replies else ""
    project.config.write_text(
        'templates = "templates"\n'
        f'[webhook]\nlisten = "127.0.0.1:{project.listen}"\n{url}'
        f'[destinations.subs]\nkind = "decisiontelecom"\napi_url = "{fake.base_url}"\n'
        f'source_addr = "Poster"\nrecipients = "subscribers.txt"\nmin_gap = "0s"\n{two_way}'
        f'[[feeds]]\nname = "city"\nurl = "{project.feeds.url("city")}"\ninterval = "1h"\n'
        'backlog = "all"\n',
        encoding="utf-8",
    )


def delivered(project: Project, key: str, name: str = "subs") -> int:
    with RecipientLedger(ledger_path(project.state, name), read_only=True) as book:
        return book.outcome(item_ref("city", key)).delivered


def accepted(project: Project, key: str) -> int:
    with RecipientLedger(ledger_path(project.state, "bulk"), read_only=True) as book:
        return book.outcome(item_ref("city", key)).accepted


def callback_path(project: Project) -> str:
    with Store(project.state, read_only=True) as store:
        secret = store.get_meta(secret_key("subs"))
    assert secret and len(secret) >= 24
    return f"{PREFIX}subs/{secret}"


def test_callbacks_reach_the_ledger_through_a_secret_path(project, fake, clock) -> None:  # type: ignore[no-untyped-def]
    write(project, fake, public=True)
    (post,) = project.feeds.publish("city", 1)
    with running(project) as daemon:
        wait_for(lambda: len(fake.gateway.messages) == len(PHONES), "the item sent to all")
        path = callback_path(project)
        assert fake.gateway.messages[0].body["callback_url"] == daemon.get("/").url.join(path)
        clock.now += 60
        made = fake.pump()
        assert [c.http_status for c in made] == [200] * len(PHONES)
        wait_for(lambda: delivered(project, post.guid) == len(PHONES), "the statuses recorded")
        base = str(daemon.get("/").url.join("/"))
        forged = {"message_id": 999999, "status": 2}
        answers = [
            daemon.http.post(base + path.lstrip("/"), json=forged).status_code,
            daemon.http.post(base + path.lstrip("/"), content=b"{not json").status_code,
            daemon.http.post(base + PREFIX.lstrip("/") + "subs/guessed", json=forged).status_code,
        ]
    assert answers == [400, 400, 404]


def test_a_callback_before_the_send_is_answered_is_taken(  # type: ignore[no-untyped-def]
    project, fake, monkeypatch, caplog
) -> None:
    """The gateway reports each message delivered before it answers the request that sent it."""
    write(project, fake, public=True)
    fake.gateway.pending_for = fake.gateway.deliver_after = 0
    callbacks: list[int] = []
    send = fake.gateway._send

    def send_and_report(body):  # type: ignore[no-untyped-def]
        answer = send(body)
        callbacks.extend(c.http_status for c in fake.pump())
        return answer

    monkeypatch.setattr(fake.gateway, "_send", send_and_report)
    (post,) = project.feeds.publish("city", 1)
    with running(project):
        wait_for(lambda: delivered(project, post.guid) == len(PHONES), "the statuses recorded")
    assert callbacks == [200] * len(PHONES)
    assert "gateway-callback-refused" not in caplog.text


def test_without_a_public_url_the_daemon_polls_for_statuses(project, fake, clock) -> None:  # type: ignore[no-untyped-def]
    write(project, fake, public=False)
    (post,) = project.feeds.publish("city", 1)
    with running(project, gateway_poll=0.05):
        wait_for(lambda: len(fake.gateway.messages) == len(PHONES), "the item sent to all")
        assert "callback_url" not in fake.gateway.messages[0].body
        clock.now += 60
        wait_for(lambda: delivered(project, post.guid) == len(PHONES), "the statuses polled")


def test_replies_to_two_way_messages_are_logged_and_answered_200(  # type: ignore[no-untyped-def]
    project, fake, clock, caplog
) -> None:
    write(project, fake, public=True, replies=True)
    (post,) = project.feeds.publish("city", 1)
    caplog.set_level(logging.INFO, logger="poster.destinations.decisiontelecom")
    with running(project) as daemon:
        wait_for(lambda: len(fake.gateway.messages) == len(PHONES), "the item sent to all")
        first = fake.gateway.messages[0]
        assert first.body["message_type"] == 206 and first.body["callback_url"]
        replied = fake.reply(first.phone, "Stop,\nplease")
        long = fake.reply(PHONES[1], "x" * 5000)
        url = str(first.body["callback_url"])
        broken = {"message_token": 1, "phone_number": "1\nevent=forged", "time": 1,
                  "message": {"text": "hi"}}  # fmt: skip
        refused = daemon.http.post(url, json=broken).status_code
        # The listener goes on: statuses still arrive on the same path after the replies.
        clock.now += 60
        assert {c.http_status for c in fake.pump()} == {200}
        wait_for(lambda: delivered(project, post.guid) == len(PHONES), "the statuses recorded")
    assert (replied.http_status, long.http_status, refused) == (200, 200, 400)
    lines = [r.getMessage() for r in caplog.records if "event=gateway-reply" in r.getMessage()]
    assert lines[0] == (
        f"event=gateway-reply destination=subs phone={first.phone} "
        f"reply_to={first.message_id} time={int(clock.now) - 60} text='Stop,\\nplease'"
    )
    assert lines[1].endswith("x" * 500 + "' cut_from=5000") and len(lines) == 2
    assert "forged" not in "".join(lines)


def test_a_callback_path_stays_the_same_across_restarts(project, fake) -> None:  # type: ignore[no-untyped-def]
    write(project, fake, public=True)
    with running(project):
        first = callback_path(project)
    with running(project) as daemon:
        assert callback_path(project) == first
        answer = daemon.http.get(str(daemon.get("/").url.join(first)))
    assert answer.status_code == 400


def test_status_and_metrics_count_each_items_subscribers(project, fake, clock) -> None:  # type: ignore[no-untyped-def]
    write(project, fake, public=True)
    (post,) = project.feeds.publish("city", 1)
    with running(project) as daemon:
        wait_for(lambda: len(fake.gateway.messages) == len(PHONES), "the item sent to all")
        clock.now += 60
        fake.pump()
        wait_for(lambda: delivered(project, post.guid) == len(PHONES), "the statuses recorded")
        where = f'destination="subs",feed="city",key="{post.guid}"'
        shown = {
            state: daemon.metric(f'poster_gateway_recipients{{{where},state="{state}"}}')
            for state in ("accepted", "delivered", "read", "failed")
        }
        opted_out = daemon.metric('poster_gateway_opted_out{destination="subs"}')
        with Store(project.state, read_only=True) as store:
            view = status_view(load_config(project.config), store, datetime.now(UTC))
    assert shown == {"accepted": 10, "delivered": 10, "read": 0, "failed": 0}
    assert opted_out == 0
    (gateway,) = status_json(view)["subscribers"]
    assert gateway["destination"] == "subs" and gateway["opted_out"] == 0
    (item,) = gateway["items"]
    assert (item["key"], item["accepted"], item["delivered"], item["uncertain"]) == (
        post.guid, 10, 10, 0,
    )  # fmt: skip
    text = format_status(view)
    assert "Subscribers" in text and "0 number(s) opted out" in text
    row = next(line for line in text.splitlines() if post.guid in line and "subs" in line)
    assert row.split()[-7:] == ["10", "10", "0", "0", "0", "0", "0"]


@pytest.mark.parametrize("numbers", [len(PHONES), 1000], ids=["ten", "a-whole-request"])
def test_smsby_bulk_callbacks_reach_the_ledger_through_the_secret_path(  # type: ignore[no-untyped-def]
    project, monkeypatch, numbers
) -> None:
    # A request takes up to 1,000 numbers, and its callback a status line for each (110 KB).
    phones = [f"37529{n:07d}" for n in range(2000, 2000 + numbers)]
    (project.root / "subscribers.txt").write_text("".join(f"+{p}\n" for p in phones))
    monkeypatch.setenv("POSTER_BULK_TOKEN", SMSBY_TOKEN)
    with SmsByFake() as smsby:
        smsby.gateway.balance = Decimal(numbers)
        project.config.write_text(
            'templates = "templates"\n'
            f'[webhook]\nlisten = "127.0.0.1:{project.listen}"\n'
            f'public_url = "http://127.0.0.1:{project.listen}"\n'
            f'[destinations.bulk]\nkind = "smsby"\napi_url = "{smsby.base_url}"\n'
            'alphaname_id = 444\nrecipients = "subscribers.txt"\nmin_gap = "0s"\n'
            f'[[feeds]]\nname = "city"\nurl = "{project.feeds.url("city")}"\ninterval = "1h"\n'
            'backlog = "all"\n',
            encoding="utf-8",
        )
        (post,) = project.feeds.publish("city", 1)
        with running(project) as daemon:
            wait_for(lambda: smsby.gateway.callbacks, "the bulk request sent")
            with Store(project.state, read_only=True) as store:
                secret = store.get_meta(secret_key("bulk"))
            path = f"{PREFIX}bulk/{secret}"
            (told,) = smsby.gateway.callbacks.values()
            assert secret and told == str(daemon.get("/").url.join(path))
            wait_for(lambda: accepted(project, post.guid) == numbers, "the answers recorded")
            smsby.advance(6)
            wait_for(lambda: delivered(project, post.guid, "bulk") == numbers, "recorded")
            odd = [daemon.http.post(told, json=body).status_code for body in ODD_BULK_CALLBACKS]
    assert smsby.callback_log == [(told, 200)]
    assert odd == [400] * len(ODD_BULK_CALLBACKS)


ODD_BULK_CALLBACKS = [[{"errors": 5}], [{"success": 5}], {"uuid": 5, "messages": [{"errors": 5}]}]


class _Tripping:
    """An adapter whose callback reader trips over the shape of what it is given."""

    def callback(self, method: str, query: object, body: bytes) -> list[object]:
        if body.startswith(b"[["):
            return [json.loads(body)]  # nested past the interpreter's depth: RecursionError
        raise TypeError("'int' object is not iterable")


@pytest.mark.parametrize(
    ("body", "error"),
    [(b'[{"errors": 5}]', "TypeError"), (b"[" * 60000, "RecursionError")],
    ids=["shape", "nested-too-deep"],
)
def test_a_callback_its_reader_trips_on_is_answered_400_without_a_traceback(
    caplog: pytest.LogCaptureFixture, body: bytes, error: str
) -> None:
    desk = GatewayDesk({}, None)
    destination = SimpleNamespace(name="bulk", adapter=_Tripping())
    desk._paths = {"/callbacks/bulk/s": destination}  # type: ignore[dict-item]
    call = Call("POST", "/callbacks/bulk/s", (), (), body)
    with caplog.at_level(logging.DEBUG):
        code, _, answer = desk.handle(call)
    assert (code, answer) == (400, f"unreadable callback ({error})\n".encode())
    assert "Traceback" not in caplog.text and "gateway-callback-refused" in caplog.text


def test_status_names_uncertain_and_cut_short_batches_of_any_item_and_exits_1(  # type: ignore[no-untyped-def]
    project, fake, capsys
) -> None:
    write(project, fake, public=False)
    Store(project.state).close()
    with RecipientLedger(ledger_path(project.state, "subs")) as book:
        for n in range(12):  # more items than the Subscribers table shows
            book.plan(f"city k{n}", PHONES)
        book.record_uncertain(book.record_intent("city k0", PHONES[:3]), "timeout")
        book.record_intent("city k1", PHONES[:4])  # no answer: a stop cut it short
    args = ["-c", str(project.config), "status", "--state-dir", str(project.state)]
    assert main(args) == EXIT_FAILED
    out = capsys.readouterr().out
    assert "1 uncertain batch (3 numbers) at 'subs': see `poster recipients uncertain subs`" in out
    assert "1 batch (4 numbers) at 'subs' left pending by a stop" in out
    assert main([*args, "--json"]) == EXIT_FAILED
    (gateway,) = json.loads(capsys.readouterr().out)["subscribers"]
    assert (gateway["uncertain_batches"], gateway["uncertain_numbers"]) == (1, 3)
    assert (gateway["pending_batches"], gateway["pending_numbers"]) == (1, 4)
