/*
 * What the e2e specs share: the environment run.sh sets, one Chromium per
 * user (Debian's, through playwright-core, with a fresh profile that is
 * removed after the file's tests), screenshots, and axe-core checks.
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const AXE_SRC = fs.readFileSync(
	createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export const BASE = process.env.E2E_BASE_URL ?? 'https://localhost:8443';
export const ADMIN = [process.env.E2E_ADMIN_USER ?? 'admin', process.env.E2E_ADMIN_PASS ?? ''];
export const VIEWER = [process.env.E2E_VIEWER_USER ?? 'viewer', process.env.E2E_VIEWER_PASS ?? ''];
export const SHOTS = path.resolve(process.env.E2E_SCREENSHOTS ?? 'test-output/screenshots');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const RUN = Date.now().toString(36);
export const WAIT = 30_000;

const profiles = [];

/*
 * One Chromium per user, each with a fresh, empty profile directory, the
 * flags this machine needs (no background networking: the network is
 * closed), and the user's basic-auth credentials.
 */
export async function browserFor([username, password], viewport = { width: 1280, height: 900 }) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-e2e-profile-'));
	profiles.push(dir);
	const ctx = await chromium.launchPersistentContext(dir, {
		executablePath: CHROMIUM,
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
		httpCredentials: { username, password },
		ignoreHTTPSErrors: true,
		acceptDownloads: true,
		viewport,
	});
	ctx.setDefaultTimeout(WAIT);
	const page = ctx.pages()[0] ?? await ctx.newPage();
	const errors = [];
	page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
	page.on('console', (m) => {
		if (m.type() === 'error')
			errors.push(`console: ${m.text()}`);
	});
	return { ctx, page, errors };
}

export async function shot(page, name) {
	await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/*
 * axe-core's WCAG 2.x A/AA rules on the page as it stands; fails on any
 * violation (all impacts), naming the rule and the elements.
 */
export async function assertAccessible(page, what) {
	/* Evaluated over the DevTools protocol: the page's CSP (no inline
	 * scripts) stays in force for the page itself. */
	if (!(await page.evaluate(() => typeof window.axe !== 'undefined')))
		await page.evaluate(AXE_SRC);
	const res = await page.evaluate(() => window.axe.run(document, {
		runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
	}));
	const found = res.violations.map((v) =>
		`${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
	assert.deepEqual(found, [], `accessibility of ${what}`);
}

after(() => {
	for (const d of profiles)
		fs.rmSync(d, { recursive: true, force: true });
});
