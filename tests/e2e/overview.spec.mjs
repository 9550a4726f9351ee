/*
 * The overview in Debian's Chromium against the real stack: the status
 * banner in amber, green and red, "Drill now" turning a badge to
 * Verified, the size chart, "Showing 1–20 of N", and the progress bar of
 * a deliberately slow backup (a live database of a few hundred MB).
 *
 * Every state comes from real operations on the stack run.sh started:
 *   amber  the automatic backup run.sh seeded 25 hours ago (late, not yet
 *          stale: [monitor] warn_age_hours 24, max_age_hours 26) and no
 *          restore drill yet, once a completed backup is the latest;
 *   green  after "Drill now" and a fresh automatic backup (backup-cron,
 *          as cron takes it);
 *   red    after a failed backup (backup-cron with E2E_BAD_CONFIG, whose
 *          source is not a SQLite database).
 * The verdict is the server's (GET /backups/status "health"); the page
 * shows it, so each test also checks the banner says what the API says.
 *
 * Runs after admin.spec.mjs (file order) and needs, from run.sh:
 * E2E_CRON, E2E_CONFIG, E2E_BAD_CONFIG, E2E_SOURCE_DB.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ADMIN, BASE, SHOTS, assertAccessible, browserFor, shot } from './browser.mjs';
import path from 'node:path';

const run = promisify(execFile);
const CRON = process.env.E2E_CRON;
const CONFIG = process.env.E2E_CONFIG;
const BAD_CONFIG = process.env.E2E_BAD_CONFIG;
const SOURCE_DB = process.env.E2E_SOURCE_DB;
/* The live database's size for the slow backup (MiB of random blobs). */
const BIG_MIB = Number(process.env.E2E_BIG_MIB ?? 300);

/* backup-cron against the stack's catalog and store; {code, stdout, stderr}. */
async function cron(config, ...args) {
	try {
		const r = await run(CRON, ['--config', config, ...args], { maxBuffer: 1 << 20 });
		return { code: 0, ...r };
	} catch (e) {
		if (typeof e.code !== 'number')
			throw e;
		return { code: e.code, stdout: e.stdout, stderr: e.stderr };
	}
}

async function apiGet(page, path) {
	const r = await page.request.get(BASE + path);
	assert.equal(r.status(), 200, `GET ${path}`);
	return r.json();
}

const banner = (page) => page.locator('[data-test="banner"]');

/* Refresh, then wait for the banner to show state (ok|warning|critical). */
async function refreshTo(page, state) {
	await page.click('[data-test="refresh"]');
	await page.waitForSelector(`[data-test="banner"][data-state="${state}"]`);
	await page.waitForSelector('.table-region[aria-busy="false"]');
}

/* The reasons the banner lists are the server's, one per line. */
async function assertBannerIsTheServers(page) {
	const st = await apiGet(page, '/backups/status');
	const shown = await banner(page).locator('[data-test="banner-reasons"] li').allInnerTexts();
	const sent = st.health.reason.split('; ').map((r) => r.toLowerCase());
	assert.deepEqual(shown.map((r) => r.replace(/\.$/, '').toLowerCase()), sent);
	if (st.last_success)
		assert.equal(await banner(page).locator('[data-test="banner-last"] time').getAttribute('datetime'),
		    st.last_success.completed_at);
	if (st.next_automatic_expected_by)
		assert.equal(await banner(page).locator('[data-test="banner-next"] time').getAttribute('datetime'),
		    st.next_automatic_expected_by);
	return st;
}

describe('the overview', () => {
	let ctx;
	let page;
	let errors;

	before(async () => {
		for (const [k, v] of Object.entries({ E2E_CRON: CRON, E2E_CONFIG: CONFIG,
		    E2E_BAD_CONFIG: BAD_CONFIG, E2E_SOURCE_DB: SOURCE_DB }))
			assert.ok(v, `${k} is set (tests/e2e/run.sh sets it)`);
		/* A completed backup is the latest, whatever ran before. */
		const r = await cron(CONFIG, 'backup', '--type', 'manual', '--description', 'e2e overview');
		assert.equal(r.code, 0, `backup-cron backup: ${r.stderr}`);
		({ ctx, page, errors } = await browserFor(ADMIN));
		await page.goto(BASE + '/');
		await page.waitForSelector('[data-test="table"]');
	});

	after(async () => {
		await ctx?.close();
	});

	test('amber: the automatic backup is late and nothing was drilled yet', async () => {
		await page.waitForSelector('[data-test="banner"][data-state="warning"]');
		const st = await assertBannerIsTheServers(page);
		assert.equal(st.health.state, 'WARNING');
		const text = await banner(page).innerText();
		assert.match(text, /Backups need attention soon/);
		assert.match(text, /Newest automatic backup is 25h old \(warning past 24h, max 26h\)\./);
		assert.match(text, /No restore drill yet\./);
		await shot(page, '15-banner-amber');
		await assertAccessible(page, 'the amber banner');
	});

	test('"Drill now" turns the badge to Verified, with the time in its tooltip', async () => {
		const auto = (await apiGet(page, '/backups?type=automatic&status=completed'))[0];
		assert.ok(auto, 'the seeded automatic backup');
		assert.equal(auto.verify_status ?? null, null, 'never drilled before');
		const row = page.locator(`tr.backup-row[data-id="${auto.id}"]`);
		const badge = row.locator('[data-test="verified-badge"]');
		assert.equal(await badge.getAttribute('data-kind'), 'never');
		assert.match(await badge.innerText(), /Never drilled/);
		await row.locator('[data-test="drill"]').click();
		await row.locator('[data-test="verified-badge"][data-kind="verified"]').waitFor();
		assert.match(await badge.innerText(), /Verified/);
		const after = await apiGet(page, `/backups/${auto.id}`);
		assert.equal(after.verify_status, 'ok', 'the server recorded the drill');
		const tip = row.locator('[data-test="verified-tip"]');
		assert.equal(await tip.locator('time').getAttribute('datetime'), after.verified_at);
		assert.equal(await tip.isVisible(), false, 'the tooltip waits to be asked for');
		await badge.focus();
		await tip.waitFor({ state: 'visible' });
		assert.match(await tip.innerText(), /Restore drill passed on/);
		assert.match(await page.locator('[data-test="notice"]').innerText(), /passed/);
		await shot(page, '16-drill-verified');
		/* The banner was re-read: the drill reason is gone, lateness stays. */
		await page.waitForFunction(() => !/drill/i.test(
			document.querySelector('[data-test="banner-reasons"]')?.textContent ?? 'drill'));
		assert.equal(await banner(page).getAttribute('data-state'), 'warning');
	});

	test('green: a fresh automatic backup, and the last drill passed', async () => {
		/* The database grows first, so the chart has sizes to tell apart. */
		await run('sqlite3', [SOURCE_DB, 'CREATE TABLE IF NOT EXISTS e2e_grow(v BLOB);' +
		    'INSERT INTO e2e_grow(v) SELECT randomblob(65536) FROM (SELECT 1 UNION ALL SELECT 2 ' +
		    'UNION ALL SELECT 3 UNION ALL SELECT 4);']);
		const r = await cron(CONFIG, 'backup', '--type', 'automatic');
		assert.equal(r.code, 0, `backup-cron backup: ${r.stderr}`);
		await refreshTo(page, 'ok');
		const st = await assertBannerIsTheServers(page);
		assert.equal(st.health.state, 'OK');
		const text = await banner(page).innerText();
		assert.match(text, /Backups are healthy/);
		assert.match(text, /Newest automatic backup is 0h old, last drill passed\./);
		assert.ok(st.last_verified, 'a drill passed');
		await shot(page, '17-banner-green');
		await assertAccessible(page, 'the green banner');
	});

	test('red: the latest backup failed', async () => {
		const r = await cron(BAD_CONFIG, 'backup', '--type', 'automatic');
		assert.notEqual(r.code, 0, 'the backup of a file that is not a database fails');
		const failed = (await apiGet(page, '/backups?status=failed'))[0];
		await refreshTo(page, 'critical');
		const st = await assertBannerIsTheServers(page);
		assert.equal(st.health.state, 'CRITICAL');
		const text = await banner(page).innerText();
		assert.match(text, /Backups need attention now/);
		assert.ok(text.includes(`The latest backup ${failed.id} failed.`), text);
		assert.equal(await banner(page).locator('[data-test="banner-failure"] time').getAttribute('datetime'),
		    st.last_failure.completed_at);
		assert.equal(st.last_failure.id, failed.id);
		await shot(page, '18-banner-red');
		await assertAccessible(page, 'the red banner');
	});

	test('the size chart draws one point per completed backup', async () => {
		const completed = await apiGet(page, '/backups?status=completed&limit=200');
		const chart = page.locator('[data-test="size-chart"]');
		const svg = chart.locator('svg[role="img"]');
		await svg.waitFor();
		assert.equal(await chart.locator('[data-test="chart-point"]').count(), completed.length);
		/* Each backup is a point; a bigger one is drawn higher, a later one
		 * further right. */
		const pts = [];
		for (const b of completed) {
			const c = chart.locator(`[data-test="chart-point"][data-id="${b.id}"]`);
			pts.push({ size: Number(b.size), at: Date.parse(b.created_at),
			    x: Number(await c.getAttribute('cx')), y: Number(await c.getAttribute('cy')) });
		}
		assert.ok(new Set(pts.map((p) => p.size)).size > 1, 'backups of different sizes');
		for (const a of pts)
			for (const b of pts) {
				if (a.size > b.size)
					assert.ok(a.y < b.y, `${a.size} B is drawn above ${b.size} B`);
				if (a.at > b.at)
					assert.ok(a.x >= b.x, 'later is not left of earlier');
			}
		assert.equal(await chart.locator('polyline').count(), 1, 'a line through the points');
		assert.match(await svg.locator('desc').textContent(),
		    new RegExp(`^${completed.length} completed backups from `));
		const box = await svg.boundingBox();
		assert.ok(box.width > 200 && box.height > 50, `drawn at a readable size (${box.width}x${box.height})`);
		await chart.locator('xpath=..').screenshot({ path: path.join(SHOTS, '19-size-chart.png') });
	});

	test('"Showing 1–20 of N" with more than 20 backups, and the next page', async () => {
		let total = (await apiGet(page, '/backups?limit=1000')).length;
		for (; total < 23; total++) {
			const r = await cron(CONFIG, 'backup', '--type', 'manual', '--description', `e2e paging ${total}`);
			assert.equal(r.code, 0, `backup-cron backup: ${r.stderr}`);
		}
		total = (await apiGet(page, '/backups?limit=1000')).length;
		assert.ok(total > 20);
		await refreshTo(page, 'ok');
		const showing = page.locator('[data-test="showing"]');
		await page.waitForFunction((t) => document.querySelector('[data-test="showing"]')?.textContent === t,
		    `Showing 1–20 of ${total}`);
		assert.equal(await page.locator('tr.backup-row').count(), 20);
		await shot(page, '20-paging');
		await page.click('[data-test="next"]');
		await page.waitForFunction((t) => document.querySelector('[data-test="showing"]')?.textContent === t,
		    `Showing 21–${total} of ${total}`);
		assert.equal(await page.locator('tr.backup-row').count(), total - 20);
		assert.ok(await page.locator('[data-test="next"]').isDisabled(), 'no page after the last');
		await page.click('[data-test="prev"]');
		await page.waitForFunction(() => /^Showing 1–20 /.test(
			document.querySelector('[data-test="showing"]')?.textContent ?? ''));
		assert.match(await showing.innerText(), /^Showing 1–20 of \d+$/);
	});

	test('no script errors, CSP violations or failed requests in the console', () => {
		assert.deepEqual(errors, []);
	});
});
