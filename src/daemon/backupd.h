/*
 * backupd.h - what backupd.c (processes, FastCGI) and routes.c (the route
 * table and its handlers) share. Internal to the daemon.
 */
#ifndef SB_BACKUPD_H
#define SB_BACKUPD_H

#include <stdint.h>
#include <stdio.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "sb.h"
#include "http.h"

struct sb_config;
struct sb_engine;

/*
 * One request being answered. The strings point into the FastCGI
 * parameters of fcgx (valid until FCGX_Finish_r) or into path.
 */
struct req {
	FCGX_Request		*fcgx;
	const struct sb_config	*cfg;
	struct sb_engine	**eng;		/* the worker's engine, lazily opened */
	enum http_method	 method;
	const char		*method_str;
	const char		*uri;		/* REQUEST_URI, raw */
	const char		*query;		/* QUERY_STRING, raw */
	const char		*ctype;		/* CONTENT_TYPE */
	const char		*clen;		/* CONTENT_LENGTH */
	const char		*user;		/* SAF_USER_ID */
	const char		*email;		/* SAF_USER_EMAIL */
	const char		*scopes;	/* SAF_USER_SCOPES */
	const char		*reqid;		/* REQUEST_ID ($request_id) */
	struct http_path	 path;
	const char		*id;		/* :id of the route, if any */
	const char		*route;		/* matched pattern, for the log */
	int			 status;	/* answered, 0 before */
	int			 open_rc;	/* why the engine did not open */
	int64_t			 bytes;		/* body bytes sent */
	char			 detail[SB_ERRMSG_MAX]; /* for the log only */
};

/* routes.c */
void	routes_dispatch(struct req *);
void	routes_print(FILE *);
void	routes_refuse(struct req *, const char *why);

#endif /* SB_BACKUPD_H */
