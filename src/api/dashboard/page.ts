/**
 * GET /: the dashboard, one self-contained HTML page (inline CSS and JavaScript, no CDN). Its
 * Content-Security-Policy allows exactly the page's own inline style and script (by hash), requests
 * to this server only, and nothing else.
 */
import { createHash } from 'node:crypto';
import { DASHBOARD_JS } from './script.js';
import { DASHBOARD_CSS } from './style.js';

export interface DashboardPage {
  readonly html: string;
  readonly contentSecurityPolicy: string;
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

let cached: DashboardPage | null = null;

export function dashboardPage(): DashboardPage {
  if (cached) return cached;
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rekey · machine group certificates</title>
<link rel="icon" href="/favicon.ico" type="image/svg+xml">
<style>${DASHBOARD_CSS}</style>
</head>
<body data-loading="true">
<header class="top">
  <div class="brand">rekey<span class="sub">Machine group certificate renewal</span></div>
  <nav><a href="#/" data-route="overview">Machine groups</a><a href="#/reminders" data-route="reminders">Reminders</a></nav>
  <div id="live" class="live"><span class="dot"></span><span id="live-text">connecting…</span></div>
</header>
<section class="timebar" aria-label="time travel">
  <div class="asof"><label for="asof-slider">Tables as of</label><strong id="asof-label">—</strong><span id="asof-mode" class="pill">live</span></div>
  <input type="range" id="asof-slider" min="0" max="1" step="60000" value="1" aria-label="as of instant">
  <div class="buttons">
    <button type="button" data-step="-30" title="30 days earlier">−30 d</button>
    <button type="button" data-step="-1" title="one day earlier">−1 d</button>
    <button type="button" data-step="1" title="one day later">+1 d</button>
    <button type="button" data-step="30" title="30 days later">+30 d</button>
    <button type="button" id="now-btn" class="primary" title="back to the head of the log, live">Now</button>
  </div>
  <div class="ends"><span id="range-start"></span><span id="range-end"></span></div>
</section>
<main id="view"><div class="empty">Loading…</div></main>
<aside id="explain" class="explain card" aria-live="polite" hidden></aside>
<footer>rekey · tables as the Dataverse Web API shows them at <code>/api/data/v9.2</code> · change feed at <code>/api/changes</code> · <a href="/metrics">metrics</a></footer>
<script>${DASHBOARD_JS}</script>
</body>
</html>
`;
  const contentSecurityPolicy = [
    "default-src 'none'",
    `script-src ${sha256(DASHBOARD_JS)}`,
    `style-src ${sha256(DASHBOARD_CSS)}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  cached = { html, contentSecurityPolicy };
  return cached;
}
