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
        """Describe the channel: its name, id and admins, the superadmin marked as the sender."""
        info = self.channel.account_info()
        lines = [f"channel  {info.name}", f"id       {info.id}", "members:"]
        for member in info.members:
            mark = "  <- sender" if member.role == "superadmin" else ""
            lines.append(f"  {member.role:<11} {member.id}  {member.name}{mark}")
        warning = None
        if len(info.superadmins()) != 1:
            warning = f"set [{section(self.channel.name)}] from to the superadmin who posts"
        return Account(tuple(lines), warning)

    def set_webhook(self, url: str) -> WebhookResult:
        """Register ``url`` as the channel's webhook."""
        return self.channel.set_webhook(url)

    def remove_webhook(self) -> WebhookResult:
        """Remove the channel's webhook."""
        return self.channel.remove_webhook()
