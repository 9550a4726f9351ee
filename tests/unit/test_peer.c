/*
 * test_peer.c - who may talk to backupd (src/daemon/peer.c): the
 * allow_addrs parser and matcher, loopback, the secret's rules and its
 * comparison, and the policy's refusals at start. The checks on a live
 * connection are tested black-box (tests/integration/http/peer.test.mjs).
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sb.h"
#include "config.h"
#include "peer.h"

#define SECRET64 \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* An AF_INET or AF_INET6 sockaddr for text, in *ss. */
static const struct sockaddr *
sa(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*in = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1)
		in->sin_family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
		in6->sin6_family = AF_INET6;
	}
	return (const struct sockaddr *)ss;
}

static void
test_nets(void **state)
{
	struct peer_net		net[4];
	struct sockaddr_storage	ss;
	char			err[SB_ERRMSG_MAX];
	size_t			n;

	(void)state;
	assert_int_equal(peer_nets_parse("10.1.0.0/16, 192.0.2.7\t2001:db8::/32",
	    net, 4, &n, err), SB_OK);
	assert_int_equal(n, 3);
	assert_true(peer_is_addr_listed(net, n, sa("10.1.255.3", &ss)));
	assert_false(peer_is_addr_listed(net, n, sa("10.2.0.1", &ss)));
	assert_true(peer_is_addr_listed(net, n, sa("192.0.2.7", &ss)));
	assert_false(peer_is_addr_listed(net, n, sa("192.0.2.8", &ss)));
	assert_true(peer_is_addr_listed(net, n, sa("2001:db8:1::5", &ss)));
	assert_false(peer_is_addr_listed(net, n, sa("2001:db9::5", &ss)));
	/* A dual-stack listener's IPv4 peer is matched as IPv4. */
	assert_true(peer_is_addr_listed(net, n, sa("::ffff:10.1.2.3", &ss)));
	/* An odd prefix length compares the bits of its last byte. */
	assert_int_equal(peer_nets_parse("172.16.0.0/12", net, 4, &n, err),
	    SB_OK);
	assert_true(peer_is_addr_listed(net, n, sa("172.31.255.255", &ss)));
	assert_false(peer_is_addr_listed(net, n, sa("172.32.0.0", &ss)));
	assert_int_equal(peer_nets_parse("0.0.0.0/0", net, 4, &n, err), SB_OK);
	assert_true(peer_is_addr_listed(net, n, sa("203.0.113.9", &ss)));
	assert_false(peer_is_addr_listed(net, n, sa("::1", &ss)));
}

static void
test_nets_bad(void **state)
{
	static const char *const bad[] = {
		"localhost", "10.0.0.1/33", "::1/129", "10.0.0.1/", "/8",
		"10.0.0.1/-1", "10.0.0.256", "1.2.3.4/8x", ",", "",
	};
	struct peer_net	net[2];
	char		err[SB_ERRMSG_MAX];
	size_t		n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(peer_nets_parse(bad[i], net, 2, &n, err),
		    SB_ERR_CONFIG);
		assert_non_null(strstr(err, "[daemon] allow_addrs"));
	}
	assert_int_equal(peer_nets_parse("1.1.1.1 2.2.2.2 3.3.3.3", net, 2, &n,
	    err), SB_ERR_CONFIG);
	assert_non_null(strstr(err, "more than 2"));
}

static void
test_loopback(void **state)
{
	struct sockaddr_storage	ss;

	(void)state;
	assert_true(peer_is_loopback(sa("127.0.0.1", &ss)));
	assert_true(peer_is_loopback(sa("127.8.9.10", &ss)));
	assert_true(peer_is_loopback(sa("::1", &ss)));
	assert_true(peer_is_loopback(sa("::ffff:127.0.0.1", &ss)));
	assert_false(peer_is_loopback(sa("0.0.0.0", &ss)));
	assert_false(peer_is_loopback(sa("::", &ss)));
	assert_false(peer_is_loopback(sa("128.0.0.1", &ss)));
	assert_false(peer_is_loopback(sa("::2", &ss)));
}

/* A configuration with a secret file holding text (mode mode), or none. */
static struct sb_config *
cfg_with(const char *text, mode_t mode, char *path, size_t len)
{
	struct sb_config	*c = NULL;
	FILE			*f;

	assert_int_equal(sb_config_defaults(&c), SB_OK);
	if (text == NULL)
		return c;
	snprintf(path, len, "/tmp/test_peer.%ld.secret", (long)getpid());
	unlink(path);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	assert_non_null(c->daemon_secret_file = strdup(path));
	return c;
}

static void
expect_init(struct sb_config *c, int tcp, enum sb_err want, const char *msg)
{
	struct peer_policy	p;
	char			err[SB_ERRMSG_MAX] = "";

	assert_int_equal(peer_policy_init(&p, c, tcp, err), want);
	if (msg != NULL)
		assert_non_null(strstr(err, msg));
	peer_policy_clear(&p);
}

static void
test_secret_rules(void **state)
{
	struct sb_config	*c;
	char			 path[64];

	(void)state;
	unsetenv(PEER_SECRET_ENV);
	c = cfg_with(NULL, 0, path, sizeof(path));
	expect_init(c, 0, SB_ERR_CONFIG, "[daemon] secret_file: required");
	sb_config_free(&c);
	c = cfg_with(SECRET64 "\n", 0644, path, sizeof(path));
	expect_init(c, 0, SB_ERR_CONFIG, "chmod 600");
	sb_config_free(&c);
	c = cfg_with("0123456789abcdef0123456789abcde\n", 0600, path,
	    sizeof(path));
	expect_init(c, 0, SB_ERR_CONFIG, "32 to 1024 bytes");
	sb_config_free(&c);
	c = cfg_with(SECRET64 "$x\n", 0600, path, sizeof(path));
	expect_init(c, 0, SB_ERR_CONFIG, "only letters, digits");
	sb_config_free(&c);
	c = cfg_with(SECRET64 "\n", 0600, path, sizeof(path));
	expect_init(c, 0, SB_OK, NULL);
	/* The environment wins over the file, under the same rules. */
	setenv(PEER_SECRET_ENV, "too-short", 1);
	expect_init(c, 0, SB_ERR_CONFIG, "32 to 1024 bytes");
	unsetenv(PEER_SECRET_ENV);
	sb_config_free(&c);
	unlink(path);
}

static void
test_secret_compare(void **state)
{
	struct sb_config	*c;
	struct peer_policy	 p;
	char			 path[64], err[SB_ERRMSG_MAX];

	(void)state;
	unsetenv(PEER_SECRET_ENV);
	c = cfg_with(SECRET64 "\r\n", 0600, path, sizeof(path));
	assert_int_equal(peer_policy_init(&p, c, 0, err), SB_OK);
	assert_true(peer_is_secret(&p, SECRET64));
	assert_false(peer_is_secret(&p, NULL));
	assert_false(peer_is_secret(&p, ""));
	assert_false(peer_is_secret(&p, SECRET64 "0"));
	assert_false(peer_is_secret(&p, &SECRET64[1]));
	assert_false(peer_is_secret(&p,
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeF"));
	peer_policy_clear(&p);
	assert_null(p.secret);
	sb_config_free(&c);
	unlink(path);
}

static void
test_lists(void **state)
{
	struct sb_config	*c;
	struct peer_policy	 p;
	struct sockaddr_storage	 ss;
	char			 path[64], err[SB_ERRMSG_MAX];

	(void)state;
	unsetenv(PEER_SECRET_ENV);
	c = cfg_with(SECRET64, 0600, path, sizeof(path));
	assert_non_null(c->allow_users = strdup("root, root"));
	assert_non_null(c->allow_groups = strdup("root"));
	assert_int_equal(peer_policy_init(&p, c, 0, err), SB_OK);
	assert_int_equal(p.nuid, 2);
	assert_int_equal(p.uid[0], 0);
	assert_int_equal(p.ngid, 1);
	peer_policy_clear(&p);
	/* SO_PEERCRED has no meaning on TCP: say so rather than ignore. */
	expect_init(c, 1, SB_ERR_CONFIG, "[daemon] allow_users: applies to a "
	    "unix socket only");
	free(c->allow_users);
	assert_non_null(c->allow_users = strdup("root no-such-user-sb"));
	expect_init(c, 0, SB_ERR_CONFIG, "no user 'no-such-user-sb'");
	free(c->allow_users);
	c->allow_users = NULL;
	free(c->allow_groups);
	assert_non_null(c->allow_groups = strdup("no-such-group-sb"));
	expect_init(c, 0, SB_ERR_CONFIG, "no group 'no-such-group-sb'");
	free(c->allow_groups);
	c->allow_groups = NULL;
	/* allow_addrs: TCP only, and it lets a non-loopback bind happen. */
	assert_non_null(c->allow_addrs = strdup("192.0.2.0/24"));
	expect_init(c, 0, SB_ERR_CONFIG, "applies to a TCP listen only");
	assert_int_equal(peer_policy_init(&p, c, 1, err), SB_OK);
	assert_true(peer_is_bind_allowed(&p, sa("0.0.0.0", &ss), err));
	peer_policy_clear(&p);
	free(c->allow_addrs);
	c->allow_addrs = NULL;
	assert_int_equal(peer_policy_init(&p, c, 1, err), SB_OK);
	assert_true(peer_is_bind_allowed(&p, sa("127.0.0.1", &ss), err));
	assert_true(peer_is_bind_allowed(&p, sa("::1", &ss), err));
	assert_false(peer_is_bind_allowed(&p, sa("0.0.0.0", &ss), err));
	assert_non_null(strstr(err, "0.0.0.0 is not a loopback address"));
	assert_non_null(strstr(err, "allow_addrs is not set"));
	assert_false(peer_is_bind_allowed(&p, sa("::", &ss), err));
	assert_false(peer_is_bind_allowed(&p, sa("192.0.2.1", &ss), err));
	peer_policy_clear(&p);
	sb_config_free(&c);
	unlink(path);
}

/* Yama's ptrace_scope: 0 or no file is open, 1 to 3 closed. */
static void
test_ptrace_scope(void **state)
{
	char	path[] = "/tmp/test_peer_scope.XXXXXX";
	FILE	*f;
	int	fd, scope;

	(void)state;
	assert_true((fd = mkstemp(path)) != -1);
	close(fd);
	for (scope = 0; scope <= 3; scope++) {
		assert_non_null(f = fopen(path, "w"));
		fprintf(f, "%d\n", scope);
		fclose(f);
		assert_int_equal(peer_is_ptrace_open(path), scope == 0);
	}
	unlink(path);
	assert_true(peer_is_ptrace_open(path));	/* no Yama */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nets),
		cmocka_unit_test(test_nets_bad),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_secret_rules),
		cmocka_unit_test(test_secret_compare),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_ptrace_scope),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
