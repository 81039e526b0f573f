// Render the sandbox channel's posts as a Viber channel shows them, newest at the bottom.
// Every piece of post text enters the page as a text node (never through innerHTML), so
// whatever a client posts is shown, not run.
"use strict";

(() => {
  const POLL_MS = 1000;
  const { el, safeUrl, getJson } = window.sandboxDom;
  const params = new URLSearchParams(location.search);
  // A gateway's tab shows phones, drawn by tabs.js; this script draws a channel's posts.
  if (params.has("gateway")) return;
  const channelId = params.get("channel") || "1";
  const postsPath = channelId === "1" ? "/sandbox/posts" : `/sandbox/channels/${encodeURIComponent(channelId)}/posts`;
  const scroller = document.getElementById("scroller");
  const feed = document.getElementById("feed");
  const empty = document.getElementById("empty");
  const countLine = document.getElementById("post-count");
  const live = document.getElementById("live");
  const notice = document.getElementById("notice");
  const noticeSummary = document.getElementById("notice-summary");
  const noticeProblems = document.getElementById("notice-problems");
  const nameLine = document.getElementById("channel-name");
  let channelName = nameLine.textContent.trim();
  let shown = 0;
  let lastDay = "";
  let firstToken = null;

  function showName(name) {
    channelName = name;
    nameLine.textContent = name;
    document.title = `${name} · poster sandbox`;
    document.getElementById("channel-avatar").textContent = Array.from(name)[0]?.toUpperCase() ?? "";
  }

  showName(channelName);

  function link(url, text, className) {
    const a = el("a", className, text === undefined ? url : text);
    const href = safeUrl(url);
    if (href) a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  function hostOf(url) {
    try {
      return new URL(url).host;
    } catch (_) {
      return String(url || "");
    }
  }

  function humanSize(bytes) {
    const n = Number(bytes);
    if (!Number.isFinite(n) || n < 0) return "";
    if (n < 1024) return `${n} B`;
    const units = ["KB", "MB", "GB"];
    let value = n / 1024;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return `${value.toFixed(1)} ${units[unit]}`;
  }

  function clock(seconds) {
    const s = Math.max(0, Math.floor(Number(seconds) || 0));
    return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
  }

  // Viber formatting: *bold*, _italic_, ~strike~ around non-space text, not inside words.
  const INLINE = /(?<![\w*_~])(?:\*(\S(?:[^*\n]*?\S)?)\*|_(\S(?:[^_\n]*?\S)?)_|~(\S(?:[^~\n]*?\S)?)~)(?![\w*_~])/;

  function appendInline(parent, text) {
    let rest = text;
    while (rest) {
      const m = INLINE.exec(rest);
      if (!m) {
        parent.append(rest);
        return;
      }
      parent.append(rest.slice(0, m.index));
      const tag = m[1] !== undefined ? "strong" : m[2] !== undefined ? "em" : "del";
      const node = document.createElement(tag);
      appendInline(node, m[1] ?? m[2] ?? m[3]);
      parent.append(node);
      rest = rest.slice(m.index + m[0].length);
    }
  }

  // ```monospace``` blocks and bare links are cut out first so formatting cannot break them.
  const BLOCKS = /```([\s\S]+?)```|(https?:\/\/[^\s<>"]+)/g;

  function appendRich(parent, text) {
    const source = String(text);
    let last = 0;
    for (const m of source.matchAll(BLOCKS)) {
      appendInline(parent, source.slice(last, m.index));
      if (m[1] !== undefined) {
        parent.append(el("code", null, m[1]));
      } else {
        const url = m[2].replace(/[.,;:!?)\]'*_~]+$/, "");
        parent.append(link(url));
        parent.append(m[2].slice(url.length));
      }
      last = m.index + m[0].length;
    }
    appendInline(parent, source.slice(last));
  }

  function richBlock(className, text) {
    const block = el("div", className);
    appendRich(block, text);
    return block;
  }

  function mediaFrame(className, src, alt, label) {
    const frame = el("div", `media-frame ${className}`);
    frame.append(el("div", "media-placeholder", label));
    const href = safeUrl(src);
    if (href) {
      const img = el("img", "media-image");
      img.alt = alt;
      img.addEventListener("load", () => frame.classList.add("loaded"));
      img.addEventListener("error", () => frame.classList.add("failed"));
      img.src = href;
      frame.append(img);
    }
    return frame;
  }

  const RENDER = {
    text(post, body) {
      body.append(richBlock("text", post.text));
    },
    picture(post, body) {
      const label = `Picture unavailable offline · ${hostOf(post.media)}`;
      body.append(mediaFrame("picture-frame", post.media, post.text || "picture", label));
      if (post.text) body.append(richBlock("text caption", post.text));
    },
    video(post, body) {
      const frame = mediaFrame("video-frame", post.thumbnail, "video thumbnail", "");
      frame.append(el("div", "play-badge", "▶"));
      if (post.duration !== undefined && post.duration !== null) {
        frame.append(el("div", "duration", clock(post.duration)));
      }
      body.append(frame);
      const meta = el("div", "media-meta");
      meta.append(link(post.media, "Video"), ` · ${humanSize(post.size)}`);
      body.append(meta);
    },
    file(post, body) {
      const row = el("div", "file-row");
      const name = String(post.file_name || "file");
      const ext = name.includes(".") ? name.split(".").pop().slice(0, 4) : "";
      row.append(el("div", "file-icon", ext.toUpperCase()));
      const info = el("div", "file-info");
      info.append(link(post.media, name, "file-name"), el("div", "file-size", humanSize(post.size)));
      row.append(info);
      body.append(row);
    },
    url(post, body) {
      const card = link(post.media, "", "link-card");
      card.append(el("div", "link-host", hostOf(post.media)));
      if (post.text) card.append(el("div", "link-text", post.text));
      card.append(el("div", "link-url", post.media));
      body.append(card);
    },
    location(post, body) {
      const where = post.location || {};
      const lat = String(where.lat);
      const lon = String(where.lon);
      const map = `https://www.openstreetmap.org/?mlat=${encodeURIComponent(lat)}&mlon=${encodeURIComponent(lon)}#map=15/${encodeURIComponent(lat)}/${encodeURIComponent(lon)}`;
      const tile = link(map, "", "map-tile");
      tile.append(el("span", "map-pin"));
      body.append(tile, link(map, `📍 ${lat}, ${lon}`, "location-link"));
    },
    contact(post, body) {
      const who = post.contact || {};
      const card = el("div", "contact-card");
      // Whole code points: an emoji is two UTF-16 units, and half of one shows as "\uFFFD".
      const firsts = String(who.name || "?").split(/\s+/).map((w) => Array.from(w)[0] ?? "");
      const initials = firsts.join("").length ? Array.from(firsts.join("")).slice(0, 2).join("") : "?";
      card.append(el("div", "contact-avatar", initials.toUpperCase()));
      const info = el("div", "contact-info");
      const phone = el("a", "contact-phone", who.phone_number);
      phone.href = `tel:${String(who.phone_number || "").replace(/[^+\d]/g, "")}`;
      info.append(el("div", "contact-name", who.name), phone);
      card.append(info);
      body.append(card);
    },
    sticker(post, body) {
      body.append(el("div", "sticker", `Sticker #${post.sticker_id}`));
    },
  };

  function dayOf(date) {
    return date.toLocaleDateString(undefined, { weekday: "long", day: "numeric", month: "long" });
  }

  function render(post) {
    const type = String(post.type);
    const when = new Date(Number(post.ts));
    const day = dayOf(when);
    if (day !== lastDay) {
      feed.append(el("div", "day", day));
      lastDay = day;
    }
    const article = el("article", `post post-${type.replace(/[^a-z]/g, "")}`);
    article.dataset.type = type;
    const bubble = el("div", "bubble");
    bubble.append(el("div", "sender", channelName));
    const body = el("div", "body");
    (RENDER[type] || ((p, b) => b.append(el("pre", "raw", JSON.stringify(p, null, 2)))))(post, body);
    bubble.append(body);
    const time = el("time", "time", when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    time.dateTime = when.toISOString();
    time.title = when.toLocaleString();
    bubble.append(time);
    article.append(bubble);
    return article;
  }

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
  }

  // A channel that was cleared and posted to again (poster studio re-renders that way) starts
  // with another message token, even when it holds as many posts as before.
  function show(posts) {
    const first = posts.length ? posts[0].message_token : null;
    if (posts.length < shown || (shown > 0 && first !== firstToken)) {
      feed.querySelectorAll(".post, .day").forEach((node) => node.remove());
      shown = 0;
      lastDay = "";
    }
    firstToken = first;
    const follow = shown === 0 || nearBottom();
    for (const post of posts.slice(shown)) feed.append(render(post));
    shown = posts.length;
    empty.hidden = shown > 0;
    countLine.textContent = shown === 1 ? "1 post" : shown ? `${shown} posts` : "no posts yet";
    if (follow) scroller.scrollTop = scroller.scrollHeight;
  }

  function showNotice(state) {
    const problems = Array.isArray(state.problems) ? state.problems : [];
    noticeSummary.textContent = String(state.summary || "");
    noticeProblems.replaceChildren(...problems.map((line) => el("li", null, line)));
    notice.classList.toggle("has-problems", problems.length > 0);
    notice.hidden = !state.summary && problems.length === 0;
  }

  async function poll() {
    try {
      showNotice(await getJson("/sandbox/notice"));
      if (channelId !== "1" && shown === 0) {
        const found = (await getJson("/sandbox/channels")).find((c) => String(c.id) === channelId);
        if (found && found.name !== channelName) showName(String(found.name));
      }
      show(await getJson(postsPath));
      live.textContent = "live";
      live.className = "live";
    } catch (_) {
      live.textContent = "sandbox not reachable, retrying";
      live.className = "offline";
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  poll();
})();
