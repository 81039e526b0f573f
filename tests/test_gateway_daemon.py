"""Take DecisionTelecom's status callbacks on the daemon's listener, and poll when none come."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from feedserver import FeedServer
from support.daemon import Feeds, Project, running
from support.decisiontelecom import Clock, fake_gateway
from support.wait import wait_for

from poster.daemon.gateways import PREFIX, secret_key
from poster.destinations.decisiontelecom.fake import FakeDecisionTelecom
from poster.destinations.gateway.destination import item_ref
from poster.destinations.viber.sandbox import Sandbox
from poster.store import Store
from poster.store.recipients import RecipientLedger, ledger_path

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


def write(project: Project, fake: FakeDecisionTelecom, public: bool) -> None:
    """Write feeds.toml: feed "city" to DecisionTelecom, the listener public or not."""
    url = f'public_url = "http://127.0.0.1:{project.listen}"\n' if public else ""
    project.config.write_text(
        'templates = "templates"\n'
        f'[webhook]\nlisten = "127.0.0.1:{project.listen}"\n{url}'
        f'[destinations.subs]\nkind = "decisiontelecom"\napi_url = "{fake.base_url}"\n'
        'source_addr = "Poster"\nrecipients = "subscribers.txt"\nmin_gap = "0s"\n'
        f'[[feeds]]\nname = "city"\nurl = "{project.feeds.url("city")}"\ninterval = "1h"\n'
        'backlog = "all"\n',
        encoding="utf-8",
    )


def delivered(project: Project, key: str) -> int:
    with RecipientLedger(ledger_path(project.state, "subs"), read_only=True) as book:
        return book.outcome(item_ref("city", key)).delivered


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


def test_without_a_public_url_the_daemon_polls_for_statuses(project, fake, clock) -> None:  # type: ignore[no-untyped-def]
    write(project, fake, public=False)
    (post,) = project.feeds.publish("city", 1)
    with running(project, gateway_poll=0.05):
        wait_for(lambda: len(fake.gateway.messages) == len(PHONES), "the item sent to all")
        assert "callback_url" not in fake.gateway.messages[0].body
        clock.now += 60
        wait_for(lambda: delivered(project, post.guid) == len(PHONES), "the statuses polled")


def test_a_callback_path_stays_the_same_across_restarts(project, fake) -> None:  # type: ignore[no-untyped-def]
    write(project, fake, public=True)
    with running(project):
        first = callback_path(project)
    with running(project) as daemon:
        assert callback_path(project) == first
        answer = daemon.http.get(str(daemon.get("/").url.join(first)))
    assert answer.status_code == 400
