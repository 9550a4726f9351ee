/*
 * End-to-end tests of the admin page in Debian's Chromium, driven by
 * playwright-core (never a downloaded browser), against the real nginx +
 * backupd stack that tests/e2e/run.sh starts.
 *
 * Environment (run.sh sets it):
 *   E2E_BASE_URL        e.g. https://localhost:8443 (self-signed is fine)
 *   E2E_ADMIN_USER/PASS a user whose scopes contain *
 *   E2E_VIEWER_USER/PASS a user whose scopes lack *
 *   E2E_SCREENSHOTS     where to write PNGs (default test-output/screenshots)
 *   E2E_FAILED_REASON   optional: text the seeded failed backup's reason holds
 *   CHROMIUM            default /usr/bin/chromium
 *
 * The stack must hold, before this runs, at least one completed automatic
 * backup and one failed backup (run.sh seeds them with backup-cron).  The
 * tests run in order and build on each other (create, then filter on what
 * was created, then delete and restore).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
	ADMIN, BASE, RUN, SHOTS, VIEWER, assertAccessible, browserFor, shot,
} from './browser.mjs';

/* The list as the API sees it, with the page's own credentials. */
async function apiList(page, query = '') {
	const r = await page.request.get(`${BASE}/backups${query}`);
	assert.equal(r.status(), 200, `GET /backups${query}`);
	return r.json();
}

function rowOf(page, id) {
	return page.locator(`tr.backup-row[data-id="${id}"]`);
}

async function applyFilters(page, { type = '', status = '', q = '' } = {}) {
	await page.selectOption('#filter-type', type);
	await page.selectOption('#filter-status', status);
	await page.fill('#filter-q', q);
	await page.click('[data-test="apply-filters"]');
	await page.waitForSelector('.table-region[aria-busy="false"]');
}

async function visibleRowIds(page) {
	return page.locator('tr.backup-row').evaluateAll((rows) => rows.map((r) => r.dataset.id));
}

describe('admin page as admin', () => {
	let ctx;
	let page;
	let errors;
	const created = {};

	before(async () => {
		fs.mkdirSync(SHOTS, { recursive: true });
		({ ctx, page, errors } = await browserFor(ADMIN));
		const res = await page.goto(BASE + '/');
		assert.equal(res.status(), 200, 'the page loads');
		await page.waitForSelector('[data-test="table"]');
	});

	after(async () => {
		await ctx?.close();
	});

	test('lists the seeded backups newest first', async () => {
		const api = await apiList(page);
		assert.ok(api.length >= 2, 'run.sh seeded an automatic and a failed backup');
		const ids = await visibleRowIds(page);
		assert.deepEqual(ids, api.map((b) => b.id).slice(0, ids.length));
		const times = await page.locator('tr.backup-row time').evaluateAll(
			(ts) => ts.map((t) => t.getAttribute('datetime')));
		assert.deepEqual(times, [...times].sort().reverse(), 'newest first');
		await shot(page, '01-list');
		await assertAccessible(page, 'the list');
	});

	test('creates a backup with a description and tags', async () => {
		const desc = `e2e before upgrade ${RUN}`;
		await page.fill('#create-description', desc);
		await page.fill('#create-tags', `e2e-${RUN}, upgrade`);
		await page.click('[data-test="create"]');
		await page.waitForSelector('[data-test="notice"]');
		const b = (await apiList(page, `?q=${encodeURIComponent(desc)}`))[0];
		assert.ok(b, 'the API lists the new backup');
		assert.equal(b.type, 'manual');
		assert.equal(b.status, 'completed');
		assert.deepEqual(b.tags, [`e2e-${RUN}`, 'upgrade']);
		created.first = b;
		const row = rowOf(page, b.id);
		await row.waitFor();
		assert.equal(await row.locator('[data-label="Description"]').innerText(), desc);
		assert.deepEqual(await row.locator('.tag').allInnerTexts(), [`e2e-${RUN}`, 'upgrade']);
		assert.match(await row.locator('[data-test="status-chip"]').innerText(), /Completed/);
		assert.match(await row.locator('[data-label="Size"]').innerText(), /\d+(\.\d)? (B|KiB|MiB|GiB)/);
		assert.match(await page.locator('[data-test="notice"]').innerText(), /created/);
		assert.equal(await page.locator('#create-description').inputValue(), '', 'the form is cleared');
		assert.equal(await rowOf(page, b.id).getAttribute('class'), 'backup-row row-highlight');
		await shot(page, '02-created');
	});

	test('creates by keyboard alone', async () => {
		await page.focus('#create-description');
		await page.keyboard.type(`e2e keyboard ${RUN}`);
		await page.keyboard.press('Tab');
		await page.keyboard.type('kbd');
		await page.keyboard.press('Enter');
		await page.waitForSelector('[data-test="notice"]');
		const b = (await apiList(page, `?q=${encodeURIComponent('e2e keyboard ' + RUN)}`))[0];
		assert.ok(b, 'Enter in the form created a backup');
		assert.deepEqual(b.tags, ['kbd']);
		created.keyboard = b;
	});

	test('filters by type, status and free text', async () => {
		await applyFilters(page, { type: 'manual', q: `e2e-${RUN}` });
		assert.deepEqual(await visibleRowIds(page), [created.first.id]);
		await shot(page, '03-filtered');

		await applyFilters(page, { type: 'automatic' });
		const autoTypes = await page.locator('tr.backup-row [data-label="Type"]').allInnerTexts();
		assert.ok(autoTypes.length >= 1);
		assert.ok(autoTypes.every((t) => t.trim() === 'Automatic'), autoTypes.join());

		await applyFilters(page, { status: 'failed' });
		const chips = await page.locator('[data-test="status-chip"]').allInnerTexts();
		assert.ok(chips.length >= 1);
		assert.ok(chips.every((t) => /Failed/.test(t)), chips.join());

		await applyFilters(page, { q: `nothing-matches-${RUN}` });
		await page.waitForSelector('[data-test="empty"]');
		assert.match(await page.locator('[data-test="empty"]').innerText(), /No backups match/);
		await shot(page, '04-empty-filter');

		/* A date range that ends before today hides what was just made. */
		await page.fill('#filter-q', '');
		await page.fill('#filter-from', '2020-01-01');
		await page.fill('#filter-to', '2020-01-02');
		await page.click('[data-test="apply-filters"]');
		await page.waitForSelector('[data-test="empty"]');
		const today = new Date();
		const iso = `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, '0')}-${String(today.getDate()).padStart(2, '0')}`;
		await page.fill('#filter-from', iso);
		await page.fill('#filter-to', iso);
		await page.click('[data-test="apply-filters"]');
		await rowOf(page, created.first.id).waitFor();

		await page.click('[data-test="clear-filters"]');
		await page.waitForSelector('.table-region[aria-busy="false"]');
		assert.ok((await visibleRowIds(page)).includes(created.first.id));
	});

	test('delete is unavailable for an automatic backup, and says why', async () => {
		const auto = (await apiList(page, '?type=automatic&status=completed'))[0];
		assert.ok(auto, 'an automatic backup was seeded');
		const btn = rowOf(page, auto.id).locator('[data-test="delete"]');
		assert.equal(await btn.getAttribute('aria-disabled'), 'true');
		const why = page.locator(`[id="${await btn.getAttribute('aria-describedby')}"]`);
		assert.match(await why.textContent(), /Automatic backups cannot be deleted.*retention policy/);
		assert.equal(await why.isVisible(), false, 'the tooltip is hidden until asked for');
		await btn.click({ force: true });
		await page.waitForTimeout(300);
		assert.equal(await page.locator('[role="dialog"]').count(), 0, 'no dialog opens');
		/* Reached by keyboard (it stays focusable), the reason shows. */
		await rowOf(page, auto.id).locator('[data-test="restore"]').focus();
		await page.keyboard.press('Tab');
		assert.equal(await page.evaluate(() => document.activeElement.getAttribute('data-test')), 'delete');
		await why.waitFor({ state: 'visible' });
		await shot(page, '05-automatic-delete-disabled');
		await page.keyboard.press('Enter');
		await page.waitForTimeout(300);
		assert.equal(await page.locator('[role="dialog"]').count(), 0, 'Enter opens no dialog either');
		assert.ok((await apiList(page)).some((b) => b.id === auto.id), 'still there');
	});

	test('deletes a manual backup after confirmation, by keyboard', async () => {
		const victim = created.keyboard;
		const btn = rowOf(page, victim.id).locator('[data-test="delete"]');
		await btn.focus();
		await page.keyboard.press('Enter');
		const dlg = page.locator('[role="dialog"]');
		await dlg.waitFor();
		assert.match(await dlg.innerText(), /cannot be undone/);
		assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Cancel',
		    'focus starts on Cancel');
		await shot(page, '06-delete-dialog');
		await assertAccessible(page, 'the delete dialog');
		await page.keyboard.press('Escape');
		await dlg.waitFor({ state: 'detached' });
		assert.equal(await page.evaluate(() => document.activeElement.getAttribute('data-test')), 'delete',
		    'focus returns to the Delete button');
		assert.ok((await apiList(page)).some((b) => b.id === victim.id), 'Escape deleted nothing');

		await btn.click();
		await dlg.waitFor();
		await dlg.locator('.btn-danger').click();
		await dlg.waitFor({ state: 'detached' });
		await rowOf(page, victim.id).waitFor({ state: 'detached' });
		assert.match(await page.locator('[data-test="notice"]').innerText(), /deleted/);
		assert.ok(!(await apiList(page)).some((b) => b.id === victim.id), 'gone from the API');
		assert.equal(await page.evaluate(() => document.activeElement.id), 'list-title',
		    'focus moves to the list, not lost with the row');
	});

	test('restores a backup and the safety backup appears in the list', async () => {
		const target = created.first;
		const before = new Set((await apiList(page)).map((b) => b.id));
		await rowOf(page, target.id).locator('[data-test="restore"]').click();
		const dlg = page.locator('[role="dialog"]');
		await dlg.waitFor();
		assert.match(await dlg.innerText(), /A safety backup of the current database is taken first/);
		await shot(page, '07-restore-dialog');
		await dlg.locator('.btn-danger').click();
		await page.waitForSelector('[data-test="restore-result"]', { timeout: 120_000 });
		await dlg.waitFor({ state: 'detached' });
		const safetyId = (await page.locator('[data-test="safety-id"]').innerText()).trim();
		assert.match(safetyId, /^[0-9a-f-]{36}$/);
		assert.ok(!before.has(safetyId), 'the safety backup is new');
		assert.match(await page.locator('[data-test="notice"]').innerText(), new RegExp(safetyId));
		const row = rowOf(page, safetyId);
		await row.waitFor();
		assert.equal(await row.locator('[data-test="safety-badge"]').count(), 1);
		assert.match(await row.locator('[data-test="status-chip"]').innerText(), /Completed/);
		const api = await apiList(page);
		const safety = api.find((b) => b.id === safetyId);
		assert.ok(safety, 'the API lists the safety backup');
		assert.equal(safety.status, 'completed');
		await shot(page, '08-restored');
	});

	test('shows a failed backup with its reason', async () => {
		const failed = (await apiList(page, '?status=failed'))[0];
		assert.ok(failed, 'a failed backup was seeded');
		assert.ok(failed.error, 'it has a reason');
		await applyFilters(page, { status: 'failed' });
		const row = rowOf(page, failed.id);
		await row.waitFor();
		const reason = await row.locator('[data-test="failure-reason"]').innerText();
		assert.ok(reason.includes(failed.error), `${reason} shows ${failed.error}`);
		if (process.env.E2E_FAILED_REASON)
			assert.ok(reason.includes(process.env.E2E_FAILED_REASON), reason);
		assert.equal(await row.locator('[data-test="restore"]').getAttribute('aria-disabled'), 'true');
		await shot(page, '09-failed-reason');
		await page.click('[data-test="clear-filters"]');
		await page.waitForSelector('.table-region[aria-busy="false"]');
	});

	test('shows the details of one backup and downloads it', async () => {
		const b = (await apiList(page, '?status=completed'))[0];
		const row = rowOf(page, b.id);
		await row.locator('[data-test="details"]').click();
		const panel = page.locator(`[id="details-${b.id}"]`);
		await panel.waitFor();
		const text = await panel.innerText();
		assert.ok(text.includes(b.sha256), 'sha256');
		assert.ok(text.includes(b.location), 'location');
		assert.ok(text.includes(Number(b.size).toLocaleString('en-US') + ' bytes'), 'exact size');
		assert.equal(await row.locator('[data-test="details"]').getAttribute('aria-expanded'), 'true');
		await shot(page, '10-details');
		await assertAccessible(page, 'the details');

		const [dl] = await Promise.all([
			page.waitForEvent('download'),
			row.locator('[data-test="download"]').click(),
		]);
		const file = await dl.path();
		assert.equal(fs.statSync(file).size, Number(b.size), 'downloaded the whole file');
		const head = fs.readFileSync(file).subarray(0, 16).toString('latin1');
		assert.equal(head, 'SQLite format 3\0', 'it is a SQLite database');
	});

	test('no script errors, CSP violations or failed requests in the console', () => {
		assert.deepEqual(errors, []);
	});
});

describe('admin page on a phone-sized screen', () => {
	test('is readable at 390 px wide', async () => {
		const { ctx, page } = await browserFor(ADMIN, { width: 390, height: 844 });
		try {
			await page.goto(BASE + '/');
			await page.waitForSelector('[data-test="table"]');
			const overflow = await page.evaluate(() =>
				document.documentElement.scrollWidth - document.documentElement.clientWidth);
			assert.ok(overflow <= 1, `no sideways scrolling (overflow ${overflow}px)`);
			const box = await page.locator('tr.backup-row').first().boundingBox();
			assert.ok(box.width <= 390, 'a row fits the screen');
			await shot(page, '11-phone');
			await assertAccessible(page, 'the phone layout');
		} finally {
			await ctx.close();
		}
	});
});

/*
 * Loading and server-error states cannot be called up on demand from the
 * real stack, so here the browser holds back or replaces the /backups
 * answer (page.route); the page itself is the real build, served by nginx.
 */
describe('loading and error states (browser-side interception)', () => {
	test('shows the loading state, then an error with Try again, then recovers', async () => {
		const { ctx, page } = await browserFor(ADMIN);
		try {
			let release;
			const held = new Promise((r) => { release = r; });
			let mode = 'hold';
			await page.route('**/backups?*', async (route) => {
				if (mode === 'hold') {
					await held;
					return route.fulfill({ status: 503, contentType: 'application/json',
					    body: JSON.stringify({ error: { code: 'STORAGE_ERROR', message: 'the store did not answer' } }) });
				}
				return route.continue();
			});
			await page.goto(BASE + '/');
			await page.waitForSelector('[data-test="loading"]');
			await shot(page, '13-loading');
			release();
			const err = page.locator('[data-test="load-error"]');
			await err.waitFor();
			assert.match(await err.innerText(), /backup storage could not be reached.*the store did not answer/s);
			assert.equal(await err.getAttribute('role'), 'alert');
			await shot(page, '14-load-error');
			mode = 'pass';
			await err.locator('button').click();
			await page.waitForSelector('[data-test="table"]');
		} finally {
			await ctx.close();
		}
	});
});

describe('admin page as a viewer without the * scope', () => {
	test('shows the 403 message instead of the page', async () => {
		const { ctx, page } = await browserFor(VIEWER);
		try {
			const res = await page.goto(BASE + '/');
			assert.equal(res.status(), 200);
			const box = page.locator('[data-test="auth-problem"]');
			await box.waitFor();
			assert.match(await box.innerText(), /You do not have permission to manage backups/);
			assert.equal(await page.locator('[data-test="create"]').count(), 0);
			assert.equal(await page.locator('[data-test="table"]').count(), 0);
			const api = await page.request.get(`${BASE}/backups`);
			assert.equal(api.status(), 403);
			assert.equal((await api.json()).error.code, 'FORBIDDEN');
			await shot(page, '12-viewer-403');
			await assertAccessible(page, 'the 403 message');
		} finally {
			await ctx.close();
		}
	});
});
