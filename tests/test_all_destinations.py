"""Post each new item to a channel and, through all three gateways, to subscribers, at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from feedserver import FeedServer
from support.daemon import POLL, TOKEN, Feeds, Project, new_project, running
from support.decisiontelecom import Clock, fake_gateway
from support.wait import wait_for

from poster.config import load_config
from poster.destinations.decisiontelecom.fake import FakeDecisionTelecom
from poster.destinations.gateway.destination import close_ledgers, item_ref
from poster.destinations.inteltele.fake import FakeInteltele
from poster.destinations.inteltele.fakestate import Account
from poster.destinations.smsby.fake import DEFAULT_TOKEN as SMSBY_TOKEN
from poster.destinations.smsby.fake import SmsByFake
from poster.destinations.viber.sandbox import Sandbox
from poster.ops.status import status_view
from poster.ops.statusjson import status_json
from poster.store import Store
from poster.store.recipientledger import RecipientLedger, ledger_path

DT_KEY = "dt-all-key-never-shown-4242"
PHONES = ("380501234567", "4915112345678", "79161234567")
GATEWAYS = ("dt", "it", "sb")
Fakes = tuple[FakeDecisionTelecom, FakeInteltele, SmsByFake]


@pytest.fixture
def channel_token() -> str:
    return TOKEN


@pytest.fixture
def project(
    tmp_path: Path,
    sandbox: Sandbox,
    feed_server: FeedServer,
    set_webhook: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
) -> Project:
    monkeypatch.setenv("POSTER_NEWS_TOKEN", TOKEN)
    monkeypatch.setenv("POSTER_DT_TOKEN", DT_KEY)
    monkeypatch.setenv("POSTER_IT_TOKEN", Account().api_key)
    monkeypatch.setenv("POSTER_SB_TOKEN", SMSBY_TOKEN)
    monkeypatch.delenv("POSTER_VIBER_TOKEN", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    set_webhook()
    found = new_project(tmp_path, sandbox, Feeds(feed_server))
    (tmp_path / "subscribers.txt").write_text("\n".join("+" + p for p in PHONES) + "\n")
    return found


def accepted(project: Project, destination: str, key: str) -> int:
    """Return how many subscribers the gateway destination took the item for."""
    with RecipientLedger(ledger_path(project.state, destination), read_only=True) as book:
        return book.outcome(item_ref("city", key)).accepted


def everyone_took(project: Project, key: str) -> bool:
    """Tell whether every gateway destination took the item for all its subscribers."""
    return all(accepted(project, name, key) == len(PHONES) for name in GATEWAYS)


@contextmanager
def gateways(project: Project) -> Iterator[Fakes]:
    """Run the three gateway fakes and write a feeds.toml posting "city" to them and the channel."""
    with fake_gateway(DT_KEY, Clock()) as dt, FakeInteltele() as it, SmsByFake() as sb:
        project.config.write_text(
            'templates = "templates"\n'
            f'[webhook]\nlisten = "127.0.0.1:{project.listen}"\n'
            f'[destinations.news]\nkind = "viber"\napi_url = "{project.sandbox.api_url}"\n'
            'min_gap = "0s"\n'
            f'[destinations.dt]\nkind = "decisiontelecom"\napi_url = "{dt.base_url}"\n'
            'source_addr = "Poster"\nrecipients = "subscribers.txt"\nmin_gap = "0s"\n'
            f'[destinations.it]\nkind = "inteltele"\napi_url = "{it.base_url}"\n'
            'username = "poster"\nim_sender = "News"\nrecipients = "subscribers.txt"\n'
            'min_gap = "0s"\n'
            f'[destinations.sb]\nkind = "smsby"\napi_url = "{sb.base_url}"\n'
            'alphaname_id = 444\nrecipients = "subscribers.txt"\nmin_gap = "0s"\n'
            f"{project.table('city', interval='1h')}",
            encoding="utf-8",
        )
        yield dt, it, sb


def test_each_item_reaches_the_channel_and_every_gateways_subscribers_once(
    project: Project,
) -> None:
    with gateways(project) as (dt, it, sb):
        (first,) = project.feeds.publish("city", 1)
        with running(project):
            wait_for(lambda: len(project.sandbox.posts) == 1, "the channel's post")
            wait_for(lambda: everyone_took(project, first.guid), "every gateway's answers")
        (second,) = project.feeds.publish("city", 2)
        # A feed read before is polled at its slot after a restart: make it come at once.
        text = project.config.read_text(encoding="utf-8")
        project.config.write_text(text.replace('"1h"', f'"{POLL}"'), encoding="utf-8")
        with running(project):  # a restart sends nobody the first item again
            wait_for(lambda: len(project.sandbox.posts) == 2, "the channel's second post")
            wait_for(lambda: everyone_took(project, second.guid), "every gateway's answers")
        got_dt = {phone: len(dt.gateway.inbox(phone)) for phone in PHONES}
        got_it = {phone: 0 for phone in PHONES}
        for delivery in it.deliveries:
            got_it[delivery.phone] += 1
        got_sb = {phone: len(sb.got(phone)) for phone in PHONES}
    close_ledgers()
    assert got_dt == got_it == got_sb == dict.fromkeys(PHONES, 2)
    config = load_config(project.config)
    with Store(project.state, read_only=True) as store:
        view = status_json(status_view(config, store, datetime.now(UTC)))
    shown = {row["destination"]: row["items"] for row in view["subscribers"]}
    assert sorted(shown) == sorted(GATEWAYS)
    for items in shown.values():
        assert sorted(item["key"] for item in items) == sorted([first.guid, second.guid])
        assert all(item["accepted"] == 3 for item in items)


def received(fakes: Fakes) -> dict[str, int]:
    """Return how many messages each gateway's fake accepted."""
    dt, it, sb = fakes
    return {
        "dt": len(dt.gateway.messages),
        "it": len(it.deliveries),
        "sb": len(sb.gateway.deliveries),
    }


EMPTY: dict[str, Callable[[Fakes], None]] = {
    "dt": lambda fakes: setattr(fakes[0].gateway, "balance", 0.0),
    "it": lambda fakes: setattr(fakes[1].account, "balance", Decimal(0)),
    "sb": lambda fakes: setattr(fakes[2].gateway, "balance", Decimal(0)),
}
"""How to empty each gateway's balance on its fake."""


@pytest.mark.parametrize(
    ("empty", "says"),
    [
        ("dt", "the DecisionTelecom balance is empty; top it up"),
        ("it", "the balance ran out: top up the account"),
        ("sb", "the balance is empty; top up the SMS.BY account"),
    ],
    ids=["decisiontelecom", "inteltele", "smsby"],
)
def test_an_empty_balance_stops_that_gateway_with_its_reason_and_the_others_go_on(
    project: Project, empty: str, says: str
) -> None:
    others = [name for name in GATEWAYS if name != empty]
    with gateways(project) as fakes:
        EMPTY[empty](fakes)
        (item,) = project.feeds.publish("city", 1)
        config = load_config(project.config)

        def refused() -> str | None:
            with Store(project.state, read_only=True) as store:
                view = status_json(status_view(config, store, datetime.now(UTC)))
            return {row["name"]: row["fatal"] for row in view["destinations"]}[empty]

        with running(project):
            wait_for(lambda: len(project.sandbox.posts) == 1, "the channel's post")
            wait_for(lambda: all(accepted(project, n, item.guid) == 3 for n in others), "others")
            reason = wait_for(refused, f"{empty} stopped")
        counts = received(fakes)
    close_ledgers()
    assert says in reason
    assert counts == {name: 0 if name == empty else len(PHONES) for name in GATEWAYS}
    assert accepted(project, empty, item.guid) == 0
