import { afterEach, describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import BackupManager from '../src/components/BackupManager.vue';
import { createApi } from '../src/api.js';
import { apiError, backup, deferred, fetchStub, json, settle } from './helpers.js';

let wrapper = null;

async function mountWith(stub, props = {}) {
	wrapper = mount(BackupManager, {
		props: { api: createApi('', stub), pollMs: 0, ...props },
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

const older = backup({ id: '11111111-1111-4111-8111-111111111111', created_at: '2026-11-01T08:00:00Z',
    type: 'automatic', description: 'nightly', size: 5 * 1024 * 1024, tags: [] });
const newer = backup({ id: '22222222-2222-4222-8222-222222222222', created_at: '2026-11-25T09:30:00Z',
    description: 'before upgrade', size: 1536, tags: ['upgrade', 'v2'] });
const failed = backup({ id: '33333333-3333-4333-8333-333333333333', created_at: '2026-11-10T00:00:00Z',
    status: 'failed', size: null, sha256: null, error: 'disk full while uploading', type: 'automatic' });

function rows(w) {
	return w.findAll('tr.backup-row');
}

function row(w, id) {
	return w.find(`tr.backup-row[data-id="${id}"]`);
}

describe('list states', () => {
	it('shows a loading state until the list arrives', async () => {
		const d = deferred();
		const stub = fetchStub({ 'GET /backups': () => d.promise });
		await mountWith(stub);
		expect(wrapper.find('[data-test="loading"]').text()).toContain('Loading backups');
		expect(wrapper.find('.table-region').attributes('aria-busy')).toBe('true');
		d.resolve(json(200, [newer]));
		await settle();
		expect(wrapper.find('[data-test="loading"]').exists()).toBe(false);
		expect(rows(wrapper)).toHaveLength(1);
		expect(wrapper.find('.table-region').attributes('aria-busy')).toBe('false');
	});

	it('lists backups newest first with type, status, size, description and tags', async () => {
		const stub = fetchStub({ 'GET /backups': [older, failed, newer] });
		await mountWith(stub);
		const r = rows(wrapper);
		expect(r.map((x) => x.attributes('data-id'))).toEqual([newer.id, failed.id, older.id]);
		const first = r[0];
		expect(first.find('[data-label="Type"]').text()).toBe('Manual');
		expect(first.find('[data-test="status-chip"]').text()).toContain('Completed');
		expect(first.find('[data-label="Size"]').text()).toBe('1.5 KiB');
		expect(first.find('[data-label="Description"]').text()).toBe('before upgrade');
		expect(first.findAll('.tag').map((t) => t.text())).toEqual(['upgrade', 'v2']);
		expect(first.find('time').attributes('datetime')).toBe(newer.created_at);
		expect(r[2].find('[data-label="Type"]').text()).toBe('Automatic');
		expect(r[2].find('[data-label="Size"]').text()).toBe('5.0 MiB');
		expect(stub.calls[0].query).toEqual({ limit: '20', offset: '0' });
	});

	it('shows a failed backup with its reason', async () => {
		await mountWith(fetchStub({ 'GET /backups': [failed] }));
		const r = row(wrapper, failed.id);
		expect(r.find('[data-test="status-chip"]').text()).toContain('Failed');
		expect(r.find('[data-test="failure-reason"]').text()).toContain('disk full while uploading');
		expect(r.find('[data-label="Size"]').text()).toBe('—');
		expect(r.find('[data-test="download"]').exists()).toBe(false);
	});

	it('shows a pending chip', async () => {
		await mountWith(fetchStub({ 'GET /backups': [backup({ status: 'pending', size: null })] }));
		expect(wrapper.find('[data-test="status-chip"]').text()).toContain('Pending');
	});

	it('shows the empty state when there are no backups', async () => {
		await mountWith(fetchStub({ 'GET /backups': [] }));
		expect(wrapper.find('[data-test="empty"]').text()).toContain('No backups yet');
		expect(wrapper.find('[data-test="table"]').exists()).toBe(false);
	});

	it('shows an error state and recovers with Try again', async () => {
		let fail = true;
		const stub = fetchStub({
			'GET /backups': () => fail ?
			    apiError(500, 'STORAGE_ERROR', 'container unreachable') : [newer],
		});
		await mountWith(stub);
		const err = wrapper.find('[data-test="load-error"]');
		expect(err.attributes('role')).toBe('alert');
		expect(err.text()).toContain('The backup storage could not be reached');
		expect(err.text()).toContain('container unreachable');
		fail = false;
		await err.find('button').trigger('click');
		await settle();
		expect(wrapper.find('[data-test="load-error"]').exists()).toBe(false);
		expect(rows(wrapper)).toHaveLength(1);
	});

	it('says when the backup storage is not this service\'s (503 STORE_IDENTITY)', async () => {
		await mountWith(fetchStub({ 'GET /backups': apiError(503, 'STORE_IDENTITY',
		    'the backup store is not this service\'s store: run backup-cron init') }));
		const err = wrapper.find('[data-test="load-error"]');
		expect(err.text()).toContain('The backup storage is not this service\'s');
		expect(err.text()).toContain('Nothing was changed');
		expect(err.text()).toContain('backup-cron init');
	});

	it('shows a clear message for 401 instead of the page', async () => {
		await mountWith(fetchStub({ 'GET /backups': apiError(401, 'UNAUTHENTICATED', 'no identity') }));
		const box = wrapper.find('[data-test="auth-problem"]');
		expect(box.text()).toContain('You are not signed in');
		expect(box.text()).toContain('sign in again');
		expect(wrapper.find('#create-description').exists()).toBe(false);
		expect(wrapper.find('[data-test="table"]').exists()).toBe(false);
	});

	it('shows a clear message for 403 instead of the page', async () => {
		await mountWith(fetchStub({ 'GET /backups': apiError(403, 'FORBIDDEN', 'scope * required') }));
		const box = wrapper.find('[data-test="auth-problem"]');
		expect(box.text()).toContain('You do not have permission to manage backups');
		expect(box.text()).toContain('Ask an administrator');
		expect(wrapper.find('[data-test="create"]').exists()).toBe(false);
	});

	it('treats a 401 with an HTML body (nginx) as unauthenticated', async () => {
		const stub = fetchStub({ 'GET /backups': () => new Response('<html>401</html>', { status: 401 }) });
		await mountWith(stub);
		expect(wrapper.find('[data-test="auth-problem"]').text()).toContain('You are not signed in');
	});

	it('pages with limit and offset', async () => {
		const page1 = Array.from({ length: 2 }, (_, i) => backup({ created_at: `2026-11-2${5 - i}T00:00:00Z` }));
		const stub = fetchStub({ 'GET /backups': (c) => (c.query.offset === '0' ? page1 : [older]) });
		await mountWith(stub, { pageSize: 2 });
		expect(wrapper.find('[data-test="prev"]').attributes('disabled')).toBeDefined();
		await wrapper.find('[data-test="next"]').trigger('click');
		await settle();
		expect(stub.calls.at(-1).query).toEqual({ limit: '2', offset: '2' });
		expect(rows(wrapper)).toHaveLength(1);
		expect(wrapper.find('[data-test="next"]').attributes('disabled')).toBeDefined();
		await wrapper.find('[data-test="prev"]').trigger('click');
		await settle();
		expect(stub.calls.at(-1).query.offset).toBe('0');
	});
});

describe('filters', () => {
	it('sends type, status, date range and search as query parameters', async () => {
		const stub = fetchStub({ 'GET /backups': [newer] });
		await mountWith(stub);
		await wrapper.find('#filter-type').setValue('manual');
		await wrapper.find('#filter-status').setValue('failed');
		await wrapper.find('#filter-from').setValue('2026-11-01');
		await wrapper.find('#filter-to').setValue('2026-11-30');
		await wrapper.find('#filter-q').setValue('  upgrade ');
		await wrapper.find('form.filters').trigger('submit');
		await settle();
		const q = stub.calls.at(-1).query;
		expect(q.type).toBe('manual');
		expect(q.status).toBe('failed');
		expect(q.q).toBe('upgrade');
		expect(q.offset).toBe('0');
		/* Whole local days, sent as UTC instants. */
		expect(q.from).toBe(new Date(2026, 10, 1).toISOString().replace('.000Z', 'Z'));
		expect(q.to).toBe(new Date(2026, 10, 30, 23, 59, 59).toISOString().replace('.000Z', 'Z'));
	});

	it('refuses a range whose start is after its end', async () => {
		const stub = fetchStub({ 'GET /backups': [newer] });
		await mountWith(stub);
		const before = stub.calls.length;
		await wrapper.find('#filter-from').setValue('2026-11-30');
		await wrapper.find('#filter-to').setValue('2026-11-01');
		await wrapper.find('form.filters').trigger('submit');
		await settle();
		expect(stub.calls.length).toBe(before);
		expect(wrapper.find('.field-error').text()).toContain('on or before');
	});

	it('says when nothing matches and clears the filters', async () => {
		const stub = fetchStub({ 'GET /backups': (c) => (c.query.q ? [] : [newer]) });
		await mountWith(stub);
		await wrapper.find('#filter-q').setValue('nothing-like-this');
		await wrapper.find('form.filters').trigger('submit');
		await settle();
		const empty = wrapper.find('[data-test="empty"]');
		expect(empty.text()).toContain('No backups match these filters');
		await empty.find('button').trigger('click');
		await settle();
		expect(stub.calls.at(-1).query.q).toBeUndefined();
		expect(wrapper.find('#filter-q').element.value).toBe('');
		expect(rows(wrapper)).toHaveLength(1);
	});
});

describe('create', () => {
	it('creates with description and tags, announces it and reloads', async () => {
		const made = backup({ id: '44444444-4444-4444-8444-444444444444', description: 'pre-migration',
		    tags: ['migration', 'q4'], created_at: '2026-11-26T00:00:00Z', size: 2048 });
		const list = [newer];
		const d = deferred();
		const stub = fetchStub({
			'GET /backups': () => list,
			'POST /backups': async () => {
				await d.promise;
				list.push(made);
				return json(201, made);
			},
		});
		await mountWith(stub);
		await wrapper.find('#create-description').setValue('  pre-migration ');
		await wrapper.find('#create-tags').setValue('migration, q4, ,migration');
		await wrapper.find('form.create-form').trigger('submit');
		await settle();
		/* While it runs every action button is disabled. */
		const btn = wrapper.find('[data-test="create"]');
		expect(btn.attributes('disabled')).toBeDefined();
		expect(btn.text()).toContain('Creating');
		expect(wrapper.find('[data-test="delete"]').attributes('disabled')).toBeDefined();
		expect(wrapper.find('[data-test="restore"]').attributes('disabled')).toBeDefined();
		d.resolve();
		await settle();
		const post = stub.callsTo('POST', '/backups')[0];
		expect(post.body).toEqual({ description: 'pre-migration', tags: ['migration', 'q4'] });
		expect(post.headers['Content-Type']).toBe('application/json');
		expect(wrapper.find('[data-test="notice"]').text()).toContain('Backup 44444444 created (2.0 KiB)');
		expect(wrapper.find('[role="status"]').attributes('aria-live')).toBe('polite');
		expect(rows(wrapper)[0].attributes('data-id')).toBe(made.id);
		expect(rows(wrapper)[0].classes()).toContain('row-highlight');
		expect(wrapper.find('#create-description').element.value).toBe('');
		expect(wrapper.find('[data-test="create"]').attributes('disabled')).toBeUndefined();
	});

	it('creates with an empty body when nothing is given', async () => {
		const stub = fetchStub({ 'GET /backups': [], 'POST /backups': () => json(201, backup()) });
		await mountWith(stub);
		await wrapper.find('form.create-form').trigger('submit');
		await settle();
		expect(stub.callsTo('POST', '/backups')[0].body).toEqual({});
	});

	it('checks the server limits before sending', async () => {
		const stub = fetchStub({ 'GET /backups': [], 'POST /backups': () => json(201, backup()) });
		await mountWith(stub);
		await wrapper.find('#create-tags').setValue('ok, ' + 'x'.repeat(65));
		await wrapper.find('form.create-form').trigger('submit');
		await settle();
		expect(wrapper.find('[data-test="create-error"]').text()).toContain('at most 64 bytes');
		expect(wrapper.find('#create-tags').attributes('aria-invalid')).toBe('true');
		await wrapper.find('#create-tags').setValue(Array.from({ length: 33 }, (_, i) => `t${i}`).join(','));
		await wrapper.find('form.create-form').trigger('submit');
		await settle();
		expect(wrapper.find('[data-test="create-error"]').text()).toContain('Too many tags');
		expect(stub.callsTo('POST')).toHaveLength(0);
		await wrapper.find('#create-tags').setValue('fine');
		await wrapper.find('form.create-form').trigger('submit');
		await settle();
		expect(wrapper.find('[data-test="create-error"]').exists()).toBe(false);
		expect(stub.callsTo('POST')).toHaveLength(1);
	});

	it('explains a 409 BUSY', async () => {
		const stub = fetchStub({
			'GET /backups': [newer],
			'POST /backups': apiError(409, 'BUSY', 'lock held'),
		});
		await mountWith(stub);
		await wrapper.find('form.create-form').trigger('submit');
		await settle();
		const err = wrapper.find('[data-test="action-error"]');
		expect(err.text()).toContain('Another backup or restore is running');
		expect(err.element.parentElement.getAttribute('role')).toBe('alert');
		expect(wrapper.find('[data-test="create"]').attributes('disabled')).toBeUndefined();
	});

	it('explains a 403 on create', async () => {
		const stub = fetchStub({
			'GET /backups': [newer],
			'POST /backups': apiError(403, 'FORBIDDEN', 'scope * required'),
		});
		await mountWith(stub);
		await wrapper.find('form.create-form').trigger('submit');
		await settle();
		expect(wrapper.find('[data-test="action-error"]').text()).toContain('You do not have permission');
	});
});

describe('delete', () => {
	it('keeps delete unavailable for an automatic backup and says why', async () => {
		const stub = fetchStub({ 'GET /backups': [older] });
		await mountWith(stub);
		const btn = row(wrapper, older.id).find('[data-test="delete"]');
		expect(btn.attributes('aria-disabled')).toBe('true');
		const why = wrapper.find('#' + btn.attributes('aria-describedby'));
		expect(why.text()).toContain('Automatic backups cannot be deleted');
		expect(why.text()).toContain('retention policy');
		expect(why.attributes('role')).toBe('tooltip');
		await btn.trigger('click');
		await settle();
		expect(wrapper.find('[role="dialog"]').exists()).toBe(false);
		expect(stub.callsTo('DELETE')).toHaveLength(0);
	});

	it('asks first, and Cancel deletes nothing', async () => {
		const stub = fetchStub({ 'GET /backups': [newer] });
		await mountWith(stub);
		const btn = row(wrapper, newer.id).find('[data-test="delete"]');
		expect(btn.attributes('aria-disabled')).toBeUndefined();
		btn.element.focus();
		await btn.trigger('click');
		await settle();
		const dlg = wrapper.find('[role="dialog"]');
		expect(dlg.attributes('aria-modal')).toBe('true');
		expect(dlg.text()).toContain('cannot be undone');
		expect(dlg.text()).toContain('before upgrade');
		expect(wrapper.find('[data-test="content"]').attributes('inert')).toBeDefined();
		/* Focus starts on the safe choice. */
		expect(document.activeElement.textContent).toBe('Cancel');
		await dlg.findAll('button').find((b) => b.text() === 'Cancel').trigger('click');
		await settle();
		expect(wrapper.find('[role="dialog"]').exists()).toBe(false);
		expect(stub.callsTo('DELETE')).toHaveLength(0);
		expect(wrapper.find('[data-test="content"]').attributes('inert')).toBeUndefined();
		/* Focus goes back to the button that opened the dialog. */
		expect(document.activeElement).toBe(btn.element);
	});

	it('deletes a manual backup after confirmation', async () => {
		let list = [newer, older];
		const stub = fetchStub({
			'GET /backups': () => list,
			'DELETE /backups/:id': (c) => {
				list = list.filter((b) => `/backups/${b.id}` !== c.path);
				return { deleted: newer.id };
			},
		});
		await mountWith(stub);
		await row(wrapper, newer.id).find('[data-test="delete"]').trigger('click');
		await settle();
		await wrapper.find('[role="dialog"] .btn-danger').trigger('click');
		await settle();
		const del = stub.callsTo('DELETE');
		expect(del).toHaveLength(1);
		expect(del[0].path).toBe(`/backups/${newer.id}`);
		expect(del[0].headers['Content-Type']).toBe('application/json');
		expect(wrapper.find('[role="dialog"]').exists()).toBe(false);
		expect(wrapper.find('[data-test="notice"]').text()).toContain('Backup 22222222 deleted');
		expect(row(wrapper, newer.id).exists()).toBe(false);
		expect(rows(wrapper)).toHaveLength(1);
		/* Focus lands on the list, not lost with the deleted row. */
		expect(document.activeElement.id).toBe('list-title');
	});

	it('explains AUTOMATIC_NOT_DELETABLE from the server', async () => {
		const stub = fetchStub({
			'GET /backups': [newer],
			'DELETE /backups/:id': apiError(400, 'AUTOMATIC_NOT_DELETABLE', 'automatic'),
		});
		await mountWith(stub);
		await wrapper.find('[data-test="delete"]').trigger('click');
		await settle();
		await wrapper.find('[role="dialog"] .btn-danger').trigger('click');
		await settle();
		expect(wrapper.find('[data-test="action-error"]').text()).toContain('Automatic backups cannot be deleted');
	});

	it('closes with Escape and keeps Tab inside the dialog', async () => {
		await mountWith(fetchStub({ 'GET /backups': [newer] }));
		await wrapper.find('[data-test="delete"]').trigger('click');
		await settle();
		const buttons = wrapper.findAll('[role="dialog"] button');
		const [cancel, confirm] = buttons.map((b) => b.element);
		confirm.focus();
		await wrapper.find('.modal-backdrop').trigger('keydown', { key: 'Tab' });
		expect(document.activeElement).toBe(cancel);
		await wrapper.find('.modal-backdrop').trigger('keydown', { key: 'Tab', shiftKey: true });
		expect(document.activeElement).toBe(confirm);
		await wrapper.find('.modal-backdrop').trigger('keydown', { key: 'Escape' });
		await settle();
		expect(wrapper.find('[role="dialog"]').exists()).toBe(false);
	});
});

describe('restore', () => {
	const result = {
		id: '99999999-9999-4999-8999-999999999999',
		backup_id: newer.id,
		safety_backup_id: '55555555-5555-4555-8555-555555555555',
		started_at: '2026-11-26T01:00:00Z',
		finished_at: '2026-11-26T01:00:03Z',
		status: 'completed',
		error: null,
	};
	const safety = backup({ id: result.safety_backup_id, created_at: '2026-11-26T01:00:01Z',
	    description: 'safety backup before restore' });

	it('says a safety backup is taken first, restores, and shows the safety backup', async () => {
		const list = [newer, older];
		const d = deferred();
		const stub = fetchStub({
			'GET /backups': () => list,
			'POST /backups/:id/restore': async () => {
				await d.promise;
				list.push(safety);
				return result;
			},
		});
		await mountWith(stub);
		await row(wrapper, newer.id).find('[data-test="restore"]').trigger('click');
		await settle();
		const dlg = wrapper.find('[role="dialog"]');
		expect(dlg.text()).toContain('A safety backup of the current database is taken first');
		await dlg.find('.btn-danger').trigger('click');
		await settle();
		/* Running: the dialog stays, its buttons and the page's are disabled. */
		expect(wrapper.find('[role="dialog"] .btn-danger').text()).toContain('Working');
		expect(wrapper.find('[role="dialog"] .btn-danger').attributes('disabled')).toBeDefined();
		expect(wrapper.find('[data-test="create"]').attributes('disabled')).toBeDefined();
		d.resolve();
		await settle();
		const post = stub.callsTo('POST', `/backups/${newer.id}/restore`);
		expect(post).toHaveLength(1);
		expect(post[0].body).toEqual({ confirm: true });
		expect(post[0].headers['Content-Type']).toBe('application/json');
		expect(wrapper.find('[role="dialog"]').exists()).toBe(false);
		expect(wrapper.find('[data-test="notice"]').text()).toContain(result.safety_backup_id);
		expect(wrapper.find('[data-test="safety-id"]').text()).toBe(result.safety_backup_id);
		const s = row(wrapper, safety.id);
		expect(s.exists()).toBe(true);
		expect(s.find('[data-test="safety-badge"]').exists()).toBe(true);
		expect(s.classes()).toContain('row-highlight');
	});

	it('cannot restore a failed backup', async () => {
		const stub = fetchStub({ 'GET /backups': [failed] });
		await mountWith(stub);
		const btn = wrapper.find('[data-test="restore"]');
		expect(btn.attributes('aria-disabled')).toBe('true');
		expect(wrapper.find('#' + btn.attributes('aria-describedby')).text()).toContain('failed');
		await btn.trigger('click');
		await settle();
		expect(wrapper.find('[role="dialog"]').exists()).toBe(false);
	});

	it('explains a corrupt backup and that nothing changed', async () => {
		const stub = fetchStub({
			'GET /backups': [newer],
			'POST /backups/:id/restore': apiError(422, 'BACKUP_CORRUPT', 'sha256 mismatch'),
		});
		await mountWith(stub);
		await wrapper.find('[data-test="restore"]').trigger('click');
		await settle();
		await wrapper.find('[role="dialog"] .btn-danger').trigger('click');
		await settle();
		const err = wrapper.find('[data-test="action-error"]').text();
		expect(err).toContain('The backup is damaged');
		expect(err).toContain('live database was not changed');
		expect(err).toContain('sha256 mismatch');
		expect(wrapper.find('[data-test="notice"]').exists()).toBe(false);
	});

	it('reports a restore that finished as failed', async () => {
		const stub = fetchStub({
			'GET /backups': [newer],
			'POST /backups/:id/restore': { ...result, status: 'failed', error: 'integrity_check failed' },
		});
		await mountWith(stub);
		await wrapper.find('[data-test="restore"]').trigger('click');
		await settle();
		await wrapper.find('[role="dialog"] .btn-danger').trigger('click');
		await settle();
		const err = wrapper.find('[data-test="action-error"]').text();
		expect(err).toContain('The restore did not complete');
		expect(err).toContain('integrity_check failed');
		expect(err).toContain(result.safety_backup_id);
	});
});

describe('details and download', () => {
	it('shows sha256, location and exact size of one backup', async () => {
		const big = backup({ size: 1234567, sha256: 'f0'.repeat(32) });
		await mountWith(fetchStub({ 'GET /backups': [big] }));
		const btn = wrapper.find('[data-test="details"]');
		expect(btn.attributes('aria-expanded')).toBe('false');
		await btn.trigger('click');
		const panel = wrapper.find('[data-test="details-panel"]');
		expect(btn.attributes('aria-expanded')).toBe('true');
		expect(btn.attributes('aria-controls')).toBe(panel.attributes('id'));
		expect(panel.text()).toContain('f0'.repeat(32));
		expect(panel.text()).toContain(big.location);
		expect(panel.text()).toContain('1,234,567 bytes');
		expect(panel.text()).toContain(big.id);
		await btn.trigger('click');
		expect(wrapper.find('[data-test="details-panel"]').exists()).toBe(false);
	});

	it('shows the failure reason in the details of a failed backup', async () => {
		await mountWith(fetchStub({ 'GET /backups': [failed] }));
		await wrapper.find('[data-test="details"]').trigger('click');
		const panel = wrapper.find('[data-test="details-panel"]').text();
		expect(panel).toContain('disk full while uploading');
		expect(panel).toContain('unknown');
	});

	it('links the download of a completed backup', async () => {
		await mountWith(fetchStub({ 'GET /backups': [newer] }));
		const a = wrapper.find('[data-test="download"]');
		expect(a.element.tagName).toBe('A');
		expect(a.attributes('href')).toBe(`/backups/${newer.id}/download`);
		expect(a.attributes('download')).toBeDefined();
	});
});

describe('pending backups', () => {
	it('reloads while a backup is pending', async () => {
		// The list says completed only once the pending chip was seen,
		// so a slow machine cannot skip the pending state.
		let finished = false;
		const stub = fetchStub({
			'GET /backups': () => (finished ?
			    [backup({ id: 'p', status: 'completed' })] :
			    [backup({ id: 'p', status: 'pending', size: null })]),
		});
		await mountWith(stub, { pollMs: 20 });
		const chip = () => wrapper.find('[data-test="status-chip"]').text();
		expect(chip()).toContain('Pending');
		finished = true;
		for (let i = 0; i < 200 && !chip().includes('Completed'); i++) {
			await new Promise((r) => setTimeout(r, 10));
			await settle();
		}
		expect(chip()).toContain('Completed');
		// Polling stops once nothing is pending.
		const count = stub.calls.length;
		await new Promise((r) => setTimeout(r, 60));
		expect(stub.calls.length).toBe(count);
	});
});
