/* SPDX-License-Identifier: ISC */
/* Hosted objects: a name, a doc, a method table with argument descriptors,
 * optional events, and a hook to drop what the object kept for a client.
 * A registry (struct objects, one per server: server_objects) owns the
 * objects registered in it, dispatches calls, checking arguments before a
 * method runs, and builds the introspection of PROTOCOL.md section 8. */
#ifndef BOTHOST_OBJECT_H
#define BOTHOST_OBJECT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

struct object;
struct objects;
struct call;
struct client;
struct emitter;

enum object_type {
	OBJECT_TYPE_ANY,
	OBJECT_TYPE_STRING,
	OBJECT_TYPE_INTEGER,
	OBJECT_TYPE_NUMBER,
	OBJECT_TYPE_BOOLEAN,
	OBJECT_TYPE_OBJECT,
	OBJECT_TYPE_ARRAY,
	OBJECT_TYPE_FUNCTION,
};

/* How long the host keeps a function argument. */
enum object_kind {
	OBJECT_KIND_NONE,
	OBJECT_KIND_CALLBACK,		/* during the call */
	OBJECT_KIND_ONCE,		/* until called once */
	OBJECT_KIND_REGISTRATION,	/* until removed or the client leaves */
};

struct object_arg {
	const char *name;	/* NULL ends a list */
	enum object_type type;
	enum object_kind kind;
	bool optional;		/* a trailing argument that may be left out */
	bool rest;		/* the last argument: takes all remaining ones */
};

typedef void (*object_method_fn)(struct object *obj, struct call *call);

struct object_method {
	const char *name;	/* NULL ends a table */
	const char *doc;
	const struct object_arg *args;	/* NULL: no arguments */
	const char *returns;
	bool privileged;
	object_method_fn fn;
};

struct object_event {
	const char *name;	/* NULL ends a list; "*" accepts any name */
	const char *doc;
};

/* An object (not yet registered); methods must outlive it. NULL on failure. */
struct object *object_new(const char *name, const char *doc, const struct object_method *methods,
			  void *userdata);
/* Give the object events (a NULL-terminated list that must outlive it) and
 * the registration methods of PROTOCOL.md section 6. 0 or -ENOMEM. */
int object_set_events(struct object *obj, const struct object_event *events);
void object_set_client_lost(struct object *obj, void (*fn)(struct object *obj, struct client *c));
void object_set_destroy(struct object *obj, void (*fn)(struct object *obj));

const char *object_get_name(const struct object *obj);
void *object_get_userdata(const struct object *obj);
/* The object's emitter, or NULL when it has no events. */
struct emitter *object_get_emitter(const struct object *obj);

/* Free an object (taking it out of its registry if it is in one). */
void object_free(struct object *obj);

/* An empty registry; NULL on allocation failure. */
struct objects *objects_new(void);
/* Free every registered object, then the registry; NULL is a no-op. */
void objects_free(struct objects *objs);
/* Add obj to objs, which owns it from then on. 0 or -EEXIST. */
int object_register(struct objects *objs, struct object *obj);
/* Give obj its events (NULL: none) and register it: objs owns it from then
 * on; on failure it is freed (its destroy runs). 0, -ENOMEM or -EEXIST. */
int objects_add(struct objects *objs, struct object *obj, const struct object_event *events);
struct object *object_find(const struct objects *objs, const char *name);
/* The services clients provide in objs (services.h); owned by objs. */
struct services *objects_services(const struct objects *objs);
/* True for a name no service may take: a host object's (host, irc, bot,
 * loopback, store, registered or not) or any registered object's. */
bool object_name_reserved(const struct objects *objs, const char *name);
/* Something introspection shows changed: rebuild the cached text. */
void objects_changed(struct objects *objs);

/* Run obj.method of objs for call, or answer NoSuchObject / NoSuchMethod /
 * PermissionDenied / InvalidArguments. */
void object_dispatch(const struct objects *objs, struct call *call, const char *obj, const char *method);
/* The same for a call that may wait wait_ms for a service named obj to be
 * provided (0: fail at once with NoSuchObject). */
void object_dispatch_wait(const struct objects *objs, struct call *call, const char *obj, const char *method,
			  unsigned wait_ms);
/* Check call's arguments against m (of object obj): true, or answers
 * InvalidArguments and returns false. */
bool object_check_args(struct call *call, const char *obj, const struct object_method *m);
/* The type called name ("string", ...): 0, or -EINVAL. */
int object_type_parse(const char *name, enum object_type *ret);
/* {"doc","args","returns","privileged"?} of one method, for introspection. */
cJSON *object_describe_method(const struct object_method *m);
/* Tell every object of objs that c went away. */
void object_client_lost(const struct objects *objs, struct client *c);

/* The introspection of all objects of objs: as wire JSON text (cached in
 * objs), and as a tree (a new copy). */
const char *object_introspection_text(struct objects *objs, size_t *ret_len);
cJSON *object_introspection(const struct objects *objs);

#endif
