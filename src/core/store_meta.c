/*
 * store_meta.c - the metadata maps that travel with every object (keys
 * and values checked here, so a backend never sees one it cannot keep)
 * and the object records a head or a list returns.
 */
#include <stdlib.h>
#include <string.h>

#include "store.h"

/*
 * A metadata key is 1..SB_META_KEY_MAX bytes of [a-z0-9_]: the
 * intersection of what every medium accepts unchanged (an Azure metadata
 * name must be a C# identifier and is case-insensitive; a JSON key is
 * anything). Keys starting with a digit are refused for the same reason.
 * Returns 1 if valid, 0 if not.
 */
int
sb_is_meta_key(const char *k)
{
	size_t	i;

	if (k == NULL || k[0] == '\0' || (k[0] >= '0' && k[0] <= '9'))
		return 0;
	for (i = 0; k[i] != '\0'; i++) {
		if (i >= SB_META_KEY_MAX)
			return 0;
		if (!((k[i] >= 'a' && k[i] <= 'z') ||
		    (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return 0;
	}
	return 1;
}

/* A value: at most SB_META_VAL_MAX bytes of well-formed UTF-8. */
static int
meta_valid_val(const char *v)
{
	size_t	len;

	if (v == NULL)
		return 0;
	len = strnlen(v, SB_META_VAL_MAX + 1);
	return len <= SB_META_VAL_MAX && sb_is_utf8(v, len);
}

/*
 * Set key to a copy of val, replacing the value of an existing key.
 * Returns SB_ERR_INVAL for a bad key or value or when the map already
 * holds SB_META_MAX pairs, SB_ERR_NOMEM if a copy fails (m unchanged).
 */
enum sb_err
sb_meta_set(struct sb_meta *m, const char *key, const char *val)
{
	char	*k = NULL, *v = NULL;
	size_t	 i;

	if (m == NULL || !sb_is_meta_key(key) || !meta_valid_val(val))
		return SB_ERR_INVAL;
	for (i = 0; i < m->n; i++) {
		if (strcmp(m->kv[i].key, key) != 0)
			continue;
		if ((v = strdup(val)) == NULL)
			return SB_ERR_NOMEM;
		free(m->kv[i].val);
		m->kv[i].val = v;
		return SB_OK;
	}
	if (m->n >= SB_META_MAX)
		return SB_ERR_INVAL;
	if ((k = strdup(key)) == NULL || (v = strdup(val)) == NULL) {
		free(k);
		return SB_ERR_NOMEM;
	}
	m->kv[m->n].key = k;
	m->kv[m->n].val = v;
	m->n++;
	return SB_OK;
}

/* The value of key (borrowed from m), or NULL if absent. */
const char *
sb_meta_get(const struct sb_meta *m, const char *key)
{
	size_t	i;

	if (m == NULL || key == NULL)
		return NULL;
	for (i = 0; i < m->n && i < SB_META_MAX; i++)
		if (strcmp(m->kv[i].key, key) == 0)
			return m->kv[i].val;
	return NULL;
}

void
sb_meta_clear(struct sb_meta *m)
{
	size_t	i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n && i < SB_META_MAX; i++) {
		free(m->kv[i].key);
		free(m->kv[i].val);
	}
	memset(m, 0, sizeof(*m));
}

/*
 * Check a whole map, as a caller may have filled it by hand: count in
 * range, every key and value valid, no key twice (a backend would keep
 * only one of them, silently).
 */
int
sb_is_valid_meta(const struct sb_meta *m)
{
	size_t	i, j;

	if (m == NULL)
		return 1;
	if (m->n > SB_META_MAX)
		return 0;
	for (i = 0; i < m->n; i++) {
		if (!sb_is_meta_key(m->kv[i].key) ||
		    !meta_valid_val(m->kv[i].val))
			return 0;
		for (j = 0; j < i; j++)
			if (strcmp(m->kv[i].key, m->kv[j].key) == 0)
				return 0;
	}
	return 1;
}

void
sb_object_clear(struct sb_object *o)
{
	if (o == NULL)
		return;
	free(o->name);
	sb_meta_clear(&o->meta);
	memset(o, 0, sizeof(*o));
}

void
sb_object_list_clear(struct sb_object_list *l)
{
	size_t	i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		sb_object_clear(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

