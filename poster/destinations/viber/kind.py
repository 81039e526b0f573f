"""Tell poster what a Viber channel takes: which type an item becomes, and its message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from poster.config import DEFAULT_API_URL, DestinationConfig, FeedConfig, ViberConfig, token_env
from poster.config import values as v
from poster.config.feedkeys import Key
from poster.destinations import REDACTED, Destination, Entries, Message
from poster.destinations.viber.token import (
    SHORTHAND,
    TOKEN_ENV,
    channel_token,
    shape_for,
    token_mark,
)

if TYPE_CHECKING:
    import httpx

    from poster.destinations import Account, Limit, Opening, Sender, TokenSource
    from poster.destinations.viber.account import ViberAdmin
    from poster.destinations.viber.api import ViberChannel
    from poster.media.policy import MediaRules
    from poster.models import Item, Post
    from poster.sandbox.hooks import SandboxHost

UNRESOLVED_SENDER = "<super-admin id from get_account_info>"
_API = "the Channels Post API"


def _no_token(_value: object, _ctx: v.Context) -> None:
    """Refuse a literal token; the message never repeats the value."""
    raise v.fail(
        "a literal token does not belong in feeds.toml",
        f"delete it and put the token in the environment ({TOKEN_ENV} for [{SHORTHAND}], "
        "POSTER_<NAME>_TOKEN for [destinations.NAME]), in a file named by token_file, or in "
        "systemd credentials; rotate it if this file was ever shared",
    )


class ViberKind:
    """The Viber channel kind: Channels Post API types and limits."""

    name = SHORTHAND
    shorthand = SHORTHAND
    keys: Mapping[str, Key] = {
        "api_url": Key(DEFAULT_API_URL, v.http_url),
        "from": Key(None, v.text),
        "token_file": Key(None, v.path_value),
        "token": Key(None, _no_token, hidden=True),
    }

    @property
    def fixed_limits(self) -> Mapping[str, Limit]:
        """Return the API's limits on a fixed contact card's fields."""
        # Here: the message model loads when a message is made, and status and check make none.
        from poster.destinations import Limit
        from poster.destinations.viber.apilimits import CONTACT_NAME_MAX, CONTACT_PHONE_MAX

        return {
            "contact.name": Limit(CONTACT_NAME_MAX, _API),
            "contact.phone_number": Limit(CONTACT_PHONE_MAX, _API),
        }

    def refused_for_webhook(self, refusal: str) -> bool:
        """Tell whether the channel's refusal is ``webhookNotSet``: posts wait for a webhook."""
        from poster.destinations.viber.codes import refused_for_webhook

        return refused_for_webhook(refusal)

    def settings(self, values: Mapping[str, Any]) -> ViberConfig:
        """Return the channel's settings from its checked section."""
        return ViberConfig(
            api_url=values["api_url"],
            sender=values["from"],
            token_file=values["token_file"],
            min_gap=values["min_gap"],
            max_per_pass=values["max_per_pass"],
        )

    def choose_type(self, item: Item, feed: FeedConfig) -> str:
        """Return the type ``item`` becomes on a channel (JPEG picture, sized MP4, fallback)."""
        from poster.destinations.viber import typechoice

        return typechoice.choose_type(item, feed)

    @property
    def media_rules(self) -> MediaRules:
        """Return the images a channel takes as a picture and as a thumbnail."""
        from poster.destinations.viber import typechoice

        return typechoice.RULES

    def explain(self, item: Item, feed: FeedConfig) -> str | None:
        """Say why probed media did not make ``item`` a picture or a video."""
        from poster.destinations.viber import typechoice

        return typechoice.explain(item, feed)

    def possible_types(self, feed: FeedConfig) -> tuple[str, ...]:
        """Return every type ``feed`` can produce on a channel."""
        from poster.destinations.viber import typechoice

        return typechoice.possible_types(feed)

    def text_limit(self, type: str) -> int:
        """Return the characters of text a message of ``type`` carries."""
        from poster.destinations.viber.apilimits import text_limit

        return text_limit(type)

    def compose(self, post: Post) -> Message:
        """Return the channel message for ``post``, cut to the API's limits."""
        from poster.destinations.viber import compose

        return compose.compose(post)

    def preview_body(self, message: Message, sender: str | None) -> dict[str, Any]:
        """Return the JSON body the channel would get, the token redacted."""
        from poster.destinations.viber.body import envelope

        return envelope(message, sender or UNRESOLVED_SENDER, REDACTED)

    def open(self, spec: DestinationConfig, where: Opening) -> ViberChannel:
        """Return the channel client, its token loaded and its sender configured or remembered."""
        return channel(spec, where.config_file, where.http, where.state, token=where.token)

    def sender(self, spec: DestinationConfig, state: Entries) -> Sender | None:
        """Return the configured sender, else the one looked up once and remembered."""
        settings: ViberConfig = spec.settings
        found: str | None = settings.sender
        source = "feeds.toml"
        if found is None:
            found, source = remembered_sender(state, spec.name, settings.api_url), "remembered"
        if found is None:
            return None
        from poster.destinations import Sender  # here: a channel not posted to yet has none

        return Sender(found, source)

    def token_source(self, spec: DestinationConfig, config_file: str) -> TokenSource:
        """Say where the channel's token comes from, checking it as a post would."""
        # Here: only check and a pass look a token up; status never does.
        from poster.secrets import (
            TokenSource,
            exposed,
            find_token,
            judge_token,
            section,
            source_text,
        )

        settings: ViberConfig = spec.settings
        found = find_token(settings, name=spec.name)
        if found is None:
            missing = "no Viber token" if spec.name == SHORTHAND else f"no token for {spec.name!r}"
            hint = (
                f"set {token_env(spec.name)}, [{section(spec.name)}] token_file, or the systemd "
                f"credential {spec.credential}"
            )
            return TokenSource(None, missing, hint)
        # Judged as a post would judge it, but never sent nor logged here: left unredacted.
        judge_token(*found, shape_for(settings.api_url))
        return TokenSource(source_text(found[1]), warning=exposed(found[1]))

    @property
    def sandbox(self) -> SandboxHost:
        """Return the local sandbox channels that stand in for a channel."""
        from poster.destinations.viber.sandbox.host import SANDBOX

        return SANDBOX

    def admin(self, destination: Destination) -> ViberAdmin:
        """Return the account and webhook calls of a channel this kind opened."""
        from poster.destinations.viber.account import ViberAdmin
        from poster.destinations.viber.api import ViberChannel

        assert isinstance(destination, ViberChannel), "opened by this kind"
        return ViberAdmin(destination)

    def account(self, destination: Destination) -> Account:
        """Describe a channel this kind opened: its name, id and admins."""
        return self.admin(destination).account()


def channel(
    spec: DestinationConfig,
    config_file: str,
    http: httpx.Client,
    state: Entries | None = None,
    *,
    token: str | None = None,
) -> ViberChannel:
    """Return the client of the channel ``spec`` names: the one place a channel is made.

    The sender is the configured one, else the one remembered in ``state`` (read on the first
    post, so a channel opens before the state does), else looked up and remembered there.
    A sender looked up with another token is looked up again. Deliveries are recorded under
    ``spec.name``: posts to a sandbox never count as posts to the real channel.
    """
    from poster.destinations.viber.api import ViberChannel  # the client imports this module

    settings: ViberConfig = spec.settings
    if token is None:
        token = channel_token(settings, config_file, name=spec.name)
    if state is None:
        return ViberChannel(http, token, api_url=settings.api_url, sender=settings.sender)
    from poster.store.ledger import sender_key, sender_token_key

    key, mark_key, mark = sender_key(spec.name), sender_token_key(spec.name), token_mark(token)

    def remember(found: str) -> None:
        state.set_meta(key, found)
        state.set_meta(mark_key, mark)

    def recall() -> str | None:
        kept = state.get_meta(mark_key)
        if kept is not None and kept != mark:
            return None  # another token, most likely another channel with its own superadmin
        found = remembered_sender(state, spec.name, settings.api_url)
        if found is not None and kept is None:
            state.set_meta(mark_key, mark)  # remembered by an earlier release, with this token
        return found

    return ViberChannel(
        http, token, api_url=settings.api_url, sender=settings.sender, name=spec.name,
        remember=remember, recall=recall,
    )  # fmt: skip


def remembered_sender(state: Entries, destination: str, api_url: str) -> str | None:
    """Return the sender remembered for ``destination``, reading an older release's entry too.

    Releases with one channel kept it per API URL; only the shorthand destination inherits it,
    since another destination with the same API URL is another channel.
    """
    # Imported here: check reads the channel's settings without the ledger's records.
    from poster.store.ledger import sender_key

    found = state.get_meta(sender_key(destination))
    if found is None and destination == SHORTHAND:
        found = state.get_meta(f"sender {api_url.rstrip('/')}")
    return found


KIND = ViberKind()
