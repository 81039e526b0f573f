"""Show a Viber channel's account and set its webhook, for ``poster account`` and ``webhook``."""

from __future__ import annotations

from poster.destinations import Account
from poster.destinations.viber.answers import WebhookResult
from poster.destinations.viber.api import ViberChannel
from poster.frozen import frozen
from poster.secrets import section


@frozen
class ViberAdmin:
    """The account and webhook calls of one opened channel."""

    channel: ViberChannel

    @property
    def callback_token(self) -> str:
        """Return the token Viber signs its callbacks with."""
        return self.channel.callback_token

    def account(self) -> Account:
        """Describe the channel: its name, id and admins, the one who posts marked as sender.

        The sender is ``from`` when it is set, else the channel's one superadmin; "Only the
        superadmins' ID should be used as the sender ID", so a ``from`` naming anyone else is
        warned of.
        """
        info = self.channel.account_info()
        configured, superadmins = self.channel.sender, info.superadmins()
        sender = configured or (superadmins[0].id if len(superadmins) == 1 else None)
        lines = [f"channel  {info.name}", f"id       {info.id}", "members:"]
        for member in info.members:
            mark = "  <- sender" if member.id == sender else ""
            lines.append(f"  {member.role:<11} {member.id}  {member.name}{mark}")
        key = f"[{section(self.channel.name)}] from"
        warning = None
        if configured is None and len(superadmins) != 1:
            warning = f"set {key} to the superadmin who posts"
        elif configured is not None and configured not in {m.id for m in superadmins}:
            warning = (
                f"{key} is {configured!r}, which is no superadmin of this channel, and Viber "
                "takes posts only from a superadmin's id: set it to one marked superadmin"
            )
        return Account(tuple(lines), warning)

    def set_webhook(self, url: str) -> WebhookResult:
        """Register ``url`` as the channel's webhook."""
        return self.channel.set_webhook(url)

    def remove_webhook(self) -> WebhookResult:
        """Remove the channel's webhook."""
        return self.channel.remove_webhook()
