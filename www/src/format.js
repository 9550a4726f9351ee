/* Formatting helpers shared by the components; pure, so easy to test. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/* 1536 -> "1.5 KiB"; null/undefined -> "—" (size unknown until completed). */
export function humanSize(bytes) {
	if (bytes === null || bytes === undefined || !Number.isFinite(Number(bytes)))
		return '—';
	let n = Number(bytes);
	let i = 0;
	while (n >= 1024 && i < UNITS.length - 1) {
		n /= 1024;
		i++;
	}
	if (i === 0)
		return `${n} B`;
	return `${n >= 100 ? n.toFixed(0) : n.toFixed(1)} ${UNITS[i]}`;
}

/* 1234567 -> "1,234,567 bytes", always the exact figure. */
export function exactSize(bytes) {
	if (bytes === null || bytes === undefined || !Number.isFinite(Number(bytes)))
		return 'unknown';
	const n = Number(bytes);
	return `${n.toLocaleString('en-US')} ${n === 1 ? 'byte' : 'bytes'}`;
}

/* ISO 8601 -> a readable local date and time; null -> "—". */
export function formatDate(iso) {
	if (!iso)
		return '—';
	const d = new Date(iso);
	if (Number.isNaN(d.getTime()))
		return String(iso);
	return d.toLocaleString(undefined, {
		year: 'numeric', month: 'short', day: 'numeric',
		hour: '2-digit', minute: '2-digit', second: '2-digit',
	});
}

/* "a, b,,a " -> ["a", "b"]: trimmed, no empties, no duplicates. */
export function parseTags(text) {
	const out = [];
	for (const raw of String(text ?? '').split(',')) {
		const t = raw.trim();
		if (t !== '' && !out.includes(t))
			out.push(t);
	}
	return out;
}

function isoSeconds(d) {
	return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/*
 * A date input's "YYYY-MM-DD" (a local calendar day) -> the UTC instant
 * the day starts ("from") or the last second of the day ("to"), so that a
 * range of one day includes all of that day where the admin is.
 */
export function dayBoundIso(day, end) {
	const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day ?? '');
	if (!m)
		return '';
	const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
	if (end)
		d.setTime(new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + 1).getTime() - 1000);
	return isoSeconds(d);
}

/* The short form of a uuid shown in tight places; the full one is in details. */
export function shortId(id) {
	return String(id ?? '').slice(0, 8);
}

/* ISO 8601 -> the local date alone ("Nov 20, 2026"); for chart axes. */
export function formatDay(iso) {
	if (!iso)
		return '—';
	const d = new Date(iso);
	if (Number.isNaN(d.getTime()))
		return String(iso);
	return d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

/* The phases of a running backup or restore (GET /backups/status "running"). */
const PHASES = {
	snapshot: 'Snapshot',
	upload: 'Upload',
	download: 'Download',
	verify: 'Verify',
	safety_backup: 'Safety backup',
	copy: 'Copy',
};

/* "safety_backup" -> "Safety backup"; an unknown phase is shown as sent. */
export function phaseName(phase) {
	return PHASES[phase] ?? String(phase ?? '');
}

/*
 * done of total as a whole percentage, 0 to 100 (never 100 before done
 * reaches total); null when the total is unknown (null, 0 or not a number).
 */
export function percent(done, total) {
	const d = Number(done);
	const t = Number(total);
	if (total === null || total === undefined || !Number.isFinite(t) || t <= 0 ||
	    !Number.isFinite(d))
		return null;
	if (d >= t)
		return 100;
	return Math.max(0, Math.min(99, Math.floor((d * 100) / t)));
}
