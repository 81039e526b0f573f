"""Kill poster with SIGKILL in the middle of a 10,000-recipient send, and restart it.

For each gateway the fake carries out one request of the fourth group of recipients and holds
its answer; poster is killed while it waits for it. That group is then uncertain, as a crash
leaves it, and the restart must send everyone else exactly once.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from feedserver import FeedServer
from support.daemon import Feeds
from support.decisiontelecom import Clock, fake_gateway, write_gateway_project
from support.wait import wait_for

from poster.cli import EXIT_OK, main
from poster.destinations.decisiontelecom.fake import FakeDecisionTelecom
from poster.destinations.gateway.destination import GROUP, item_ref
from poster.destinations.inteltele.fake import FakeInteltele
from poster.destinations.inteltele.fakestate import Account
from poster.destinations.smsby.fake import DEFAULT_TOKEN as SMSBY_TOKEN
from poster.destinations.smsby.fake import SmsByFake
from poster.store.recipientledger import RecipientLedger, ledger_path

DT_KEY = "dt-kill-key-never-shown-6262"
PHONES = tuple(f"38050{n:07d}" for n in range(10_000))
ANSWERED, HELD = "slow:0", "slow:30"
"""A call answered at once, and one answered long after poster is killed."""
PLENTY = Decimal(10**6)


@dataclass(frozen=True)
class Case:
    """One gateway: its fake, its section of feeds.toml, and how its requests carry numbers."""

    token: str
    section: str
    """The kind and its own keys, past api_url and recipients."""
    start: Callable[[], AbstractContextManager[Any]]
    hold: Callable[[Any, int], None]
    """Queue faults on the fake so that its call number N (from 0) is answered late."""
    sent: Callable[[Any], list[str]]
    """Every phone the fake accepted a message for, once per message."""
    per_request: int
    calls_per_request: int = 1
    """The calls one request takes (SMS.BY's bulk send is followed by a read of its outcome)."""

    @property
    def group(self) -> int:
        """Return how many recipients one intent in the ledger covers at this gateway."""
        return max(self.per_request, GROUP // self.per_request * self.per_request)


@contextmanager
def decisiontelecom() -> Iterator[FakeDecisionTelecom]:
    with fake_gateway(DT_KEY, Clock()) as server:
        server.gateway.rate_limit = 10**9
        server.gateway.balance = math.inf
        yield server


@contextmanager
def inteltele() -> Iterator[FakeInteltele]:
    with FakeInteltele() as server:
        server.account.balance = PLENTY
        yield server


@contextmanager
def smsby() -> Iterator[SmsByFake]:
    with SmsByFake() as server:
        server.gateway.balance = PLENTY
        yield server


CASES = {
    "decisiontelecom": Case(
        DT_KEY,
        'kind = "decisiontelecom"\nsource_addr = "Poster"\n',
        decisiontelecom,
        lambda fake, n: fake.gateway.inject(*[ANSWERED] * n, HELD),
        lambda fake: [message.phone for message in fake.gateway.messages],
        per_request=1,
    ),
    "inteltele": Case(
        Account().api_key,
        'kind = "inteltele"\nusername = "poster"\nim_sender = "News"\n',
        inteltele,
        lambda fake, n: fake.inject(*[ANSWERED] * n, HELD),
        lambda fake: [delivery.phone for delivery in fake.deliveries],
        per_request=50,
    ),
    "smsby": Case(
        SMSBY_TOKEN,
        'kind = "smsby"\nalphaname_id = 444\n',
        smsby,
        lambda fake, n: fake.faults.extend([*[ANSWERED] * n, HELD]),
        lambda fake: [delivery.phone for delivery in fake.gateway.deliveries],
        per_request=1000,
        calls_per_request=2,
    ),
}


def run_once(config: Path, state: Path, token: str) -> subprocess.Popen[bytes]:
    """Start ``poster run --once`` in a child process, so that it can be killed."""
    command = [sys.executable, "-m", "poster", "-c", str(config), "run", "--once"]
    env = os.environ | {"POSTER_SUBS_TOKEN": token}
    return subprocess.Popen([*command, "--state-dir", str(state)], env=env,
                            stdout=subprocess.DEVNULL)  # fmt: skip


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_killed_send_sends_nobody_twice_and_loses_nobody(
    tmp_path: Path,
    feed_server: FeedServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: Case,
) -> None:
    feeds = Feeds(feed_server)
    state = tmp_path / "state"
    (post,) = feeds.publish("city", 1)
    requests = case.group // case.per_request
    held = 3 * requests + requests // 2  # a request in the middle of the fourth group
    with case.start() as fake:
        section = f'{case.section}api_url = "{fake.base_url}"\n'
        config = write_gateway_project(tmp_path, section, feeds.url("city"), PHONES)
        case.hold(fake, held * case.calls_per_request)
        child = run_once(config, state, case.token)
        carried_out = (held + 1) * case.per_request
        wait_for(lambda: len(case.sent(fake)) >= carried_out, "the held request", timeout=20)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
        assert len(case.sent(fake)) < len(PHONES)

        # The restart reads only what the killed process left on disk; it runs in this process,
        # which spares a second interpreter start-up.
        monkeypatch.setenv("POSTER_SUBS_TOKEN", case.token)
        restart = ["-c", str(config), "run", "--once", "--state-dir", str(state)]
        assert main(restart) == EXIT_OK
        capsys.readouterr()
        got = Counter(case.sent(fake))

    assert max(got.values()) == 1
    item = item_ref("city", post.guid)
    with RecipientLedger(ledger_path(state, "subs"), read_only=True) as book:
        outcome = book.outcome(item)
        assert book.plan(item, PHONES) == ()
    # The group in flight when the process died is uncertain, whole, and never sent again.
    assert (outcome.accepted, outcome.uncertain) == (len(PHONES) - case.group, case.group)
    assert outcome.accepted + carried_out - 3 * case.group <= len(got) <= len(PHONES)
    assert main(["recipients", "uncertain", "subs", "--state-dir", str(state)]) == EXIT_OK
    shown = [line.split("\t")[1:4] for line in capsys.readouterr().out.splitlines()]
    assert shown == [[item, str(case.group), "uncertain"]]
