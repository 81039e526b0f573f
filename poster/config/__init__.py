"""Load and validate ``feeds.toml`` into a frozen ``Config``.

``load_config`` checks the whole file before it returns, and raises one ``ConfigError`` that
lists every problem, each located by file, feed and dotted key (``include[1]``, ``json.items``,
``viber.from``; array indexes count from 0). The parts:

- ``settings``: the frozen records (``Config``, ``FeedConfig``, ``Schedule``, ``Gate``, ...);
  ``parts`` those only some configurations use (``Rule``, ``QuietHours``, ``JsonMapping``).
- ``feedkeys``: every key declared once, with its default and its check.
- ``values``: the checks of single values (durations, sizes, headers, URLs).
- ``names``: the checks of names (feeds, destinations, dotted paths, templates).
- ``itemrules``: include and exclude rules, keywords or ``/regex/flags``.
- ``load``: reading the file, ``[defaults]`` inheritance and the checks that span keys.

Inheritance: a feed's own key replaces the ``[defaults]`` one whole (arrays and tables are not
merged). The schedule is taken as a unit: the nearest level that sets ``interval`` or ``cron``
decides, so a feed's ``cron`` overrides a default ``interval`` and a feed's ``interval``
overrides a default ``cron``; ``jitter`` is inherited on its own. Setting both ``interval`` and
``cron`` on one level is an error.
"""

from poster.config.load import load_config
from poster.config.settings import (
    DEFAULT_API_URL,
    Config,
    DaemonConfig,
    DestinationConfig,
    FeedConfig,
    MediaConfig,
    Schedule,
    ViberConfig,
    WebhookConfig,
    token_env,
)
from poster.config.values import parse_duration
from poster.lazy import names_from

TYPE_CHECKING = False  # as typing's: this module itself needs nothing from typing
if TYPE_CHECKING:
    from poster.config.parts import JsonMapping as JsonMapping
    from poster.config.parts import Rule as Rule

__getattr__ = names_from(__name__, dict.fromkeys(("Rule", "JsonMapping"), "poster.config.parts"))


__all__ = [
    "DEFAULT_API_URL",
    "Config",
    "DaemonConfig",
    "DestinationConfig",
    "FeedConfig",
    "JsonMapping",
    "MediaConfig",
    "Rule",
    "Schedule",
    "ViberConfig",
    "WebhookConfig",
    "load_config",
    "parse_duration",
    "token_env",
]
