"""Test the benchmark's own checks: the small farm's feeds and the daemon's poll accounting."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import cli_times
import daemon10k
import farm as farms
from scenarios import measured, poster_config, stage_cpu, stage_seconds

from poster.config import FeedConfig
from poster.models import FetchResult, Validators
from poster.parse import parse
from poster.parse.fastxml import parse_fast
from poster.parse.xmlfeed import parse_xml
from poster.pipeline.timings import Timings
from poster.store import Store
from poster.store.ledger import SENT

BENCH = Path(cli_times.__file__).parent
EVERY, J = daemon10k.INTERVAL, daemon10k.JITTER


@pytest.mark.parametrize(
    ("gaps", "end_after", "faults"),
    [
        ([EVERY, EVERY + J, EVERY + 1], 10.0, (0, 0)),
        ([EVERY / 3, EVERY, EVERY], 10.0, (0, 0)),  # the first read waits behind the others
        ([EVERY, 2 * EVERY + J, EVERY], 10.0, (1, 0)),
        ([EVERY, EVERY, EVERY / 2], 10.0, (0, 1)),
        ([EVERY, EVERY], 3 * EVERY, (1, 0)),
    ],
    ids=["on-time", "late-first-read", "skipped", "twice", "silent-at-the-end"],
)
def test_poll_faults_count_missed_and_doubled_polls(
    gaps: list[float], end_after: float, faults: tuple[int, int]
) -> None:
    times = [1000.0]
    for gap in gaps:
        times.append(times[-1] + gap)
    assert daemon10k._poll_faults(times, times[-1] + end_after) == faults


@pytest.mark.parametrize(
    "spec",
    [
        farms.FeedSpec(0, "rss", "small", "utf-8"),
        farms.FeedSpec(1, "atom", "small", "iso-8859-1"),
        farms.FeedSpec(2, "rdf", "small", "windows-1251"),
    ],
    ids=lambda spec: f"{spec.kind}-{spec.encoding}",
)
def test_small_feeds_take_the_fast_path_in_every_encoding(
    tmp_path: Path, spec: farms.FeedSpec
) -> None:
    (tmp_path / spec.kind).mkdir()
    farms.write_feed(tmp_path, spec, extra=1)
    url = "http://127.0.0.1/feed"
    body = (tmp_path / spec.path).read_bytes()
    result = FetchResult("bench", url, 200, body, Validators(), "application/xml")
    feed = FeedConfig(name="bench", url=url)
    parsed = parse(result, feed)
    assert parse_fast(result, feed) == parse_xml(result, feed) == parsed
    assert len(parsed.items) == farms.ITEMS + 1
    assert parsed.items[0].link == farms.item_link(spec, farms.ITEMS)
    words = farms._ACCENTED[spec.encoding].split()[1]
    assert any(words.lower() in (item.summary or "").lower() for item in parsed.items)


def test_the_commands_state_holds_back_every_item_the_farm_serves(tmp_path: Path) -> None:
    farm = farms.build(tmp_path / "farm", 4)
    base = "http://127.0.0.1:9"
    config = tmp_path / "feeds.toml"
    config.write_text(poster_config(farm, farm.feeds, base, f"{base}/pa"), encoding="utf-8")
    records = cli_times.write_state(config, tmp_path / "state", farm)
    assert records == len(farm.feeds) * farms.ITEMS + len(farm.changed)
    with Store(tmp_path / "state", read_only=True) as store:
        for spec in farm.feeds:
            url = farm.url(base, spec)
            body = (farm.root / spec.path).read_bytes()
            result = FetchResult(spec.name, url, 200, body, Validators(), "application/xml")
            items = parse(result, FeedConfig(name=spec.name, url=url)).items
            assert len(items) == farms.ITEMS
            assert all(store.is_held_back(spec.name, item.key) for item in items)
            assert store.feed_state(spec.name).last_success is not None
        sent = store.deliveries(states=[SENT])
        assert sorted(record.feed for record in sent) == [spec.name for spec in farm.changed]


def test_the_journaled_state_stops_just_short_of_compaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from poster.store.journal import JournalStorage

    monkeypatch.setattr(JournalStorage, "min_compact_bytes", 64 * 1024)
    monkeypatch.setattr(JournalStorage, "leave_compacted_bytes", 16 * 1024)
    farm = farms.build(tmp_path / "farm", 4)
    config = tmp_path / "feeds.toml"
    config.write_text(
        poster_config(farm, farm.feeds, "http://127.0.0.1:9", "http://127.0.0.1:9/pa")
    )
    cli_times.write_state(config, tmp_path / "state", farm)
    size = cli_times.write_journal(tmp_path / "state", tmp_path / "journaled", farm)
    snapshot = (tmp_path / "journaled" / "poster.json").read_bytes()
    assert snapshot == (tmp_path / "state" / "poster.json").read_bytes(), "not compacted"
    threshold = JournalStorage.compact_threshold(len(snapshot))
    assert threshold - 4096 < size <= threshold
    assert (tmp_path / "journaled" / "poster.journal").stat().st_size == size
    with Store(tmp_path / "journaled", read_only=True) as store:
        etags = {store.validators(spec.name).etag for spec in farm.feeds}
        assert len(etags) == len(farm.feeds) and all(not e.endswith('-1"') for e in etags)
    assert JournalStorage.leave_compacted_bytes == 16 * 1024


def test_stage_timings_keep_cpu_apart_from_waiting_and_the_bench_reads_them() -> None:
    timings = Timings()
    with timings.stage("send"):
        time.sleep(0.05)
    with timings.stage("parse"):
        sum(range(10_000))
    assert timings.seconds["send"] >= 0.05 and timings.cpu["send"] < 0.025
    assert timings.calls == {"send": 1, "parse": 1}
    header = timings.table().splitlines()[0]
    assert header.split() == ["stage", "seconds", "calls", "ms/call", "cpu"]
    assert stage_seconds(timings.table()) == pytest.approx(timings.seconds, abs=1e-3)
    assert stage_cpu(timings.table()) == pytest.approx(timings.cpu, abs=1e-3)


def test_a_measured_pass_reports_its_cpu_time_apart_from_its_wall_time(tmp_path: Path) -> None:
    spin = "import time\nend = time.process_time() + 0.2\nwhile time.process_time() < end: pass\n"
    busy = measured([sys.executable, "-c", spin], {}, tmp_path)
    idle = measured([sys.executable, "-c", "import time; time.sleep(0.3)"], {}, tmp_path)
    assert busy.code == 0 and busy.cpu >= 0.2
    assert idle.code == 0 and idle.wall >= 0.3 and idle.cpu < 0.2


@pytest.mark.parametrize("script", sorted(p.stem for p in BENCH.glob("*.py")))
def test_every_bench_script_loads_against_the_code_it_measures(script: str) -> None:
    # A benchmark that no longer imports reports an error where its figures should be.
    importlib.import_module(script)
