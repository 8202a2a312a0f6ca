/* SPDX-License-Identifier: ISC */
/* The registry of hosted objects, argument checking and introspection. */
#include "config.h"

#include "object.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "client.h"
#include "emitter.h"
#include "errors.h"
#include "list.h"
#include "services.h"
#include "value.h"
#include "wire/wire.h"

struct object {
	const char *name;
	const char *doc;
	const struct object_method *methods;
	void *userdata;
	struct emitter *emitter;
	void (*client_lost)(struct object *obj, struct client *c);
	void (*destroy)(struct object *obj);
	struct objects *objs;	/* the registry it is in, or NULL */
	struct list link;	/* in objs->list */
};

struct objects {
	struct list list;	/* struct object, in the order registered */
	struct services *services;	/* what clients provide (services.c) */
	char *intro_text;	/* the introspection as wire text, or NULL */
	size_t intro_len;
};

static const char *const object_type_names[] = {
	[OBJECT_TYPE_ANY] = "any",
	[OBJECT_TYPE_STRING] = "string",
	[OBJECT_TYPE_INTEGER] = "integer",
	[OBJECT_TYPE_NUMBER] = "number",
	[OBJECT_TYPE_BOOLEAN] = "boolean",
	[OBJECT_TYPE_OBJECT] = "object",
	[OBJECT_TYPE_ARRAY] = "array",
	[OBJECT_TYPE_FUNCTION] = "function",
};

static const char *const object_kind_names[] = {
	[OBJECT_KIND_NONE] = NULL,
	[OBJECT_KIND_CALLBACK] = "callback",
	[OBJECT_KIND_ONCE] = "once",
	[OBJECT_KIND_REGISTRATION] = "registration",
};

/* The type called name. */
int object_type_parse(const char *name, enum object_type *ret)
{
	for (size_t i = 0; i < sizeof object_type_names / sizeof object_type_names[0]; i++)
		if (strcmp(object_type_names[i], name) == 0) {
			*ret = (enum object_type)i;
			return 0;
		}
	return -EINVAL;
}

/* A new, unregistered object. */
struct object *object_new(const char *name, const char *doc, const struct object_method *methods, void *userdata)
{
	struct object *obj = calloc(1, sizeof *obj);

	if (!obj)
		return NULL;
	obj->name = name;
	obj->doc = doc;
	obj->methods = methods;
	obj->userdata = userdata;
	list_init(&obj->link);
	return obj;
}

/* Give the object an emitter with these events. */
int object_set_events(struct object *obj, const struct object_event *events)
{
	struct emitter *em = emitter_new(events);

	if (!em)
		return -ENOMEM;
	emitter_free(obj->emitter);
	obj->emitter = em;
	return 0;
}

/* Hook run when a client goes away. */
void object_set_client_lost(struct object *obj, void (*fn)(struct object *obj, struct client *c))
{
	obj->client_lost = fn;
}

/* Hook run when the object is freed. */
void object_set_destroy(struct object *obj, void (*fn)(struct object *obj))
{
	obj->destroy = fn;
}

/* Accessors. */
const char *object_get_name(const struct object *obj) { return obj->name; }
void *object_get_userdata(const struct object *obj) { return obj->userdata; }
struct emitter *object_get_emitter(const struct object *obj) { return obj->emitter; }

/* Forget the registry's cached introspection text. */
void objects_changed(struct objects *objs)
{
	if (!objs)
		return;
	free(objs->intro_text);
	objs->intro_text = NULL;
	objs->intro_len = 0;
}

/* Free one object, registered or not. */
void object_free(struct object *obj)
{
	if (!obj)
		return;
	list_remove(&obj->link);
	objects_changed(obj->objs);
	if (obj->destroy)
		obj->destroy(obj);
	emitter_free(obj->emitter);
	free(obj);
}

/* An empty registry. */
struct objects *objects_new(void)
{
	struct objects *objs = calloc(1, sizeof *objs);

	if (!objs)
		return NULL;
	list_init(&objs->list);
	if (!(objs->services = services_new(objs))) {
		free(objs);
		return NULL;
	}
	return objs;
}

/* Free every registered object, in the order registered, then the registry. */
void objects_free(struct objects *objs)
{
	if (!objs)
		return;
	services_free(objs->services);
	objs->services = NULL;
	while (!list_empty(&objs->list))
		object_free(list_entry(objs->list.next, struct object, link));
	objects_changed(objs);
	free(objs);
}

/* Add the object to the registry. */
int object_register(struct objects *objs, struct object *obj)
{
	if (object_find(objs, obj->name))
		return -EEXIST;
	list_add_tail(&objs->list, &obj->link);
	obj->objs = objs;
	objects_changed(objs);
	return 0;
}

int objects_add(struct objects *objs, struct object *obj, const struct object_event *events)
{
	int r = events ? object_set_events(obj, events) : 0;

	if (r == 0)
		r = object_register(objs, obj);
	if (r < 0)
		object_free(obj);
	return r;
}

/* What clients provide in this registry. */
struct services *objects_services(const struct objects *objs)
{
	return objs->services;
}

/* Names a service may never take: every host object's, registered or not. */
bool object_name_reserved(const struct objects *objs, const char *name)
{
	static const char *const host_names[] = { "host", "irc", "bot", "loopback", "store", "http" };

	for (size_t i = 0; i < sizeof host_names / sizeof host_names[0]; i++)
		if (strcmp(host_names[i], name) == 0)
			return true;
	return object_find(objs, name) != NULL;
}

/* The registered object called name. */
struct object *object_find(const struct objects *objs, const char *name)
{
	for (struct list *l = objs->list.next; l != &objs->list; l = l->next) {
		struct object *obj = list_entry(l, struct object, link);
		if (strcmp(obj->name, name) == 0)
			return obj;
	}
	return NULL;
}

/* Let every object drop what it kept for c. */
void object_client_lost(const struct objects *objs, struct client *c)
{
	for (struct list *l = objs->list.next; l != &objs->list; l = l->next) {
		struct object *obj = list_entry(l, struct object, link);
		if (obj->client_lost)
			obj->client_lost(obj, c);
	}
	services_client_lost(objs->services, c);
}

/* Look name up in a method table. */
static const struct object_method *object_table_find(const struct object_method *m, const char *name)
{
	for (; m && m->name; m++)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

/* The object's own method, or a registration method if it has events. */
static const struct object_method *object_find_method(const struct object *obj, const char *name)
{
	const struct object_method *m = object_table_find(obj->methods, name);

	if (!m && obj->emitter)
		m = object_table_find(emitter_methods(), name);
	return m;
}

/* Does node have the descriptor's type? */
static bool object_type_matches(const struct call *call, enum object_type type, const cJSON *node)
{
	switch (type) {
	case OBJECT_TYPE_ANY:
		return true;
	case OBJECT_TYPE_STRING:
		return cJSON_IsString(node);
	case OBJECT_TYPE_INTEGER:
		return cJSON_IsNumber(node) && node->valuedouble == floor(node->valuedouble) &&
		       fabs(node->valuedouble) <= (double)WIRE_ID_MAX;
	case OBJECT_TYPE_NUMBER:
		return cJSON_IsNumber(node);
	case OBJECT_TYPE_BOOLEAN:
		return cJSON_IsBool(node);
	case OBJECT_TYPE_OBJECT:
		return cJSON_IsObject(node);
	case OBJECT_TYPE_ARRAY:
		return cJSON_IsArray(node);
	case OBJECT_TYPE_FUNCTION:
		return value_get_fn(call_get_args(call), node) != NULL;
	}
	return false;
}

/* Fail the call for argument a of m with the wrong type. */
static bool object_bad_type(struct call *call, const char *obj, const struct object_method *m,
			    const struct object_arg *a)
{
	call_fail(call, ERR_INVALID_ARGUMENTS, "argument '%s' of %s.%s must be of type %s", a->name, obj,
		  m->name, object_type_names[a->type]);
	return false;
}

/* Check count and types of the arguments; answer InvalidArguments if wrong. */
bool object_check_args(struct call *call, const char *obj, const struct object_method *m)
{
	unsigned n = call_arg_count(call);
	unsigned i = 0;
	const struct object_arg *a;

	for (a = m->args; a && a->name; a++) {
		if (a->rest) {
			for (; i < n; i++)
				if (!object_type_matches(call, a->type, call_get_arg(call, i)))
					return object_bad_type(call, obj, m, a);
			return true;
		}
		if (i >= n) {
			if (a->optional)
				return true;
			call_fail(call, ERR_INVALID_ARGUMENTS, "missing argument '%s' of %s.%s", a->name, obj,
				  m->name);
			return false;
		}
		const cJSON *node = call_get_arg(call, i++);
		if (a->optional && cJSON_IsNull(node))
			continue;
		if (!object_type_matches(call, a->type, node))
			return object_bad_type(call, obj, m, a);
	}
	if (i < n) {
		call_fail(call, ERR_INVALID_ARGUMENTS, "too many arguments for %s.%s: it takes %u", obj,
			  m->name, i);
		return false;
	}
	return true;
}

/* Find obj.method, check permission and arguments, and run it. */
void object_dispatch(const struct objects *objs, struct call *call, const char *name, const char *method)
{
	object_dispatch_wait(objs, call, name, method, 0);
}

/* The same; a name no object has goes to the services, which may wait. */
void object_dispatch_wait(const struct objects *objs, struct call *call, const char *name, const char *method,
			  unsigned wait_ms)
{
	struct object *obj = object_find(objs, name);
	const struct object_method *m;
	struct client *c = call_get_client(call);

	if (!obj) {
		services_dispatch(objs->services, call, name, method, wait_ms);
		return;
	}
	m = object_find_method(obj, method);
	if (!m) {
		call_fail(call, ERR_NO_SUCH_METHOD, "%s has no method '%s'", name, method);
		return;
	}
	if (m->privileged && c && !client_is_privileged(c)) {
		call_fail(call, ERR_PERMISSION_DENIED, "%s.%s is privileged", name, method);
		return;
	}
	if (!object_check_args(call, obj->name, m))
		return;
	m->fn(obj, call);
}

/* {"doc":...,"args":[...],"returns":...} for one method. */
cJSON *object_describe_method(const struct object_method *m)
{
	cJSON *d = cJSON_CreateObject();
	cJSON *args = cJSON_CreateArray();

	if (m->doc)
		cJSON_AddStringToObject(d, "doc", m->doc);
	for (const struct object_arg *a = m->args; a && a->name; a++) {
		cJSON *ad = cJSON_CreateObject();
		cJSON_AddStringToObject(ad, "name", a->name);
		cJSON_AddStringToObject(ad, "type", object_type_names[a->type]);
		if (a->type == OBJECT_TYPE_FUNCTION && object_kind_names[a->kind])
			cJSON_AddStringToObject(ad, "kind", object_kind_names[a->kind]);
		if (a->optional)
			cJSON_AddTrueToObject(ad, "optional");
		if (a->rest)
			cJSON_AddTrueToObject(ad, "rest");
		cJSON_AddItemToArray(args, ad);
	}
	cJSON_AddItemToObject(d, "args", args);
	cJSON_AddStringToObject(d, "returns", m->returns ? m->returns : "null");
	if (m->privileged)
		cJSON_AddTrueToObject(d, "privileged");
	return d;
}

/* The description of one object. */
static cJSON *object_describe(const struct object *obj)
{
	cJSON *d = cJSON_CreateObject();
	cJSON *methods = cJSON_CreateObject();
	const struct object_method *m;

	if (obj->doc)
		cJSON_AddStringToObject(d, "doc", obj->doc);
	for (m = obj->methods; m && m->name; m++)
		cJSON_AddItemToObject(methods, m->name, object_describe_method(m));
	if (obj->emitter) {
		for (m = emitter_methods(); m->name; m++)
			if (!object_table_find(obj->methods, m->name))
				cJSON_AddItemToObject(methods, m->name, object_describe_method(m));
	}
	cJSON_AddItemToObject(d, "methods", methods);
	if (obj->emitter)
		cJSON_AddItemToObject(d, "events", emitter_describe(obj->emitter));
	return d;
}

/* A fresh description of every object. */
cJSON *object_introspection(const struct objects *objs)
{
	cJSON *all = cJSON_CreateObject();

	for (struct list *l = objs->list.next; l != &objs->list; l = l->next) {
		struct object *obj = list_entry(l, struct object, link);
		cJSON_AddItemToObject(all, obj->name, object_describe(obj));
	}
	services_describe(objs->services, all);
	return all;
}

/* The description as wire text, built once. */
const char *object_introspection_text(struct objects *objs, size_t *ret_len)
{
	if (!objs->intro_text) {
		cJSON *all = object_introspection(objs);
		objs->intro_text = cJSON_PrintUnformatted(all);
		cJSON_Delete(all);
		if (!objs->intro_text)
			return NULL;
		objs->intro_len = strlen(objs->intro_text);
	}
	*ret_len = objs->intro_len;
	return objs->intro_text;
}
