/*
 * The overview half of the page: the status banner, the Verified badge
 * and "Drill now", the size chart, "Showing 1–20 of N", and the progress
 * bar of a backup or restore started from the page.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import BackupManager from '../src/components/BackupManager.vue';
import { createApi } from '../src/api.js';
import { percent, phaseName } from '../src/format.js';
import { apiError, backup, deferred, fetchStub, json, settle } from './helpers.js';

let wrapper = null;

async function mountWith(stub, props = {}) {
	wrapper = mount(BackupManager, {
		props: { api: createApi('', stub), pollMs: 0, progressMs: 5, ...props },
		attachTo: document.body,
	});
	await settle();
	return wrapper;
}

afterEach(() => {
	wrapper?.unmount();
	wrapper = null;
	document.body.innerHTML = '';
});

const counts = (m, a) => ({
	manual: { pending: 0, completed: m, failed: 0 },
	automatic: { pending: 0, completed: a, failed: 1 },
});

function status(over = {}) {
	return {
		health: { state: 'OK', reason: 'newest automatic backup is 3h old, last drill passed', store_checked: false },
		generated_at: '2026-11-26T12:00:00Z',
		last_success: { id: 'a', completed_at: '2026-11-26T09:00:02Z', type: 'automatic' },
		last_failure: null,
		last_verified: { id: 'a', verified_at: '2026-11-26T10:00:00Z', type: 'automatic' },
		next_automatic_expected_by: '2026-11-27T11:00:00Z',
		prune: { state: 'ok', halted: false, reason: null, since: null },
		counts: counts(2, 3),
		bytes: counts(2048, 4096),
		store_kind: 'disk',
		database_size: 8192,
		running: [],
		...over,
	};
}

const banner = () => wrapper.find('[data-test="banner"]');

describe('status banner', () => {
	it('is green with the reason, the last backup and the next one due', async () => {
		await mountWith(fetchStub({ 'GET /backups': [], 'GET /backups/status': status() }));
		expect(banner().attributes('data-state')).toBe('ok');
		expect(banner().find('h2').text()).toBe('Backups are healthy');
		expect(banner().find('[data-test="banner-reasons"]').text())
			.toBe('Newest automatic backup is 3h old, last drill passed.');
		expect(banner().find('[data-test="banner-last"] time').attributes('datetime')).toBe('2026-11-26T09:00:02Z');
		expect(banner().find('[data-test="banner-last"]').text()).toContain('(automatic)');
		expect(banner().find('[data-test="banner-next"] time').attributes('datetime')).toBe('2026-11-27T11:00:00Z');
		expect(banner().find('[data-test="banner-failure"]').exists()).toBe(false);
		expect(banner().text()).toContain('live database 8.0 KiB');
	});

	it('is amber for the server\'s WARNING, one reason a line', async () => {
		const st = status({ health: { state: 'WARNING', store_checked: false,
		    reason: 'newest automatic backup is 25h old (warning past 24h, max 26h); no restore drill yet' } });
		await mountWith(fetchStub({ 'GET /backups': [], 'GET /backups/status': st }));
		expect(banner().attributes('data-state')).toBe('warning');
		expect(banner().find('h2').text()).toBe('Backups need attention soon');
		expect(banner().findAll('[data-test="banner-reasons"] li').map((l) => l.text())).toEqual([
			'Newest automatic backup is 25h old (warning past 24h, max 26h).',
			'No restore drill yet.',
		]);
	});

	it('is red for CRITICAL and shows the last failure', async () => {
		const st = status({
			health: { state: 'CRITICAL', store_checked: false, reason: 'the latest backup x failed; prune is halted: clock' },
			last_failure: { id: 'x', completed_at: '2026-11-26T11:00:00Z', type: 'automatic' },
			next_automatic_expected_by: null,
		});
		await mountWith(fetchStub({ 'GET /backups': [], 'GET /backups/status': st }));
		expect(banner().attributes('data-state')).toBe('critical');
		expect(banner().find('h2').text()).toBe('Backups need attention now');
		expect(banner().findAll('li').map((l) => l.text())).toEqual(['The latest backup x failed.', 'Prune is halted: clock.']);
		expect(banner().find('[data-test="banner-failure"] time').attributes('datetime')).toBe('2026-11-26T11:00:00Z');
		expect(banner().find('[data-test="banner-next"]').text()).toContain('no automatic backup yet');
	});

	it('says the state is unknown when the status cannot be read', async () => {
		await mountWith(fetchStub({
			'GET /backups': [],
			'GET /backups/status': apiError(503, 'INTERNAL', 'catalog unavailable'),
		}));
		expect(banner().attributes('data-state')).toBe('unknown');
		expect(banner().text()).toContain('catalog unavailable');
	});
});

describe('Verified badge and Drill now', () => {
	const never = backup({ id: '55555555-5555-4555-8555-555555555555', verify_status: null, verified_at: null });
	const ok = backup({ id: '66666666-6666-4666-8666-666666666666', verify_status: 'ok',
	    verified_at: '2026-11-26T10:00:00Z', verify_detail: 'integrity ok' });
	const bad = backup({ id: '77777777-7777-4777-8777-777777777777', verify_status: 'failed',
	    verified_at: '2026-11-26T10:30:00Z', verify_detail: 'sha256 mismatch' });
	const failed = backup({ id: '88888888-8888-4888-8888-888888888888', status: 'failed', error: 'x' });
	const badge = (id) => wrapper.find(`tr[data-id="${id}"] [data-test="verified-badge"]`);
	const tip = (id) => wrapper.find(`tr[data-id="${id}"] [data-test="verified-tip"]`);

	it('says verified, drill failed or never drilled, with the time in a tooltip', async () => {
		await mountWith(fetchStub({ 'GET /backups': [never, ok, bad, failed], 'GET /backups/status': status() }));
		expect(badge(ok.id).text()).toContain('Verified');
		expect(tip(ok.id).find('time').attributes('datetime')).toBe(ok.verified_at);
		expect(tip(ok.id).text()).toContain('passed');
		expect(badge(ok.id).attributes('aria-describedby')).toBe(tip(ok.id).attributes('id'));
		expect(badge(bad.id).text()).toContain('Drill failed');
		expect(tip(bad.id).text()).toContain('sha256 mismatch');
		expect(badge(never.id).text()).toContain('Never drilled');
		expect(badge(failed.id).exists()).toBe(false);
		const drill = wrapper.find(`tr[data-id="${failed.id}"] [data-test="drill"]`);
		expect(drill.attributes('aria-disabled')).toBe('true');
	});

	it('drills, updates the badge from the answer and re-reads the status', async () => {
		const d = deferred();
		const drilled = { ...never, verify_status: 'ok', verified_at: '2026-11-26T12:00:00Z', verify_detail: 'all checks passed' };
		/* After the drill the list is held back: the badge must change
		 * from the drill's own answer. */
		let after = null;
		const stub = fetchStub({
			'GET /backups': () => (after ? after.promise : [never]),
			'GET /backups/status': status(),
			'POST /backups/:id/drill': async () => { await d.promise; after = deferred(); return drilled; },
		});
		await mountWith(stub);
		const statusCalls = stub.callsTo('GET', '/backups/status').length;
		await wrapper.find('[data-test="drill"]').trigger('click');
		await settle();
		expect(wrapper.find('[data-test="drill"]').text()).toContain('Drilling');
		expect(wrapper.find('[data-test="create"]').attributes('disabled')).toBeDefined();
		d.resolve();
		await settle();
		const post = stub.callsTo('POST', `/backups/${never.id}/drill`);
		expect(post).toHaveLength(1);
		expect(post[0].headers['Content-Type']).toBe('application/json');
		expect(badge(never.id).text()).toContain('Verified');
		expect(wrapper.find('[data-test="notice"]').text()).toContain('passed');
		expect(stub.callsTo('GET', '/backups/status').length).toBeGreaterThan(statusCalls);
		after.resolve(json(200, [drilled]));
		await settle();
		expect(badge(never.id).text()).toContain('Verified');
	});

	it('shows a failed drill as an alert with what it found', async () => {
		const res = { ...never, verify_status: 'failed', verified_at: '2026-11-26T12:00:00Z',
		    verify_detail: 'integrity_check: page 3 corrupt' };
		let drilled = false;
		const stub = fetchStub({
			'GET /backups': () => [drilled ? res : never],
			'GET /backups/status': status(),
			'POST /backups/:id/drill': () => { drilled = true; return res; },
		});
		await mountWith(stub);
		await wrapper.find('[data-test="drill"]').trigger('click');
		await settle();
		expect(badge(never.id).text()).toContain('Drill failed');
		expect(wrapper.find('[data-test="action-error"]').text()).toContain('integrity_check: page 3 corrupt');
	});

	it('shows the server\'s error message when the drill cannot run', async () => {
		const stub = fetchStub({
			'GET /backups': [never],
			'GET /backups/status': status(),
			'POST /backups/:id/drill': apiError(502, 'STORAGE_ERROR', 'the store did not answer'),
		});
		await mountWith(stub);
		await wrapper.find('[data-test="drill"]').trigger('click');
		await settle();
		expect(wrapper.find('[data-test="action-error"]').text()).toContain('the store did not answer');
		expect(badge(never.id).text()).toContain('Never drilled');
	});
});

describe('size chart', () => {
	it('draws one point per completed backup, oldest left', async () => {
		const list = [
			backup({ created_at: '2026-11-03T00:00:00Z', size: 3000, type: 'automatic' }),
			backup({ created_at: '2026-11-01T00:00:00Z', size: 1000 }),
			backup({ created_at: '2026-11-02T00:00:00Z', size: 2000 }),
		];
		const stub = fetchStub({ 'GET /backups': list, 'GET /backups/status': status() });
		await mountWith(stub);
		const chartCall = stub.callsTo('GET', '/backups').find((c) => c.query.status === 'completed');
		expect(chartCall.query.limit).toBe('200');
		const pts = wrapper.findAll('[data-test="chart-point"]');
		expect(pts).toHaveLength(3);
		const xs = pts.map((p) => Number(p.attributes('cx')));
		const ys = pts.map((p) => Number(p.attributes('cy')));
		expect(xs).toEqual([...xs].sort((a, b) => a - b));
		expect(ys[0]).toBeGreaterThan(ys[2]);  /* bigger is higher */
		expect(pts[2].classes()).toContain('point-automatic');
		expect(wrapper.find('polyline').exists()).toBe(true);
		expect(wrapper.find('[data-test="chart-svg"] desc').text()).toContain('3 completed backups');
	});

	it('says so when there is nothing to draw', async () => {
		await mountWith(fetchStub({ 'GET /backups': [], 'GET /backups/status': status() }));
		expect(wrapper.find('[data-test="chart-empty"]').text()).toContain('No completed backups yet');
	});
});

describe('Showing 1–20 of N', () => {
	const page = (n) => Array.from({ length: n }, (_, i) =>
		backup({ created_at: `2026-11-${String(28 - i).padStart(2, '0')}T00:00:00Z` }));

	it('takes N from the status counts', async () => {
		await mountWith(fetchStub({ 'GET /backups': page(2), 'GET /backups/status': status() }), { pageSize: 2 });
		expect(wrapper.find('[data-test="showing"]').text()).toBe('Showing 1–2 of 6');
	});

	it('counts only the filtered type and status', async () => {
		await mountWith(fetchStub({ 'GET /backups': page(2), 'GET /backups/status': status() }), { pageSize: 2 });
		await wrapper.find('#filter-type').setValue('automatic');
		await wrapper.find('form.filters').trigger('submit');
		await settle();
		expect(wrapper.find('[data-test="showing"]').text()).toBe('Showing 1–2 of 4');
	});

	it('is exact on a short page and says "more than" when it cannot know', async () => {
		await mountWith(fetchStub({ 'GET /backups': (c) => (c.query.q ? page(2) : page(1)),
		    'GET /backups/status': status() }), { pageSize: 2 });
		expect(wrapper.find('[data-test="showing"]').text()).toBe('Showing 1–1 of 1');
		await wrapper.find('#filter-q').setValue('x');
		await wrapper.find('form.filters').trigger('submit');
		await settle();
		expect(wrapper.find('[data-test="showing"]').text()).toBe('Showing 1–2 of more than 2');
	});

	it('takes N from X-Total-Count when the server sends it, filters and all', async () => {
		const withTotal = (rows, n) => new Response(JSON.stringify(rows), {
			status: 200,
			headers: { 'Content-Type': 'application/json', 'X-Total-Count': String(n) },
		});
		await mountWith(fetchStub({ 'GET /backups': (c) => withTotal(page(2), c.query.q ? 37 : 45),
		    'GET /backups/status': status() }), { pageSize: 2 });
		expect(wrapper.find('[data-test="showing"]').text()).toBe('Showing 1–2 of 45');
		await wrapper.find('#filter-q').setValue('x');
		await wrapper.find('form.filters').trigger('submit');
		await settle();
		expect(wrapper.find('[data-test="showing"]').text()).toBe('Showing 1–2 of 37');
	});
});

describe('progress bar', () => {
	it('polls the status while a backup runs and shows the phase and percentage', async () => {
		const d = deferred();
		let running = [];
		const stub = fetchStub({
			'GET /backups': [],
			'GET /backups/status': () => status({ running }),
			'POST /backups': async () => { await d.promise; return json(201, backup()); },
		});
		await mountWith(stub);
		await wrapper.find('form.create-form').trigger('submit');
		await settle();
		const text = () => wrapper.find('[data-test="progress-text"]').text();
		expect(text()).toBe('Starting…');
		running = [{ operation: 'backup', phase: 'upload', bytes_done: 42 * 1024 * 1024,
		    bytes_total: 100 * 1024 * 1024, backup_id: 'b', started_at: 'x', updated_at: 'y' }];
		for (let i = 0; i < 100 && !text().includes('%'); i++) {
			await new Promise((r) => setTimeout(r, 5));
			await settle();
		}
		expect(text()).toBe('Upload: 42% (42.0 MiB of 100 MiB)');
		const bar = wrapper.find('[role="progressbar"]');
		expect(bar.attributes('aria-valuenow')).toBe('42');
		expect(bar.attributes('aria-valuetext')).toBe(text());
		running = [{ operation: 'backup', phase: 'snapshot', bytes_done: 2048, bytes_total: null, backup_id: 'b' }];
		for (let i = 0; i < 100 && !text().startsWith('Snapshot'); i++) {
			await new Promise((r) => setTimeout(r, 5));
			await settle();
		}
		expect(text()).toBe('Snapshot: 2.0 KiB so far');
		expect(wrapper.find('[role="progressbar"]').attributes('aria-valuenow')).toBeUndefined();
		d.resolve();
		await settle();
		expect(wrapper.find('[data-test="progress"]').exists()).toBe(false);
		const n = stub.callsTo('GET', '/backups/status').length;
		await new Promise((r) => setTimeout(r, 30));
		expect(stub.callsTo('GET', '/backups/status').length).toBe(n);
	});

	it('shows a restore\'s safety backup phase in the dialog', async () => {
		const d = deferred();
		const b = backup();
		const stub = fetchStub({
			'GET /backups': [b],
			'GET /backups/status': status({ running: [{ operation: 'restore', phase: 'safety_backup',
			    bytes_done: 1, bytes_total: 4, backup_id: b.id }] }),
			'POST /backups/:id/restore': async () => { await d.promise;
				return { id: 'r', backup_id: b.id, safety_backup_id: null, status: 'completed' }; },
		});
		await mountWith(stub);
		await wrapper.find('[data-test="restore"]').trigger('click');
		await settle();
		await wrapper.find('[role="dialog"] .btn-danger').trigger('click');
		await settle();
		expect(wrapper.find('[role="dialog"] [data-test="progress-text"]').text()).toBe('Safety backup: 25% (1 B of 4 B)');
		d.resolve();
		await settle();
	});

	it('names every phase and never says 100% before the end', () => {
		expect(['snapshot', 'upload', 'download', 'verify', 'safety_backup', 'copy'].map(phaseName))
			.toEqual(['Snapshot', 'Upload', 'Download', 'Verify', 'Safety backup', 'Copy']);
		expect(percent(999, 1000)).toBe(99);
		expect(percent(1000, 1000)).toBe(100);
		expect(percent(5, null)).toBeNull();
		expect(percent(5, 0)).toBeNull();
	});
});
