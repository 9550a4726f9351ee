/*
 * The progress bar of a deliberately slow backup, in Debian's Chromium
 * against the real stack: the live database is grown by several hundred
 * MB of random blobs (sqlite3, E2E_BIG_MIB, default 768), then "Create
 * backup" is pressed.  While the POST runs, the page polls GET
 * /backups/status "running" about once a second and draws the bar.
 *
 * How slow is slow enough depends on the machine: the server records
 * progress at most once a second and the page reads it about once a
 * second, so a backup whose phases all end within a second or two may
 * show no percentage at all.  When that happens the database grows again
 * (by twice as much) and another backup runs, at most three in all; the
 * test fails if none showed a phase with a percentage.
 *
 * No timed assertion: a MutationObserver in the page records every text
 * the bar shows (with its aria-valuenow and phase), and the test asserts
 * on that record once the backup has finished, from the DOM alone.  For
 * the screenshot, the browser holds back the POST's answer (page.route)
 * until it is taken: the page still sees the backup in flight and keeps
 * the last progress it was shown, so the picture cannot miss the bar.
 *
 * Runs last (file order): the live database stays large afterwards.
 * Needs E2E_SOURCE_DB from run.sh.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { ADMIN, BASE, assertAccessible, browserFor, shot } from './browser.mjs';

const run = promisify(execFile);
const SOURCE_DB = process.env.E2E_SOURCE_DB;
const BIG_MIB = Number(process.env.E2E_BIG_MIB ?? 768);
const PHASES = { snapshot: 'Snapshot', upload: 'Upload', download: 'Download', verify: 'Verify',
	safety_backup: 'Safety backup', copy: 'Copy' };
const WITH_PERCENT = /^(Snapshot|Upload|Download|Verify|Safety backup|Copy): (\d{1,3})% \(/;
const ATTEMPTS = 3;

/* Add mib MiB of random blobs to the live database; its size after. */
async function grow(mib) {
	await run('sqlite3', [SOURCE_DB, 'PRAGMA synchronous = OFF;' +
		'CREATE TABLE IF NOT EXISTS e2e_big(id INTEGER PRIMARY KEY, v BLOB);' +
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${mib}) ` +
		'INSERT INTO e2e_big(v) SELECT randomblob(1048576) FROM n;']);
	return fs.statSync(SOURCE_DB).size;
}

/*
 * Record every state of the bar as the page draws it (text, aria-valuenow,
 * phase) into window.__progress, from now on.
 */
async function recordBar(page) {
	await page.evaluate(() => {
		window.__progress = [];
		const note = () => {
			const el = document.querySelector('[data-test="progress"]');
			if (!el)
				return;
			const s = {
				text: el.querySelector('[data-test="progress-text"]').textContent,
				now: el.querySelector('[role="progressbar"]').getAttribute('aria-valuenow'),
				phase: el.dataset.phase,
			};
			const last = window.__progress.at(-1);
			if (!last || last.text !== s.text)
				window.__progress.push(s);
		};
		window.__progressObserver?.disconnect();
		window.__progressObserver = new MutationObserver(note);
		window.__progressObserver.observe(document.body,
		    { subtree: true, childList: true, characterData: true, attributes: true });
	});
}

/*
 * "Create backup" with desc, the screenshot while the bar shows, and the
 * bar's record once the backup is done.  The POST's answer is held back
 * in the browser until the screenshot is taken (see above).
 */
async function slowBackup(page, desc) {
	let answered;
	const serverDone = new Promise((r) => { answered = r; });
	let release;
	const released = new Promise((r) => { release = r; });
	const hold = async (route) => {
		if (route.request().method() !== 'POST')
			return route.continue();
		const res = await route.fetch({ timeout: 600_000 });
		answered();
		await released;
		return route.fulfill({ response: res });
	};
	await page.route('**/backups', hold);
	try {
		await recordBar(page);
		await page.fill('#create-description', desc);
		await page.click('[data-test="create"]');
		/* A phase with a percentage shows, or the server has answered. */
		await Promise.race([
			page.waitForFunction((re) => new RegExp(re).test(
				document.querySelector('[data-test="progress-text"]')?.textContent ?? ''),
				WITH_PERCENT.source, { timeout: 600_000 }).catch(() => {}),
			serverDone,
		]);
		await page.locator('[data-test="progress"]').scrollIntoViewIfNeeded();
		await shot(page, '21-progress');
	} finally {
		release();
	}
	await page.waitForSelector('[data-test="notice"]', { timeout: 600_000 });
	await page.unroute('**/backups', hold);
	assert.match(await page.locator('[data-test="notice"]').innerText(), /created/);
	assert.equal(await page.locator('[data-test="progress"]').count(), 0, 'the bar is gone');
	return page.evaluate(() => window.__progress);
}

describe('the progress bar', () => {
	test('shows the phase and percentage of a slow backup while it runs', async (t) => {
		assert.ok(SOURCE_DB, 'E2E_SOURCE_DB is set (tests/e2e/run.sh sets it)');
		const { ctx, page, errors } = await browserFor(ADMIN);
		try {
			await page.goto(BASE + '/');
			await page.waitForSelector('[data-test="table"]');
			let seen = [];
			let withPct = [];
			let added = 0;
			let desc = '';
			for (let attempt = 1; attempt <= ATTEMPTS && withPct.length === 0; attempt++) {
				const mib = BIG_MIB * 2 ** (attempt - 1);
				added += mib;
				const size = await grow(mib);
				assert.ok(size >= added * 1048576, `the live database is ${size} bytes`);
				desc = `e2e slow backup ${attempt} ${Date.now().toString(36)}`;
				seen = await slowBackup(page, desc);
				withPct = seen.filter((s) => WITH_PERCENT.test(s.text));
				t.diagnostic(`backup ${attempt} of a ${Math.round(size / 1048576)} MiB database: ` +
				    `the bar showed ${seen.map((s) => s.text).join(' | ')}`);
			}
			assert.ok(withPct.length > 0,
			    `a phase with a percentage was shown; the bar showed: ${JSON.stringify(seen)}`);
			for (const s of withPct) {
				const [, name, pct] = WITH_PERCENT.exec(s.text);
				assert.equal(PHASES[s.phase], name, `the phase attribute matches the words: ${s.text}`);
				assert.equal(s.now, pct, `aria-valuenow matches the words: ${s.text}`);
				assert.ok(Number(pct) >= 0 && Number(pct) <= 100);
			}
			assert.ok(seen.every((s) => s.text === 'Starting…' || PHASES[s.phase] !== undefined),
			    `every state names a known phase: ${JSON.stringify(seen)}`);

			const r = await page.request.get(`${BASE}/backups?q=${encodeURIComponent(desc)}`);
			const [b] = await r.json();
			assert.equal(b?.status, 'completed');
			assert.ok(Number(b.size) >= added * 1048576, 'the large database was backed up');
			const st = await (await page.request.get(`${BASE}/backups/status`)).json();
			assert.deepEqual(st.running, [], 'nothing is running any more');
			await assertAccessible(page, 'the page after the slow backup');
			assert.deepEqual(errors, []);
		} finally {
			await ctx.close();
		}
	});
});
