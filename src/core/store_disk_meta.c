/*
 * store_disk_meta.c - the disk store's metadata files (store_disk.c):
 * <name>.meta holds {"meta":{"key":"value",...}}, written and read with
 * json-c.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "store.h"

/*
 * Serialise m as {"meta":{...}} into a new string the caller frees.
 * Values are passed with their length, so json-c keeps them byte for
 * byte; it writes UTF-8 as is and escapes only what JSON requires.
 */
char *
sb_disk_meta_json(const struct sb_meta *m)
{
	json_object	*root = NULL, *obj = NULL, *v;
	const char	*txt;
	char		*ret = NULL;
	size_t		 i;

	if ((root = json_object_new_object()) == NULL ||
	    (obj = json_object_new_object()) == NULL)
		goto out;
	for (i = 0; m != NULL && i < m->n; i++) {
		v = json_object_new_string_len(m->kv[i].val,
		    (int)strlen(m->kv[i].val));
		if (v == NULL || json_object_object_add(obj, m->kv[i].key,
		    v) != 0) {
			json_object_put(v);
			goto out;
		}
	}
	if (json_object_object_add(root, "meta", obj) != 0)
		goto out;
	obj = NULL;
	txt = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (txt != NULL)
		ret = strdup(txt);
out:
	json_object_put(obj);
	json_object_put(root);
	return ret;
}

/*
 * Read the metadata file at path into m (which must be empty). A missing,
 * unreadable or malformed file gives an empty map: metadata is advisory
 * and an object without it is still a good object. Entries that are not
 * valid keys or string values are skipped. Only SB_ERR_NOMEM is an error.
 */
enum sb_err
sb_disk_meta_read(const char *path, struct sb_meta *m)
{
	json_tokener	*tok = NULL;
	json_object	*root = NULL, *obj;
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0, want;
	ssize_t		 n;
	int		 fd = -1, rc = SB_OK;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		goto out;
	/* Sized to the file (list() reads one per object), within a cap. */
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > DISK_META_MAX)
		goto out;
	want = (size_t)st.st_size;
	if ((buf = malloc(want)) == NULL) {
		rc = SB_ERR_NOMEM;
		goto out;
	}
	while (len < want) {
		n = read(fd, buf + len, want - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto out;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == 0)
		goto out;
	if ((tok = json_tokener_new()) == NULL) {
		rc = SB_ERR_NOMEM;
		goto out;
	}
	root = json_tokener_parse_ex(tok, buf, (int)len);
	if (root == NULL || json_tokener_get_error(tok) != json_tokener_success)
		goto out;
	if (!json_object_object_get_ex(root, "meta", &obj) ||
	    !json_object_is_type(obj, json_type_object))
		goto out;
	json_object_object_foreach(obj, key, val) {
		const char *s;
		if (!json_object_is_type(val, json_type_string))
			continue;
		s = json_object_get_string(val);
		/* An embedded NUL (\u0000) cannot be given back intact. */
		if (strlen(s) != (size_t)json_object_get_string_len(val))
			continue;
		if (sb_meta_set(m, key, s) == SB_ERR_NOMEM) {
			rc = SB_ERR_NOMEM;
			goto out;
		}
	}
out:
	if (rc != SB_OK)
		sb_meta_clear(m);
	json_object_put(root);
	if (tok != NULL)
		json_tokener_free(tok);
	free(buf);
	if (fd != -1)
		close(fd);
	return rc;
}
