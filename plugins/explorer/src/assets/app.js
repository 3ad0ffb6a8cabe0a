// The explorer page: routes on the URL fragment, reads /explorer/api/, follows /events.
"use strict";

const view = document.getElementById("view");
const COIN = 100000000;

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
function coins(sat) {
  if (sat === null || sat === undefined) return "–";
  return (sat / COIN).toFixed(8);
}
function time(unix) {
  return new Date(unix * 1000).toISOString().replace("T", " ").replace(".000Z", " UTC");
}
function ago(unix) {
  const s = Math.max(0, Math.round(Date.now() / 1000 - unix));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " d ago";
}
function si(n) {
  if (n === 0) return "0 ";
  if (n < 1) return n.toPrecision(3) + " ";
  const units = ["", "k", "M", "G", "T", "P", "E"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return n.toFixed(n < 10 ? 2 : 1) + " " + units[i];
}
const blockLink = (hash, text) => `<a class="block-link hash" href="#/block/${esc(hash)}">${esc(text || hash)}</a>`;
const txLink = (txid) => `<a class="tx-link hash" href="#/tx/${esc(txid)}">${esc(txid)}</a>`;
const addrLink = (a) => (a ? `<a class="address-link hash" href="#/address/${esc(a)}">${esc(a)}</a>` : '<span class="muted">non-standard</span>');

async function api(path) {
  const response = await fetch("/explorer/api/" + path, { cache: "no-store" });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function card(label, value, id) {
  return `<div class="card"><div class="label">${esc(label)}</div><div class="value"${id ? ` id="${id}"` : ""}>${value}</div></div>`;
}

function blockRows(blocks) {
  return blocks.map((b) => `<tr data-height="${b.height}"><td class="num">${b.height}</td><td>${blockLink(b.hash)}</td>` +
    `<td class="num">${b.txs}</td><td class="num hide-narrow">${esc(ago(b.time))}</td></tr>`).join("");
}

async function dashboard() {
  const [s, blocks] = await Promise.all([api("summary"), api("blocks?count=10")]);
  const m = s.mempool;
  view.innerHTML = `<h1>${esc(s.chain)} chain</h1>
  <div class="cards">
    ${card("Height", `<span id="height">${s.height}</span>`)}
    ${card("Difficulty", esc(s.difficulty.toPrecision(6)))}
    ${card("Hash rate", esc(si(s.hashrate)) + "H/s")}
    ${card("Mempool", m ? `<span id="mempool-size">${m.size}</span> tx · ${esc(si(m.bytes))}B` : "–")}
    ${card("Mempool fees", m ? coins(m.fees) : "–")}
    ${card("Peers", s.peers === null ? "–" : s.peers)}
  </div>
  <h2>Latest blocks</h2>
  <table><thead><tr><th class="num">Height</th><th>Hash</th><th class="num">Txs</th><th class="num hide-narrow">Mined</th></tr></thead>
  <tbody id="blocks">${blockRows(blocks)}</tbody></table>`;
}

// Live: on a new tip, refresh the figures and put the new blocks on top.
async function refreshDashboard() {
  const height = document.getElementById("height");
  if (!height) return;
  const [s, blocks] = await Promise.all([api("summary"), api("blocks?count=10")]);
  height.textContent = s.height;
  const size = document.getElementById("mempool-size");
  if (size && s.mempool) size.textContent = s.mempool.size;
  const body = document.getElementById("blocks");
  const known = new Set(Array.from(body.rows).map((r) => r.querySelector("a").textContent));
  body.innerHTML = blockRows(blocks);
  for (const row of body.rows) {
    if (!known.has(row.querySelector("a").textContent)) row.classList.add("fresh");
  }
}

async function block(id) {
  const b = await api("block/" + encodeURIComponent(id));
  view.innerHTML = `<h1>Block ${b.height}</h1>
  <dl class="fields">
    <dt>Hash</dt><dd class="hash" id="block-hash">${esc(b.hash)}</dd>
    <dt>Confirmations</dt><dd>${b.main_chain ? b.confirmations : "not on the main chain"}</dd>
    <dt>Time</dt><dd>${esc(time(b.time))}</dd>
    <dt>Previous</dt><dd>${b.previous ? blockLink(b.previous) : "–"}</dd>
    <dt>Next</dt><dd>${b.next ? blockLink(b.next) : "–"}</dd>
    <dt>Merkle root</dt><dd class="hash">${esc(b.merkle_root)}</dd>
    <dt>Version</dt><dd>${b.version}</dd>
    <dt>Bits</dt><dd>${esc(b.bits)} (difficulty ${esc(b.difficulty.toPrecision(6))})</dd>
    <dt>Nonce</dt><dd>${b.nonce}</dd>
    <dt>Size</dt><dd>${b.size} bytes</dd>
    <dt>Subsidy</dt><dd>${coins(b.subsidy)}</dd>
    <dt>Fees</dt><dd>${coins(b.fees)}</dd>
  </dl>
  <h2>${b.tx_count} transaction${b.tx_count === 1 ? "" : "s"}</h2>
  <table><thead><tr><th>Txid</th><th class="num">Out</th><th class="num hide-narrow">Fee</th></tr></thead><tbody>
  ${b.txs.map((t) => `<tr><td>${txLink(t.txid)}${t.coinbase ? ' <span class="muted">coinbase</span>' : ""}</td>` +
    `<td class="num">${coins(t.value_out)}</td><td class="num hide-narrow">${t.coinbase ? "–" : coins(t.fee)}</td></tr>`).join("")}
  </tbody></table>`;
}

async function tx(id) {
  const t = await api("tx/" + encodeURIComponent(id));
  const status = t.block ? `${t.confirmations} confirmation${t.confirmations === 1 ? "" : "s"}, in ${blockLink(t.block, "block " + t.height)}`
    : "unconfirmed (in the mempool)";
  const spent = (s) => (s === true ? '<span class="spent">spent</span>' : s === "unconfirmed" ? "spent (unconfirmed)" : "unspent");
  view.innerHTML = `<h1>Transaction</h1>
  <dl class="fields">
    <dt>Txid</dt><dd class="hash" id="tx-id">${esc(t.txid)}</dd>
    <dt>Status</dt><dd id="tx-status">${status}</dd>
    <dt>Size</dt><dd>${t.size} bytes</dd>
    <dt>Fee</dt><dd>${t.coinbase ? "coinbase" : coins(t.fee)}</dd>
  </dl>
  <h2>Inputs</h2>
  <table><thead><tr><th>Spends</th><th>Address</th><th class="num">Amount</th></tr></thead><tbody>
  ${t.inputs.map((i) => i.coinbase !== undefined ? `<tr><td colspan="3" class="muted">coinbase <span class="hash">${esc(i.coinbase)}</span></td></tr>` :
    `<tr><td>${txLink(i.txid)}:${i.vout}</td><td>${addrLink(i.address)}</td><td class="num">${coins(i.value)}</td></tr>`).join("")}
  </tbody></table>
  <h2>Outputs</h2>
  <table><thead><tr><th class="num">#</th><th>Address</th><th class="num">Amount</th><th>State</th></tr></thead><tbody>
  ${t.outputs.map((o) => `<tr><td class="num">${o.n}</td><td>${addrLink(o.address)}</td><td class="num">${coins(o.value)}</td><td>${spent(o.spent)}</td></tr>`).join("")}
  </tbody></table>`;
}

async function address(id) {
  const a = await api("address/" + encodeURIComponent(id));
  const pending = a.unconfirmed.reduce((sum, o) => sum + o.value, 0);
  view.innerHTML = `<h1>Address</h1>
  <dl class="fields">
    <dt>Address</dt><dd class="hash" id="address">${esc(a.address)}</dd>
    <dt>Balance</dt><dd id="balance">${a.balance === null ? '<span class="muted">needs the chain\'s address index</span>' : coins(a.balance)}</dd>
    <dt>Unconfirmed</dt><dd>${coins(pending)}</dd>
    <dt>Transactions</dt><dd>${a.history_count}</dd>
  </dl>
  <h2>History</h2>
  <table><thead><tr><th>Txid</th><th class="num">Block</th></tr></thead><tbody id="history">
  ${a.history.map((h) => `<tr><td>${txLink(h.txid)}</td><td class="num">${h.height}</td></tr>`).join("") || '<tr><td colspan="2" class="muted">none</td></tr>'}
  </tbody></table>
  <h2>Unspent outputs</h2>
  <table><thead><tr><th>Output</th><th class="num">Amount</th></tr></thead><tbody>
  ${a.unspent.map((u) => `<tr><td>${txLink(u.txid)}:${u.vout}</td><td class="num">${coins(u.value)}</td></tr>`).join("") || '<tr><td colspan="2" class="muted">none</td></tr>'}
  </tbody></table>`;
}

async function mempool() {
  const m = await api("mempool");
  view.innerHTML = `<h1>Mempool: <span id="mempool-count">${m.size}</span> transaction${m.size === 1 ? "" : "s"}</h1>
  <table><thead><tr><th>Txid</th><th class="num">Fee</th><th class="num hide-narrow">sat/B</th></tr></thead><tbody>
  ${m.txs.map((t) => `<tr><td>${txLink(t.txid)}</td><td class="num">${coins(t.fee)}</td><td class="num hide-narrow">${t.fee_rate.toFixed(1)}</td></tr>`).join("") || '<tr><td colspan="3" class="muted">empty</td></tr>'}
  </tbody></table>`;
}

async function route() {
  const [, page, id] = (location.hash || "#/").slice(1).split("/");
  try {
    if (page === "block") await block(decodeURIComponent(id));
    else if (page === "tx") await tx(decodeURIComponent(id));
    else if (page === "address") await address(decodeURIComponent(id));
    else if (page === "mempool") await mempool();
    else if (page === "notfound") view.innerHTML = `<h1>Nothing found</h1><p class="muted">No block, transaction or address matches “${esc(decodeURIComponent(id || ""))}”.</p>`;
    else await dashboard();
    document.body.dataset.page = page || "dashboard";
  } catch (e) {
    view.innerHTML = `<h1>Not available</h1><p class="error">${esc(e.message)}</p>`;
  }
}

document.getElementById("search").addEventListener("submit", async (event) => {
  event.preventDefault();
  const q = document.getElementById("q").value.trim();
  if (!q) return;
  const found = await api("search?q=" + encodeURIComponent(q)).catch(() => ({ kind: "none" }));
  location.hash = found.kind === "none" ? "#/notfound/" + encodeURIComponent(q) : `#/${found.kind}/${encodeURIComponent(found.id)}`;
});

// Live updates from the events plugin; polling when it is not there.
function follow() {
  const live = document.getElementById("live");
  let polling = null;
  const poll = () => { if (!polling) polling = setInterval(refreshDashboard, 10000); };
  if (!window.EventSource) return poll();
  const source = new EventSource("/events");
  const onChange = () => refreshDashboard().catch(() => {});
  source.addEventListener("open", () => { live.textContent = "live"; live.classList.add("on"); clearInterval(polling); polling = null; });
  source.addEventListener("error", () => { live.textContent = "offline"; live.classList.remove("on"); poll(); });
  source.addEventListener("tip_changed", onChange);
  source.addEventListener("tx_accepted", onChange);
  source.addEventListener("tx_removed", onChange);
}

window.addEventListener("hashchange", route);
route();
follow();
