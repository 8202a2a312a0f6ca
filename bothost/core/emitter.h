/* SPDX-License-Identifier: ISC */
/* Events of an object and the registrations of clients on them
 * (PROTOCOL.md section 6). A client sees and changes only its own
 * registrations; each client keeps a list of its own, so its cleanup costs
 * what it registered. */
#ifndef BOTHOST_EMITTER_H
#define BOTHOST_EMITTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct emitter;
struct client;
struct fn;
struct value;
struct object_event;
struct object_method;

/* events: NULL-terminated; one named "*" accepts any name, one ending in ".*"
 * (such as "x.*") any longer name with that prefix. NULL on failure. */
struct emitter *emitter_new(const struct object_event *events);
/* Drops every registration. */
void emitter_free(struct emitter *em);

bool emitter_has_event(const struct emitter *em, const char *event);
/* Whether some registration would receive event now (an emit would reach it). */
bool emitter_listened(struct emitter *em, const char *event);
/* Register fn for event on behalf of owner (NULL: the host itself). once:
 * removed before its first call is sent. 0, -ENOENT (no such event) or
 * -ENOBUFS (owner's handlers_max) or -ENOMEM. */
int emitter_add(struct emitter *em, const char *event, struct fn *fn, bool once, struct client *owner);
/* emitter_add with a filter made by the emitter's filter_ops (taken, even on
 * failure; NULL: none). */
int emitter_add_filtered(struct emitter *em, const char *event, struct fn *fn, bool once, struct client *owner,
			 void *filter);
/* Deliver event with args (borrowed) to every registration in the order they
 * were added; returns how many were reached. */
size_t emitter_emit(struct emitter *em, const char *event, const struct value *args);

/* Filters: an object that can tell whether an occurrence of an event is
 * wanted gives its emitter these operations; `on` and `once` then take an
 * optional filter object, part of the registration (PROTOCOL.md section 6).
 * A filtered registration receives only emits with a subject it matches. */
struct emitter_filter_ops {
	/* A filter for event from spec: 0 and *ret (NULL for a filter that keeps
	 * everything), -EINVAL with why in err, or -ENOMEM. */
	int (*make)(const char *event, const cJSON *spec, void **ret, char *err, size_t size, void *userdata);
	bool (*match)(const void *filter, const void *subject);
	bool (*equal)(const void *a, const void *b);
	cJSON *(*json)(const void *filter);
	void (*free)(void *filter);
};
/* Give em filters (ops must outlive it); label names them in listings. */
void emitter_set_filters(struct emitter *em, const char *label, const struct emitter_filter_ops *ops,
			 void *userdata);
/* emitter_emit for an occurrence described by subject (NULL: matches no filter). */
size_t emitter_emit_subject(struct emitter *em, const char *event, const struct value *args, const void *subject);
/* Whether some registration would receive an occurrence of event with subject. */
bool emitter_wanted(struct emitter *em, const char *event, const void *subject);
/* [{"object","event","filter"}] of c's filtered registrations, on every emitter. */
cJSON *emitter_client_filters(struct client *c);
/* Emits of event names matched by a pattern ("x.*" or "*": names the clients
 * choose) and the registrations they reached. */
void emitter_counts(const struct emitter *em, uint64_t *ret_emitted, uint64_t *ret_delivered);
/* Remove every registration c made, on every emitter. */
void emitter_client_lost(struct client *c);

/* The methods on, once, off, removeAllListeners and listenerCount. */
const struct object_method *emitter_methods(void);
/* {"name":{"doc":...},...} for introspection. */
cJSON *emitter_describe(const struct emitter *em);

#endif
