/*
 * peer.h - who may talk to backupd (docs/OPERATIONS.md, "Who may talk to
 * backupd"). Three checks, the policy built once at start from [daemon]:
 *
 *   - the secret: every request must carry the FastCGI param
 *     SAF_FASTCGI_SECRET equal to the token of [daemon] secret_file (or
 *     $SAFBACKUP_DAEMON_SECRET). nginx sends it from a snippet only root
 *     reads; any other local process that can connect does not know it.
 *     Without a secret backupd does not start.
 *   - on a unix socket, the peer's credentials (SO_PEERCRED): when
 *     allow_users or allow_groups is set, its uid must be an allowed
 *     user's or its primary gid an allowed group's.
 *   - on TCP, the peer's address: in allow_addrs, or loopback when
 *     allow_addrs is unset; and a non-loopback address is never bound
 *     without allow_addrs.
 *
 * No FastCGI here: the unit tests link this file alone.
 */
#ifndef SB_PEER_H
#define SB_PEER_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>

#include "sb.h"

#define PEER_SECRET_PARAM	"SAF_FASTCGI_SECRET"
#define PEER_SECRET_ENV		"SAFBACKUP_DAEMON_SECRET"
#define PEER_SECRET_MIN		32	/* bytes: `openssl rand -hex 32` gives 64 */
#define PEER_SECRET_MAX		1024
#define PEER_IDS_MAX		16	/* users, and groups, allowed */
#define PEER_NETS_MAX		32	/* entries of allow_addrs */

struct sb_config;

/* One entry of allow_addrs: an address and how many leading bits count. */
struct peer_net {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned char	addr[16];	/* 4 bytes used for AF_INET */
	unsigned	bits;		/* prefix length; the whole address if none */
};

/* The policy: built by peer_policy_init, released by peer_policy_clear. */
struct peer_policy {
	char		*secret;	/* heap; wiped by peer_policy_clear */
	size_t		 secretlen;
	int		 tcp;		/* listening on TCP, not a unix socket */
	unsigned	 uid[PEER_IDS_MAX];	/* uid_t values */
	size_t		 nuid;
	unsigned	 gid[PEER_IDS_MAX];	/* gid_t values */
	size_t		 ngid;
	struct peer_net	 net[PEER_NETS_MAX];
	size_t		 nnet;		/* 0 on TCP: loopback peers only */
};

/* Who connected, for the log line of a refusal. */
struct peer_info {
	int		 is_unix;	/* pid, uid, gid are set; else addr */
	pid_t		 pid;
	uid_t		 uid;
	gid_t		 gid;
	char		 addr[64];	/* numeric, IPv4-mapped shown as IPv4 */
};

/*
 * Build the policy from the configuration for a listener on TCP (tcp 1)
 * or a unix socket (0): read the secret (environment first, then
 * secret_file, under sb_secret_read's rules), resolve allow_users and
 * allow_groups (getpwnam, getgrnam), parse allow_addrs. SB_ERR_CONFIG
 * with a one-line reason in err (naming the key) when the secret is
 * missing, short or holds a byte nginx could not carry in a quoted
 * string, a name is unknown, an address is bad, or a list does not fit
 * the listener (allow_users/allow_groups need a unix socket, allow_addrs
 * TCP). Release with peer_policy_clear, also after a failure.
 */
enum sb_err	peer_policy_init(struct peer_policy *, const struct sb_config *,
		    int tcp, char *err);
void		peer_policy_clear(struct peer_policy *);

/*
 * Whether this kernel lets a process read the memory of another process
 * of its own uid (and so nginx's workers' copy of the secret: they are
 * dumpable): Yama absent, or kernel.yama.ptrace_scope 0. Read from
 * scope_file (NULL: /proc/sys/kernel/yama/ptrace_scope).
 */
int	peer_is_ptrace_open(const char *scope_file);

/*
 * Whether backupd may bind sa: a loopback address always, any other only
 * with allow_addrs set. When not, err says so, naming allow_addrs.
 */
int	peer_is_bind_allowed(const struct peer_policy *, const struct sockaddr *,
	    char *err);

/*
 * The verdict on one request over the connection fd, whose secret param
 * is secret (NULL when absent): 1 when allowed, else 0 with why (whylen
 * bytes) saying which check failed. *info says who it is in both cases.
 */
int	peer_is_allowed(const struct peer_policy *, int fd, const char *secret,
	    struct peer_info *info, char *why, size_t whylen);

/*
 * Parse a list of addresses and CIDR blocks ("127.0.0.1, 10.0.0.0/8
 * ::1 fd00::/8"; commas or blanks between them) into net[0..max); *n the
 * count. SB_ERR_CONFIG with err naming the bad entry.
 */
enum sb_err	peer_nets_parse(const char *list, struct peer_net *net,
		    size_t max, size_t *n, char *err);

/* Whether sa (AF_INET or AF_INET6; IPv4-mapped counts as IPv4) is in net. */
int	peer_is_addr_listed(const struct peer_net *net, size_t n,
	    const struct sockaddr *sa);

/* Whether sa is 127.0.0.0/8 or ::1 (or ::ffff:127.0.0.0/104). */
int	peer_is_loopback(const struct sockaddr *sa);

/* Whether got equals the secret, in time that does not depend on where
 * they differ (CRYPTO_memcmp). NULL got: no. */
int	peer_is_secret(const struct peer_policy *, const char *got);

#endif /* SB_PEER_H */
