/* SPDX-License-Identifier: ISC */
/* Services (PROTOCOL.md, "Services"): host.provide with a table of typed
 * methods, the slot whose release withdraws the service, and host.lookup.
 *
 * A service is a record (struct provide) with one entry per method; each
 * method is sent to the host as the function (provide_method_cb, &entry),
 * so that every method is a function of its own whatever the program's
 * functions and userdata. The record lives while the host holds any of its
 * methods (`held`: their export destructors have not run) or its slot
 * exists; the program's destroy(userdata) runs once both are gone. The slot
 * is active from the provide until the release of its last reference (which
 * sends host.withdraw), the host's release of every method (withdrawn, or
 * the connection lost or freed). */
#include "botkit-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROVIDE_NAME_MAX 64

struct provide;

/* One method: the program's function for it. */
struct provide_method {
	struct provide *svc;
	bk_function fn;
};

struct provide {
	bk_slot *slot;		/* NULL once the slot is freed */
	char *name;
	void *userdata;
	void (*destroy)(void *);	/* set once the host accepted the service */
	unsigned held;		/* methods the host holds */
	size_t n;
	struct provide_method methods[];
};

/* The type a signature letter stands for in introspection, or NULL. */
static const char *provide_type(char letter)
{
	switch (letter) {
	case 's':
		return "string";
	case 'i':
	case 'x':
		return "integer";
	case 'd':
		return "number";
	case 'b':
		return "boolean";
	case 'j':
		return "any";
	case 'F':
		return "function";
	default:
		return NULL;
	}
}

/* The next argument name (the i-th, from 1) of a space-separated list into
 * buf, or argI without a list; false when the list has no more names or one
 * is too long. */
static bool provide_next_name(const char **names, unsigned i, char *buf, size_t size)
{
	if (!*names) {
		snprintf(buf, size, "arg%u", i);
		return true;
	}
	const char *p = *names + strspn(*names, " ");
	size_t len = strcspn(p, " ");
	if (len == 0 || len >= size || len > PROVIDE_NAME_MAX)
		return false;
	memcpy(buf, p, len);
	buf[len] = '\0';
	*names = p + len;
	return true;
}

/* Check one entry of a method table: 0 or -EINVAL. */
static int provide_method_check(const bk_method *m)
{
	const char *names = m->args;
	char name[PROVIDE_NAME_MAX + 1];
	unsigned i = 0;
	bool optional = false;

	if (!m->fn || !*m->name || (!m->sig && m->args))
		return -EINVAL;
	for (const char *p = m->sig; p && *p; p++) {
		if (*p == '?' && !optional)
			optional = true;
		else if (!provide_type(*p) || !provide_next_name(&names, ++i, name, sizeof name))
			return -EINVAL;
	}
	return names && names[strspn(names, " ")] ? -EINVAL : 0;
}

/* Add {"name","type","optional"?} for each argument of m's signature to
 * desc["args"]; false when out of memory. */
static bool provide_args_add(cJSON *desc, const bk_method *m)
{
	cJSON *args = cJSON_AddArrayToObject(desc, "args");
	const char *names = m->args;
	char name[PROVIDE_NAME_MAX + 1];
	bool optional = false;
	unsigned i = 0;

	if (!args)
		return false;
	for (const char *p = m->sig; *p; p++) {
		if (*p == '?') {
			optional = true;
			continue;
		}
		cJSON *a = cJSON_CreateObject();
		provide_next_name(&names, ++i, name, sizeof name);
		if (!a || !cJSON_AddItemToArray(args, a) || !cJSON_AddStringToObject(a, "name", name) ||
		    !cJSON_AddStringToObject(a, "type", provide_type(*p)) ||
		    (optional && !cJSON_AddTrueToObject(a, "optional")))
			return false;
	}
	return true;
}

/* The host calls a method: run the program's function with its userdata. */
static void provide_method_cb(bk_conn *c, bk_args *args, void *userdata)
{
	struct provide_method *m = userdata;

	m->fn(c, args, m->svc->userdata);
}

/* Free a service nobody holds any more; destroy runs if the host had accepted it. */
static void provide_settle(struct provide *svc)
{
	bk_slot *s = svc->slot;

	if (svc->held > 0)
		return;
	if (s && s->state == SLOT_ACTIVE) {
		s->state = SLOT_ENDED;
		if (s->floating) {
			svc->slot = NULL;
			free(s);
		}
	}
	if (svc->slot)
		return;
	if (svc->destroy)
		svc->destroy(svc->userdata);
	free(svc->name);
	free(svc);
}

/* The host released a method (withdrawn, refused, disconnected). */
static void provide_method_destroy(void *userdata)
{
	struct provide_method *m = userdata;

	m->svc->held--;
	provide_settle(m->svc);
}

/* A new service record with its slot (one reference, not active yet). */
static struct provide *provide_new(bk_conn *c, const char *name, const bk_method *methods, size_t n,
				   void *userdata)
{
	struct provide *svc = calloc(1, sizeof *svc + n * sizeof svc->methods[0]);

	if (!svc || !(svc->name = strdup(name)) || !(svc->slot = calloc(1, sizeof *svc->slot))) {
		if (svc)
			free(svc->name);
		free(svc);
		return NULL;
	}
	svc->userdata = userdata;
	svc->n = n;
	for (size_t i = 0; i < n; i++)
		svc->methods[i] = (struct provide_method){ svc, methods[i].fn };
	*svc->slot = (bk_slot){ .refs = 1, .kind = SLOT_SERVICE, .state = SLOT_ENDED, .conn = c, .service = svc };
	return svc;
}

/* provide's methods argument: {name: {"fn","doc"?,"args"?,"returns"?}}, or NULL. */
static cJSON *provide_table(struct provide *svc, const bk_method *methods)
{
	cJSON *table = cJSON_CreateObject();

	for (size_t i = 0; table && i < svc->n; i++) {
		const bk_method *m = &methods[i];
		cJSON *desc = cJSON_AddObjectToObject(table, m->name);
		cJSON *fn = bk_json_function(provide_method_cb, &svc->methods[i], provide_method_destroy);
		if (fn && (!desc || !cJSON_AddItemToObject(desc, "fn", fn)))
			fn = (bk_json_delete(fn), NULL);	/* a node owns nothing */
		if (!fn || (m->doc && !cJSON_AddStringToObject(desc, "doc", m->doc)) ||
		    (m->returns && !cJSON_AddStringToObject(desc, "returns", m->returns)) ||
		    (m->sig && !provide_args_add(desc, m))) {
			bk_json_delete(table);
			return NULL;
		}
	}
	return table;
}

/* The slot is gone or the provide failed: end and free the slot, then the
 * record once the host holds nothing of it. */
static void provide_slot_free(bk_slot *s)
{
	struct provide *svc = s->service;

	s->state = SLOT_ENDED;
	svc->slot = NULL;
	free(s);
	provide_settle(svc);
}

/* The last reference to a service's slot: withdraw the service. */
bk_slot *bki_provide_slot_unref(bk_slot *s)
{
	/* Active means the host holds a method, so the connection is not freed. */
	if (s->state == SLOT_ACTIVE && conn_is_open(s->conn)) {
		struct request rq = { .kind = REQUEST_CALL, .obj = "host", .method = "withdraw",
				      .timeout = s->conn->timeout };
		bki_call_start_sig(s->conn, &rq, NULL, "s", s->service->name);
	}
	provide_slot_free(s);
	return NULL;
}

/* Send host.provide for svc and wait for the answer. */
static int provide_send(bk_conn *c, struct provide *svc, const bk_method *methods, const char *doc)
{
	struct sync_wait st = { 0 };
	struct request rq = { .kind = REQUEST_CALL, .obj = "host", .method = "provide", .timeout = c->timeout,
			      .sync = &st };
	cJSON *table = provide_table(svc, methods);
	int r;

	if (!table)
		return -ENOMEM;
	bki_call_sync_begin(c);
	r = doc ? bki_call_start_sig(c, &rq, NULL, "sjs", svc->name, table, doc)
		: bki_call_start_sig(c, &rq, NULL, "sj", svc->name, table);
	bk_json_delete(table);
	if (r < 0)
		return r;
	/* The methods the message exported: the host holds them until it
	 * releases them (a refusal too), or the connection ends. */
	for (size_t i = 0; i < svc->n; i++)
		svc->held += bki_tokens_export_find(c, provide_method_cb, &svc->methods[i]) != NULL;
	if (svc->held > 0)
		svc->slot->state = SLOT_ACTIVE;
	r = bki_call_wait(c, &st);
	bk_json_delete(st.result);
	return r;
}

/* Provide the service `name` with a table of methods (blocking). */
int bk_provide(bk_conn *c, const char *name, const bk_method *methods, const char *doc, void *userdata,
	       void (*destroy)(void *), bk_slot **ret_slot)
{
	struct provide *svc;
	size_t n = 0;
	int r;

	if (!c || !name || !methods)
		return -EINVAL;
	for (; methods[n].name; n++) {
		if ((r = provide_method_check(&methods[n])) < 0)
			return r;
		for (size_t i = 0; i < n; i++)
			if (strcmp(methods[i].name, methods[n].name) == 0)
				return -EINVAL;
	}
	if (n == 0)
		return -EINVAL;
	if (!(svc = provide_new(c, name, methods, n, userdata)))
		return -ENOMEM;
	bk_slot *s = svc->slot;
	r = provide_send(c, svc, methods, doc);
	if (r < 0 || s->state != SLOT_ACTIVE) {
		provide_slot_free(s);	/* the program keeps its userdata */
		return r < 0 ? r : -ENOTCONN;
	}
	svc->destroy = destroy;
	if (ret_slot) {
		*ret_slot = s;
	} else {
		s->refs = 0;
		s->floating = true;
	}
	return 0;
}

/* host.lookup(name, wait_ms): {method: function} (blocking). */
int bk_lookup(bk_conn *c, const char *name, unsigned wait_ms, cJSON **ret_methods)
{
	struct sync_wait st = { 0 };
	struct request rq = { .kind = REQUEST_CALL, .obj = "host", .method = "lookup", .sync = &st };
	int r;

	if (!c || !name || wait_ms > BK_WAIT_MAX_MS)
		return -EINVAL;
	rq.timeout = c->timeout ? c->timeout + wait_ms * 1000ULL : 0;
	bki_call_sync_begin(c);
	if ((r = bki_call_start_sig(c, &rq, NULL, "si", name, (int)wait_ms)) < 0)
		return r;
	r = bki_call_wait(c, &st);
	if (r >= 0 && ret_methods)
		*ret_methods = st.result;
	else
		bk_json_delete(st.result);
	return r;
}
