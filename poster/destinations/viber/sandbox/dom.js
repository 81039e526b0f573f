// Build page elements and read the sandbox's JSON for page.js and tabs.js. Text enters the
// page only as text nodes, and only http(s) links become hrefs.
"use strict";

window.sandboxDom = (() => {
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function safeUrl(value) {
    return typeof value === "string" && /^https?:\/\//i.test(value) ? value : null;
  }

  async function getJson(path) {
    const response = await fetch(path, { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  }

  return { el, safeUrl, getJson };
})();
