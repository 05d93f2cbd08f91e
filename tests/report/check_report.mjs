// Opens a `volley report` page in headless chromium (Debian's, driven by
// puppeteer-core from .tools/npm) as a person would, and checks it:
//   - no request but the page itself (every other one is aborted and
//     counted), no console error, no page error;
//   - the charts get drawn (body[data-charts-ready], SVG polylines);
//   - the DOM: threshold rows, chart figures, texts that must appear.
// Takes a full-page screenshot. Prints one JSON line with what it saw and
// exits 1 when a check failed (2 when it could not run at all).
//
//   node check_report.mjs PAGE.html SCREENSHOT.png EXPECT.json
// EXPECT: {"thresholds": N, "charts_min": N, "group_charts": N,
//          "texts": ["..."], "cells": {"CSS selector": "text it must have"}}
import { createRequire } from 'module';
import path from 'path';
import { pathToFileURL, fileURLToPath } from 'url';
import fs from 'fs';

const here = path.dirname(fileURLToPath(import.meta.url));
const npmDir = process.env.VOLLEY_NPM_DIR || path.join(here, '..', '..', '.tools', 'npm');
const require = createRequire(path.join(npmDir, 'node_modules', 'x.js'));
let puppeteer;
try {
  puppeteer = require('puppeteer-core');
} catch (e) {
  console.log(JSON.stringify({ fatal: 'puppeteer-core not found under ' + npmDir + ' (run tools/setup)' }));
  process.exit(2);
}
const [page_path, shot, expect_path] = process.argv.slice(2);
const expect = JSON.parse(fs.readFileSync(expect_path, 'utf8'));
const url = pathToFileURL(path.resolve(page_path)).href;
const chromium = process.env.VOLLEY_CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(chromium)) {
  console.log(JSON.stringify({ fatal: chromium + ' not found (apt-get install chromium; tools/setup does)' }));
  process.exit(2);
}

const problems = [], requests = [], console_errors = [];
const browser = await puppeteer.launch({
  executablePath: chromium, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--disable-default-apps'],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1360, height: 900 });
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    if (req.url() === url) return req.continue();
    requests.push(req.url());
    req.abort();
  });
  page.on('console', (m) => { if (m.type() === 'error') console_errors.push(m.text()); });
  page.on('pageerror', (e) => console_errors.push('page error: ' + e.message));
  await page.goto(url, { waitUntil: 'load', timeout: 15000 });
  await page.waitForSelector('body[data-charts-ready]', { timeout: 10000 });
  const seen = await page.evaluate((cells) => {
    const out = {
      thresholds: document.querySelectorAll('#thresholds-table tr.th-row').length,
      charts: document.querySelectorAll('#charts-grid figure.chart svg.chart').length,
      drawn: document.querySelectorAll('#charts-grid figure.chart svg polyline').length,
      group_charts: document.querySelectorAll('#group-charts figure.chart svg.chart').length,
      sparks: document.querySelectorAll('td.spark svg').length,
      spark_cells: document.querySelectorAll('td.spark').length,
      text: document.body.innerText,
      cells: {},
    };
    for (const sel of Object.keys(cells)) {
      const e = document.querySelector(sel);
      out.cells[sel] = e ? e.textContent.trim() : null;
    }
    return out;
  }, expect.cells || {});
  if ('thresholds' in expect && seen.thresholds !== expect.thresholds)
    problems.push(`threshold rows: ${seen.thresholds}, expected ${expect.thresholds}`);
  if (seen.charts < (expect.charts_min || 1)) problems.push(`charts: ${seen.charts}, expected >= ${expect.charts_min}`);
  if (seen.drawn < seen.charts) problems.push(`charts with a line: ${seen.drawn} of ${seen.charts}`);
  if ('group_charts' in expect && seen.group_charts !== expect.group_charts)
    problems.push(`request-name charts: ${seen.group_charts}, expected ${expect.group_charts}`);
  if (seen.sparks !== seen.spark_cells) problems.push(`small charts: ${seen.sparks} of ${seen.spark_cells} cells`);
  for (const t of expect.texts || [])
    if (!seen.text.includes(t)) problems.push(`text not on the page: ${JSON.stringify(t)}`);
  for (const [sel, want] of Object.entries(expect.cells || {}))
    if (seen.cells[sel] === null || !seen.cells[sel].includes(want))
      problems.push(`${sel}: ${JSON.stringify(seen.cells[sel])}, expected it to contain ${JSON.stringify(want)}`);
  // A person hovers a chart: the tooltip must work too.
  const fig = await page.$('#charts-grid figure.chart svg.chart');
  if (fig) {
    await fig.scrollIntoView();
    const box = await fig.boundingBox();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5);
    const tip = await page.$eval('#charts-grid figure.chart .tip', (e) => e.style.display + '|' + e.textContent);
    if (!tip.startsWith('block|') || !/ s/.test(tip)) problems.push('no tooltip on hover: ' + tip);
    await page.mouse.move(0, 0);
    await page.evaluate(() => window.scrollTo(0, 0));
  }
  await page.screenshot({ path: shot, fullPage: true });
  delete seen.text;
  if (requests.length) problems.push('requests other than the page: ' + requests.join(', '));
  if (console_errors.length) problems.push('console errors: ' + console_errors.join(' | '));
  console.log(JSON.stringify({ ok: problems.length === 0, problems, seen }));
} catch (e) {
  problems.push('failed: ' + e.message);
  console.log(JSON.stringify({ ok: false, problems, requests, console_errors }));
} finally {
  await browser.close();
}
process.exit(problems.length ? 1 : 0);
