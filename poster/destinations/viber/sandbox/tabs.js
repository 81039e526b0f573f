// Show a tab per channel and per gateway when the sandbox serves more than one channel, and on
// a gateway's tab show each subscriber's phone with the messages it got. Every value enters the
// page as a text node or a checked http(s) link, so whatever a client sends is shown, not run.
"use strict";

(() => {
  const POLL_MS = 1000;
  const { el, safeUrl, getJson } = window.sandboxDom;
  const params = new URLSearchParams(location.search);
  const gatewayId = params.get("gateway");
  const channelId = gatewayId ? null : params.get("channel") || "1";
  const tabs = document.getElementById("tabs");
  const phonesBox = document.getElementById("phones");

  function tab(label, query, selected) {
    const a = el("a", selected ? "tab selected" : "tab", label);
    a.href = `/?${query}`;
    if (selected) a.setAttribute("aria-current", "page");
    return a;
  }

  function showTabs(channels, gateways) {
    tabs.hidden = channels.length < 2 && gateways.length === 0;
    if (tabs.hidden) {
      tabs.replaceChildren();
      return;
    }
    tabs.replaceChildren(
      ...channels.map((c) => tab(c.name, `channel=${c.id}`, String(c.id) === channelId)),
      ...gateways.map((g) => tab(`📱 ${g.name}`, `gateway=${encodeURIComponent(g.id)}`, g.id === gatewayId)),
    );
  }

  function bubble(message) {
    const state = String(message.state || "");
    const node = el("article", `gw-message state-${state.replace(/[^a-z]/g, "")}`);
    if (message.sender) node.append(el("div", "sender", message.sender));
    const href = safeUrl(message.image);
    if (href) {
      const img = el("img", "gw-image");
      img.alt = "picture";
      img.src = href;
      node.append(img);
    }
    if (message.text) node.append(el("div", "gw-text", message.text));
    if (message.button) {
      const button = el("a", "gw-button", message.button);
      const link = safeUrl(message.link);
      if (link) button.href = link;
      button.target = "_blank";
      button.rel = "noopener noreferrer";
      node.append(button);
    }
    node.append(el("div", "gw-status", message.status));
    return node;
  }

  function phone(entry) {
    const box = el("section", "phone");
    box.dataset.number = String(entry.number);
    box.append(el("header", "phone-number", `+${entry.number}`));
    const screen = el("div", "phone-screen");
    screen.append(...entry.messages.map(bubble));
    box.append(screen);
    return box;
  }

  function showGateway(gateway) {
    const name = String(gateway.name);
    document.getElementById("channel-name").textContent = name;
    document.getElementById("channel-avatar").textContent = "📱";
    document.title = `${name} · poster sandbox`;
    const count = gateway.phones.length;
    document.getElementById("post-count").textContent =
      count === 1 ? "1 phone" : count ? `${count} phones` : "no messages yet";
    document.getElementById("feed").hidden = true;
    phonesBox.hidden = false;
    if (count === 0) {
      phonesBox.replaceChildren(el("p", "empty", `No messages yet. Base URL: ${location.origin}${gateway.base}`));
    } else {
      phonesBox.replaceChildren(...gateway.phones.map(phone));
    }
  }

  async function poll() {
    const live = document.getElementById("live");
    try {
      const [channels, gateways] = await Promise.all([getJson("/sandbox/channels"), getJson("/sandbox/gateways")]);
      showTabs(channels, gateways);
      const gateway = gatewayId ? gateways.find((g) => g.id === gatewayId) : null;
      if (gateway) {
        showGateway(gateway);
        live.textContent = "live";
        live.className = "live";
      }
    } catch (_) {
      if (gatewayId) {
        live.textContent = "sandbox not reachable, retrying";
        live.className = "offline";
      }
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  poll();
})();
