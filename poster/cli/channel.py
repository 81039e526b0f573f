"""The commands that post: run (once, against a sandbox, or as the daemon) and sandbox."""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from poster.cli.common import (
    EXIT_ENVIRONMENT,
    EXIT_FAILED,
    EXIT_OK,
    SANDBOX_PORT,
    SANDBOX_TOKEN,
    add_command,
    port,
    say_error,
    select_feeds,
    state_dir,
)

TYPE_CHECKING = False  # as typing's, without loading typing: --help never needs it

if TYPE_CHECKING:
    from typing import Any

    from poster.config import Config, DestinationConfig
    from poster.pipeline import FeedReport, Outcome


def add_commands(commands: Any) -> None:
    """Register run and sandbox."""
    run = add_command(
        commands,
        "run",
        "run the daemon, or one pass with --once",
        state=True,
        description="Run the daemon until SIGTERM, or one pass over the feeds with --once.",
    )
    run.add_argument("--once", action="store_true", help="one pass over the feeds, then exit")
    run.add_argument(
        "--feed", action="append", metavar="NAME", help="only this feed (repeatable; with --once)"
    )
    run.add_argument(
        "--sandbox",
        action="store_true",
        help="post to a local sandbox channel instead (with --once); state in a temporary "
        "folder unless --state-dir is given",
    )
    run.add_argument(
        "--port",
        type=port,
        default=None,
        metavar="PORT",
        help=f"the sandbox page's port (default: {SANDBOX_PORT}, else any free one)",
    )
    run.add_argument("--timings", action="store_true", help="print time spent per stage")
    run.set_defaults(handler=cmd_run)
    sandbox = add_command(
        commands,
        "sandbox",
        "run a local sandbox channel until Ctrl-C",
        state=False,
        description="Run a local sandbox channel until Ctrl-C; point [viber] api_url at it.",
    )
    sandbox.add_argument(
        "--port",
        type=port,
        default=SANDBOX_PORT,
        metavar="PORT",
        help=f"the port to serve on (default: {SANDBOX_PORT})",
    )
    sandbox.add_argument(
        "--token",
        action="append",
        metavar="TOKEN",
        help=f"a channel's token; repeat for a channel per token (default: {SANDBOX_TOKEN})",
    )
    sandbox.set_defaults(handler=cmd_sandbox)


def cmd_run(config: Config, args: argparse.Namespace) -> int:
    """Run the daemon, or one pass over the chosen feeds against the channel or a sandbox."""
    from poster.errors import UsageError

    if not args.once:
        return _run_daemon(config, args)
    feeds = select_feeds(config, args.feed)
    if not args.sandbox:
        if args.port is not None:
            raise UsageError("--port goes with --sandbox: it is the sandbox page's port")
        return _run_pass(config, feeds, state_dir(args), timings=args.timings)
    from poster.destinations import sandbox_host

    sandbox_port = SANDBOX_PORT if args.port is None else args.port
    with (
        _state_dir(args.state_dir) as state,
        sandbox_host().for_pass(
            config, state, port=sandbox_port, any_port=args.port is None
        ) as sandbox,
    ):
        code = _run_pass(
            sandbox.config, feeds, state, stand_in=sandbox.stand_in(), timings=args.timings
        )
        sandbox.linger()
    return code


def _run_daemon(config: Config, args: argparse.Namespace) -> int:
    """Run until SIGTERM; --feed, --sandbox and --port belong to single passes."""
    from poster.errors import UsageError
    from poster.logs import setup_logging

    if args.feed or args.sandbox or args.port is not None:
        raise UsageError("--feed, --sandbox and --port go with --once")
    from poster.daemon.core import (
        Daemon,  # the scheduler is loaded only by the command that runs it
    )

    setup_logging(args.log_level or "info")
    daemon = Daemon(config.path, state_dir(args))
    return daemon.run()


def _run_pass(
    config: Config,
    feeds: Sequence[Any],
    state_dir: Path,
    *,
    stand_in: tuple[DestinationConfig, str] | None = None,
    timings: bool = False,
) -> int:
    """Open the state and the destinations, run one pass, print what happened.

    ``stand_in`` is a destination and its token that take every feed instead (the sandbox).
    """
    from poster.app import build
    from poster.cli.stops import stop_requests
    from poster.pipeline.runner import run_once, summarize
    from poster.pipeline.timings import Timings
    from poster.terminal import terminal_safe

    stages = Timings() if timings else None
    specs, tokens = None, None
    if stand_in is not None:
        spec, token = stand_in
        specs, tokens = (spec,), {spec.name: token}
    with build(config, state_dir, specs=specs, tokens=tokens) as app, stop_requests() as asked:
        asked.halts += [d.halt for d in app.destinations.values() if hasattr(d, "halt")]
        collect_from_here()
        if app.store.recovered:
            print(f"{app.store.recovered} posts were interrupted; see `poster status`")
        reports = run_once(app, feeds, stages, sleep=asked.sleep, stopping=asked.stopping)
    # One write for every line: under the service's unbuffered output, print would make two
    # system calls per feed.
    lines = [_feed_line(report) for report in reports]
    sys.stdout.write(terminal_safe("".join(f"{line}\n" for line in (*lines, summarize(reports)))))
    if stages is not None:
        print(stages.table(), file=sys.stderr)
    for fatal in dict.fromkeys(str(r.fatal) for r in reports if r.fatal is not None):
        say_error(f"a destination refuses posts: {fatal}")
    unwritten = next((o for r in reports for o in r.outcomes if o.unwritten), None)
    if unwritten is not None:
        why = unwritten.error
        say_error(f"posts wait, as the state could not record them: {why}")
        return EXIT_ENVIRONMENT
    if asked.signal is not None:
        say_error(
            f"stopped by {asked.signal.name}: any post in flight finished and was recorded; "
            "the rest wait for the next pass"
        )
        return 128 + asked.signal.value
    return EXIT_OK if all(report.ok for report in reports) else EXIT_FAILED


def collect_from_here() -> None:
    """Let the cyclic collector walk only what is made from now on, if start-up ran without it.

    What was made before (the modules, the configuration, the state just read) is moved out
    of the collector's reach for good: it lives until the process ends. A caller whose
    collector is on (a test, a library user) is left as it is.
    """
    import gc

    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _feed_line(report: FeedReport) -> str:
    """Describe one feed's part of a pass in a line."""
    if report.error is not None:
        return f"  {report.feed}: {report.error}"
    if report.parsed is None:
        return f"  {report.feed}: not modified"
    from poster.ops.preview import tally  # here: a pass where no feed changed counts nothing

    skipped = ((_words().get(action, "?"), count) for action, count in report.skipped)
    return f"  {report.feed}: {tally(report.outcomes, _word, skipped)}"


def _word(outcome: Outcome) -> str:
    """Name what became of an item in a pass."""
    return _words().get(outcome.delivery or outcome.decision.fate, "?")


@functools.cache
def _words() -> dict[str, str]:
    """Return the word for each decision and delivery state, built when a pass reports."""
    from poster.models import State
    from poster.ops.preview import LABELS

    return {
        **LABELS,
        State.SENT: "sent",
        State.FAILED: "failed",
        State.UNCERTAIN: "uncertain",
        State.DEFERRED: "waiting",
        State.SKIPPED: "skipped (waited longer than max_wait)",
    }


@contextlib.contextmanager
def _state_dir(chosen: Path | None) -> Iterator[Path]:
    """Yield the chosen state directory, or a fresh one that lives as long as the sandbox."""
    import tempfile

    if chosen is not None:
        yield chosen
        return
    with tempfile.TemporaryDirectory(prefix="poster-sandbox-") as scratch:
        yield Path(scratch)


def cmd_sandbox(_config: Config | None, args: argparse.Namespace) -> int:
    """Run a sandbox channel until Ctrl-C."""
    from poster import secrets
    from poster.destinations import sandbox_host
    from poster.errors import HostError, UsageError

    tokens = args.token or [SANDBOX_TOKEN]
    for number, token in enumerate(tokens, start=1):
        problem = secrets.token_problem(token)
        if problem:
            raise UsageError(f"--token number {number} {problem}")
    if len(set(tokens)) < len(tokens):
        raise UsageError("--token: each channel needs a token of its own; one is given twice")
    try:
        sandbox_host().serve(tokens, args.port)
    except OSError as exc:
        change = "choose another port with --port"
        raise HostError.listening(exc, "the sandbox", ("127.0.0.1", args.port), change) from exc
    return EXIT_OK
