/** The dashboard's stylesheet, inlined in the page (no CDN, no external file). */
export const DASHBOARD_CSS = String.raw`
:root {
  --bg: #f4f6f9; --card: #ffffff; --ink: #1d2733; --muted: #5f6c7b; --line: #e2e7ee;
  --accent: #2f6fde; --accent-soft: #e7effc;
  --ok: #1f8a4c; --ok-soft: #e3f4ea; --warn: #b86e00; --warn-soft: #fff3dc; --bad: #c23a3a; --bad-soft: #fbe7e7;
  --online: #58b37a; --window: rgba(245, 166, 35, 0.18); --window-line: #e39a1e; --purple: #7b4bd1;
}
* { box-sizing: border-box; }
html, body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
header.top { display: flex; align-items: center; gap: 24px; padding: 10px 24px; background: #17253a; color: #fff; }
header.top .brand { font-weight: 700; font-size: 18px; letter-spacing: 0.2px; }
header.top .brand .sub { font-weight: 400; font-size: 13px; color: #b8c4d6; margin-left: 8px; }
header.top nav { display: flex; gap: 16px; }
header.top nav a { color: #d6e1f2; }
header.top nav a.active { color: #fff; font-weight: 600; }
.live { margin-left: auto; display: flex; align-items: center; gap: 8px; font-size: 13px; color: #cfd8e6; }
.live .dot { width: 9px; height: 9px; border-radius: 50%; background: #8896a8; }
.live.on .dot { background: #4cd17f; box-shadow: 0 0 0 3px rgba(76, 209, 127, 0.25); }
.live.flash .dot { background: #fff; }
section.timebar { position: sticky; top: 0; z-index: 5; background: #fff; border-bottom: 1px solid var(--line);
  padding: 10px 24px 8px; display: grid; grid-template-columns: 260px 1fr auto; gap: 4px 18px; align-items: center; }
.timebar .asof { font-size: 13px; color: var(--muted); }
.timebar .asof strong { color: var(--ink); font-size: 15px; display: block; }
.timebar input[type=range] { width: 100%; accent-color: var(--accent); }
.timebar .ends { grid-column: 2; display: flex; justify-content: space-between; font-size: 11px; color: var(--muted); margin-top: -4px; }
.timebar .buttons { display: flex; gap: 6px; }
button { font: inherit; font-size: 12px; border: 1px solid var(--line); background: #fff; color: var(--ink);
  border-radius: 6px; padding: 4px 9px; cursor: pointer; }
button:hover { border-color: var(--accent); color: var(--accent); }
button.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
button.primary:hover { color: #fff; filter: brightness(1.08); }
button.selected { background: var(--accent-soft); border-color: var(--accent); color: var(--accent); }
.pill { display: inline-block; font-size: 11px; padding: 1px 8px; border-radius: 10px; background: var(--accent-soft); color: var(--accent); font-weight: 600; }
.pill.past { background: var(--warn-soft); color: var(--warn); }
main { padding: 18px 24px 40px; max-width: 1500px; margin: 0 auto; }
h1 { font-size: 20px; margin: 4px 0 14px; }
h2 { font-size: 17px; margin: 0; }
h3 { font-size: 13px; text-transform: uppercase; letter-spacing: 0.5px; color: var(--muted); margin: 14px 0 6px; }
.stats { display: grid; grid-template-columns: repeat(4, 1fr); gap: 14px; margin-bottom: 18px; }
.stat { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; }
.stat .label { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.4px; }
.stat .value { font-size: 24px; font-weight: 700; }
.stat .detail { font-size: 12px; color: var(--muted); }
.stat .bar { display: flex; height: 6px; border-radius: 3px; overflow: hidden; background: var(--line); margin-top: 6px; }
.stat .bar span { display: block; height: 100%; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 16px 18px; margin-bottom: 18px;
  box-shadow: 0 1px 2px rgba(16, 24, 40, 0.04); }
.card-head { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
.card-head .spacer { flex: 1; }
.keyicon { display: inline-flex; cursor: help; }
.keysvg { flex: none; }
.badge { display: inline-block; font-size: 12px; font-weight: 600; padding: 1px 9px; border-radius: 10px; white-space: nowrap; }
.badge.ok, .badge.Default, .badge.Connected, .badge.None { background: var(--ok-soft); color: var(--ok); }
.badge.warn, .badge.PendingNewKey, .badge.Renewing { background: var(--warn-soft); color: var(--warn); }
.badge.bad, .badge.KeyExpired, .badge.Expired, .badge.Fix { background: var(--bad-soft); color: var(--bad); }
.badge.muted { background: #eef1f5; color: var(--muted); }
.message { margin: 10px 0 4px; padding: 9px 12px; border-radius: 8px; background: var(--warn-soft); border: 1px solid #f3d49b; color: #6b4500; display: flex; gap: 8px; align-items: center; }
.message.bad { background: var(--bad-soft); border-color: #efb9b9; color: #7a1f1f; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 8px 18px; margin: 12px 0 4px; }
.facts div { font-size: 12px; color: var(--muted); }
.facts b { display: block; color: var(--ink); font-size: 13px; font-weight: 600; }
.columns { display: grid; grid-template-columns: 3fr 2fr; gap: 18px; }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th { text-align: left; font-size: 11px; text-transform: uppercase; letter-spacing: 0.4px; color: var(--muted); font-weight: 600; padding: 4px 8px; border-bottom: 1px solid var(--line); }
td { padding: 5px 8px; border-bottom: 1px solid #f0f2f6; vertical-align: middle; }
tr:last-child td { border-bottom: none; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
.small { font-size: 12px; }
.timeline { margin-top: 10px; border: 1px solid var(--line); border-radius: 8px; background: #fbfcfe; padding: 6px 4px 2px; }
.timeline svg { display: block; width: 100%; }
.timeline .toolbar { display: flex; gap: 6px; align-items: center; padding: 0 6px 4px; font-size: 12px; color: var(--muted); }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 11px; color: var(--muted); padding: 4px 8px 6px; }
.legend i { display: inline-block; width: 14px; height: 8px; border-radius: 2px; margin-right: 5px; vertical-align: middle; }
.empty { color: var(--muted); padding: 30px; text-align: center; }
.error { background: var(--bad-soft); color: var(--bad); border: 1px solid #efb9b9; padding: 10px 14px; border-radius: 8px; margin-bottom: 14px; }
.conn-card .more { margin-top: 8px; display: inline-block; font-weight: 600; }
.history li { margin: 2px 0; font-size: 12px; }
.history code { background: #f0f3f8; padding: 0 4px; border-radius: 3px; }
.deadline.soon { color: var(--bad); font-weight: 600; }
tr.explainable { cursor: pointer; }
tr.explainable:hover td { background: #f5f8fd; }
button.why { font-size: 12px; padding: 2px 8px; margin-right: 8px; }
aside.explain { position: fixed; top: 70px; right: 16px; bottom: 16px; width: min(560px, 46vw); overflow: auto; z-index: 10; box-shadow: 0 8px 30px rgba(23, 37, 58, 0.25); }
aside.explain[hidden] { display: none; }
aside.explain .summary { font-weight: 600; }
aside.explain code.formula { display: block; white-space: pre-wrap; background: #f0f3f8; padding: 6px 8px; border-radius: 4px; font-size: 12px; margin: 4px 0; }
aside.explain ol.chain, aside.explain ul.levers { padding-left: 20px; font-size: 12px; }
aside.explain ol.chain li { margin: 3px 0; }
aside.explain button.close { font-size: 18px; line-height: 1; padding: 0 8px; }
footer { text-align: center; color: var(--muted); font-size: 11px; padding: 0 0 20px; }
@media (max-width: 1000px) { .columns, .stats { grid-template-columns: 1fr; } section.timebar { grid-template-columns: 1fr; } .timebar .ends { grid-column: 1; } }
`;
