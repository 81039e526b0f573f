"""Rewrite the test modules for pytest's assertion messages once, before the workers start.

Each worker imports every test module to collect the suite, and pytest rewrites a module's
asserts (about 4 s of CPU for the whole suite) unless it finds the rewritten code kept in
``__pycache__``. In a fresh checkout every worker would rewrite every module at the same time;
here the modules whose kept code is missing or stale are rewritten once, spread over the cores,
and kept where pytest looks for them. Anything unexpected leaves the work to the workers.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def rewrite_stale(modules: list[Path], processes: int) -> int:
    """Rewrite and keep the modules whose kept rewritten code is missing or stale; count them."""
    try:
        from _pytest.assertion import rewrite
    except ImportError:
        return 0
    stale = [m for m in modules if rewrite._read_pyc(m, _kept(m, rewrite.PYC_TAIL)) is None]
    if len(stale) < 2:
        return 0
    with ProcessPoolExecutor(min(processes, len(stale))) as pool:
        return sum(pool.map(_rewrite, stale))


def _kept(module: Path, tail: str) -> Path:
    """Return where pytest keeps the rewritten code of ``module``."""
    return module.parent / "__pycache__" / (module.name[:-3] + tail)


def _rewrite(module: Path) -> bool:
    """Rewrite one module as pytest would, and keep its code atomically; tell if it was kept."""
    from _pytest.assertion import rewrite

    try:
        source_hash, code = rewrite._rewrite_test(module, None)  # type: ignore[arg-type]
        kept = _kept(module, rewrite.PYC_TAIL)
        kept.parent.mkdir(exist_ok=True)
        # pytest's own atomic write; its state is used only to trace a failure.
        return rewrite._write_pyc(_Untraced(), code, source_hash, kept)  # type: ignore[arg-type]
    except (OSError, SyntaxError, AttributeError, TypeError):
        return False


class _Untraced:
    """Stand in for pytest's assertion state where only its ``trace`` is asked for."""

    @staticmethod
    def trace(message: str) -> None:
        """Drop the message: a failed write only leaves the work to the workers."""
