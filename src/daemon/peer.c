/*
 * peer.c - who may talk to backupd: see peer.h and docs/OPERATIONS.md,
 * "Who may talk to backupd".
 *
 * Why a secret and not only the peer's uid: on Debian nginx's workers
 * and every PHP-FPM pool may well run as www-data, so SO_PEERCRED
 * cannot tell nginx from PHP. The secret is what only nginx knows (its
 * master, root, reads it from a root-only snippet); SO_PEERCRED and the
 * address list narrow who may even try.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "config.h"
#include "secret.h"
#include "peer.h"

#define SEPS	", \t"

int
peer_is_ptrace_open(const char *scope_file)
{
	FILE	*f;
	int	 scope = 0;

	if (scope_file == NULL)
		scope_file = "/proc/sys/kernel/yama/ptrace_scope";
	if ((f = fopen(scope_file, "re")) == NULL)
		return 1;	/* no Yama: same uid may ptrace */
	if (fscanf(f, "%d", &scope) != 1)
		scope = 0;
	fclose(f);
	return scope == 0;
}

/* A byte nginx carries in a "quoted" fastcgi_param value as it is. */
static int
is_secret_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("-_.+/=", c) != NULL;
}

/*
 * The secret: $SAFBACKUP_DAEMON_SECRET, else the file of secret_file (its
 * mode checked by sb_secret_read). It must be long enough not to be
 * guessed and written with bytes nginx takes literally ('$' would start
 * a variable in the snippet, a quote would end the string).
 */
static enum sb_err
read_secret(struct peer_policy *p, const struct sb_config *cfg, char *err)
{
	const char	*env = getenv(PEER_SECRET_ENV);
	char		 why[128];

	if (env != NULL && *env != '\0') {
		if ((p->secret = strdup(env)) == NULL) {
			sb_seterr(err, "out of memory");
			return SB_ERR_NOMEM;
		}
	} else if (cfg->daemon_secret_file == NULL) {
		sb_seterr(err, "[daemon] secret_file: required: backupd does not "
		    "start without the secret nginx sends (see "
		    "docs/OPERATIONS.md, \"Who may talk to backupd\")");
		return SB_ERR_CONFIG;
	} else if (sb_secret_read(cfg->daemon_secret_file, &p->secret, why,
	    sizeof(why)) != SB_OK) {
		sb_seterr(err, "[daemon] secret_file: %s: %s",
		    cfg->daemon_secret_file, why);
		return SB_ERR_CONFIG;
	}
	p->secretlen = strlen(p->secret);
	if (p->secretlen < PEER_SECRET_MIN || p->secretlen > PEER_SECRET_MAX) {
		sb_seterr(err, "[daemon] secret_file: the secret must be %d to "
		    "%d bytes (openssl rand -hex 32 makes one)", PEER_SECRET_MIN,
		    PEER_SECRET_MAX);
		return SB_ERR_CONFIG;
	}
	for (size_t i = 0; i < p->secretlen; i++)
		if (!is_secret_char((unsigned char)p->secret[i])) {
			sb_seterr(err, "[daemon] secret_file: the secret may hold "
			    "only letters, digits and - _ . + / = (openssl rand "
			    "-hex 32 makes one)");
			return SB_ERR_CONFIG;
		}
	return SB_OK;
}

/*
 * The next word of a list (commas or blanks between words) at *p into
 * buf (len bytes), *p moved past it: 1, 0 at the end of the list, -1 when
 * the word does not fit (buf then holds its start, for the message).
 */
static int
next_word(const char **p, char *buf, size_t len)
{
	size_t	n;

	*p += strspn(*p, SEPS);
	if (**p == '\0')
		return 0;
	n = strcspn(*p, SEPS);
	snprintf(buf, len, "%.*s", (int)n, *p);
	*p += n;
	return n < len ? 1 : -1;
}

/*
 * Resolve the names of allow_users (is_group 0) or allow_groups (1) into
 * ids[0..PEER_IDS_MAX); *n the count. An unknown name refuses the start:
 * a typo must not silently allow nobody, or somebody else.
 */
static enum sb_err
resolve_names(const char *list, int is_group, unsigned *ids, size_t *n,
    char *err)
{
	const char	*key = is_group ? "allow_groups" : "allow_users";
	const char	*p = list;
	char		 word[256];
	struct passwd	*pw;
	struct group	*gr;
	int		 got;

	*n = 0;
	while (p != NULL && (got = next_word(&p, word, sizeof(word))) != 0) {
		if (*n == PEER_IDS_MAX) {
			sb_seterr(err, "[daemon] %s: more than %d names", key,
			    PEER_IDS_MAX);
			return SB_ERR_CONFIG;
		}
		if (got > 0 && !is_group && (pw = getpwnam(word)) != NULL)
			ids[(*n)++] = (unsigned)pw->pw_uid;
		else if (got > 0 && is_group && (gr = getgrnam(word)) != NULL)
			ids[(*n)++] = (unsigned)gr->gr_gid;
		else {
			sb_seterr(err, "[daemon] %s: no %s '%.64s' on this system",
			    key, is_group ? "group" : "user", word);
			return SB_ERR_CONFIG;
		}
	}
	return SB_OK;
}

/* One entry of allow_addrs ("10.0.0.0/8", "::1") into *net. */
static int
parse_net(const char *tok, struct peer_net *net)
{
	char		 host[64];
	const char	*slash = strchr(tok, '/');
	size_t		 hl = slash != NULL ? (size_t)(slash - tok) : strlen(tok);
	int64_t		 bits;

	if (hl == 0 || hl >= sizeof(host))
		return 0;
	memcpy(host, tok, hl);
	host[hl] = '\0';
	memset(net, 0, sizeof(*net));
	if (inet_pton(AF_INET, host, net->addr) == 1) {
		net->family = AF_INET;
		net->bits = 32;
	} else if (inet_pton(AF_INET6, host, net->addr) == 1) {
		net->family = AF_INET6;
		net->bits = 128;
	} else
		return 0;
	if (slash != NULL) {
		if (sb_parse_i64(slash + 1, 0, net->bits, &bits) != SB_OK)
			return 0;
		net->bits = (unsigned)bits;
	}
	return 1;
}

enum sb_err
peer_nets_parse(const char *list, struct peer_net *net, size_t max,
    size_t *n, char *err)
{
	char	word[256];
	int	got;

	*n = 0;
	while ((got = next_word(&list, word, sizeof(word))) != 0) {
		if (*n == max) {
			sb_seterr(err, "[daemon] allow_addrs: more than %zu "
			    "entries", max);
			return SB_ERR_CONFIG;
		}
		if (got < 0 || !parse_net(word, &net[*n])) {
			sb_seterr(err, "[daemon] allow_addrs: '%.64s' is not an "
			    "IPv4 or IPv6 address, nor one with a /prefix "
			    "length", word);
			return SB_ERR_CONFIG;
		}
		(*n)++;
	}
	if (*n == 0) {
		sb_seterr(err, "[daemon] allow_addrs: set but empty");
		return SB_ERR_CONFIG;
	}
	return SB_OK;
}

/* The lists that do not apply to this listener are a mistake: say so. */
static enum sb_err
check_fit(const struct sb_config *cfg, int tcp, char *err)
{
	if (tcp && (cfg->allow_users != NULL || cfg->allow_groups != NULL)) {
		sb_seterr(err, "[daemon] %s: applies to a unix socket only "
		    "(SO_PEERCRED); on TCP, use allow_addrs",
		    cfg->allow_users != NULL ? "allow_users" : "allow_groups");
		return SB_ERR_CONFIG;
	}
	if (!tcp && cfg->allow_addrs != NULL) {
		sb_seterr(err, "[daemon] allow_addrs: applies to a TCP listen "
		    "only; on a unix socket, use allow_users or allow_groups");
		return SB_ERR_CONFIG;
	}
	return SB_OK;
}

enum sb_err
peer_policy_init(struct peer_policy *p, const struct sb_config *cfg, int tcp,
    char *err)
{
	enum sb_err	rc;

	memset(p, 0, sizeof(*p));
	p->tcp = tcp;
	if ((rc = read_secret(p, cfg, err)) != SB_OK ||
	    (rc = check_fit(cfg, tcp, err)) != SB_OK)
		return rc;
	if ((rc = resolve_names(cfg->allow_users, 0, p->uid, &p->nuid,
	    err)) != SB_OK ||
	    (rc = resolve_names(cfg->allow_groups, 1, p->gid, &p->ngid,
	    err)) != SB_OK)
		return rc;
	if (cfg->allow_addrs != NULL)
		rc = peer_nets_parse(cfg->allow_addrs, p->net, PEER_NETS_MAX,
		    &p->nnet, err);
	return rc;
}

void
peer_policy_clear(struct peer_policy *p)
{
	if (p->secret != NULL)
		sb_secret_wipe(p->secret, p->secretlen);
	memset(p, 0, sizeof(*p));
}

/*
 * The address of sa as (family, bytes): an IPv4-mapped IPv6 address (a
 * dual-stack listener's IPv4 peer) as the IPv4 address it is. 0 for
 * another family.
 */
static int
addr_of(const struct sockaddr *sa, int *family, unsigned char addr[16])
{
	const struct sockaddr_in	*in = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6	*in6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET) {
		*family = AF_INET;
		memcpy(addr, &in->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
		*family = AF_INET;
		memcpy(addr, in6->sin6_addr.s6_addr + 12, 4);
	} else if (sa->sa_family == AF_INET6) {
		*family = AF_INET6;
		memcpy(addr, in6->sin6_addr.s6_addr, 16);
	} else
		return 0;
	return 1;
}

/* Whether the first bits bits of a and b agree. */
static int
is_prefix_equal(const unsigned char *a, const unsigned char *b,
    unsigned bits)
{
	unsigned	full = bits / 8, rest = bits % 8;
	unsigned char	mask;

	if (memcmp(a, b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

int
peer_is_addr_listed(const struct peer_net *net, size_t n,
    const struct sockaddr *sa)
{
	unsigned char	addr[16];
	int		family;

	if (!addr_of(sa, &family, addr))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (net[i].family == family &&
		    is_prefix_equal(net[i].addr, addr, net[i].bits))
			return 1;
	return 0;
}

int
peer_is_loopback(const struct sockaddr *sa)
{
	static const struct peer_net	lo[] = {
		{ AF_INET, { 127 }, 8 },
		{ AF_INET6, { [15] = 1 }, 128 },
	};

	return peer_is_addr_listed(lo, 2, sa);
}

int
peer_is_bind_allowed(const struct peer_policy *p, const struct sockaddr *sa,
    char *err)
{
	unsigned char	addr[16];
	char		text[64] = "?";
	int		family;

	if (peer_is_loopback(sa) || p->nnet > 0)
		return 1;
	if (addr_of(sa, &family, addr))
		inet_ntop(family, addr, text, sizeof(text));
	sb_seterr(err, "[daemon] listen: %s is not a loopback address and "
	    "[daemon] allow_addrs is not set: refused (list the web servers "
	    "that may connect; see docs/OPERATIONS.md, \"Who may talk to "
	    "backupd\")", text);
	return 0;
}

int
peer_is_secret(const struct peer_policy *p, const char *got)
{
	if (got == NULL || p->secret == NULL || strlen(got) != p->secretlen)
		return 0;
	return CRYPTO_memcmp(got, p->secret, p->secretlen) == 0;
}

/* Whether id is one of ids[0..n). */
static int
is_id_in(unsigned id, const unsigned *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

/* The unix peer's credentials into info; 0 (why set) if unknown or not
 * allowed by allow_users / allow_groups. */
static int
is_unix_peer_allowed(const struct peer_policy *p, int fd,
    struct peer_info *info, char *why, size_t whylen)
{
	struct ucred	cr;
	socklen_t	len = sizeof(cr);

	info->is_unix = 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
		snprintf(why, whylen, "cannot read the peer's credentials");
		return 0;
	}
	info->pid = cr.pid;
	info->uid = cr.uid;
	info->gid = cr.gid;
	if (p->nuid + p->ngid == 0 ||
	    is_id_in(cr.uid, p->uid, p->nuid) ||
	    is_id_in(cr.gid, p->gid, p->ngid))
		return 1;
	snprintf(why, whylen, "uid %u gid %u is not in allow_users or "
	    "allow_groups", (unsigned)cr.uid, (unsigned)cr.gid);
	return 0;
}

/* The TCP peer's address into info; 0 (why set) if it may not connect. */
static int
is_tcp_peer_allowed(const struct peer_policy *p, int fd,
    struct peer_info *info, char *why, size_t whylen)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	unsigned char		 addr[16];
	int			 family;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    !addr_of((struct sockaddr *)&ss, &family, addr)) {
		snprintf(why, whylen, "cannot read the peer's address");
		return 0;
	}
	inet_ntop(family, addr, info->addr, sizeof(info->addr));
	if (p->nnet > 0 ? peer_is_addr_listed(p->net, p->nnet,
	    (struct sockaddr *)&ss) : peer_is_loopback((struct sockaddr *)&ss))
		return 1;
	snprintf(why, whylen, "address %s is not %s", info->addr,
	    p->nnet > 0 ? "in allow_addrs" : "loopback (allow_addrs unset)");
	return 0;
}

int
peer_is_allowed(const struct peer_policy *p, int fd, const char *secret,
    struct peer_info *info, char *why, size_t whylen)
{
	memset(info, 0, sizeof(*info));
	if (p->tcp ? !is_tcp_peer_allowed(p, fd, info, why, whylen) :
	    !is_unix_peer_allowed(p, fd, info, why, whylen))
		return 0;
	if (secret == NULL || *secret == '\0') {
		snprintf(why, whylen, "no %s param", PEER_SECRET_PARAM);
		return 0;
	}
	if (!peer_is_secret(p, secret)) {
		snprintf(why, whylen, "wrong %s", PEER_SECRET_PARAM);
		return 0;
	}
	return 1;
}
