/* Events of an object and the registrations of clients on them
 * (PROTOCOL.md section 6). A client sees and changes only its own
 * registrations; each client keeps a list of its own, so its cleanup costs
 * what it registered. */
#ifndef BOTHOST_EMITTER_H
#define BOTHOST_EMITTER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

struct emitter;
struct client;
struct fn;
struct value;
struct object_event;
struct object_method;

/* events: NULL-terminated; one named "*" accepts any name. NULL on failure. */
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
/* Deliver event with args (borrowed) to every registration in the order they
 * were added; returns how many were reached. */
size_t emitter_emit(struct emitter *em, const char *event, const struct value *args);
/* Remove every registration c made, on every emitter. */
void emitter_client_lost(struct client *c);

/* The methods on, once, off, removeAllListeners and listenerCount. */
const struct object_method *emitter_methods(void);
/* {"name":{"doc":...},...} for introspection. */
cJSON *emitter_describe(const struct emitter *em);

#endif
