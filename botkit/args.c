/* SPDX-License-Identifier: ISC */
/* Calls from the host into functions of this program, and their answers. */
#include "botkit-internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* New arguments for request id (0: a notification); takes the array. */
static bk_args *args_new(bk_conn *c, uint64_t id, cJSON *array)
{
	bk_args *a = calloc(1, sizeof *a);

	if (!a)
		return NULL;
	a->refs = 1;
	a->conn = c;
	a->args = array;
	a->id = id;
	a->next = c->args;
	if (c->args)
		c->args->prev = a;
	c->args = a;
	if (id)
		c->args_waiting++;
	return a;
}

/* Take the arguments out of the connection's list. */
static void args_unlink(bk_args *a)
{
	bk_conn *c = a->conn;

	if (!c)
		return;
	if (a->prev)
		a->prev->next = a->next;
	else
		c->args = a->next;
	if (a->next)
		a->next->prev = a->prev;
	a->prev = a->next = NULL;
}

/* The answer is given (or can no longer be). */
static void args_answered(bk_args *a)
{
	if (a->answered)
		return;
	a->answered = true;
	if (a->id && a->conn)
		a->conn->args_waiting--;
}

/* The connection is being freed: arguments the program keeps can no longer answer. */
void bki_args_detach_all(bk_conn *c)
{
	while (c->args) {
		bk_args *a = c->args;
		args_answered(a);
		args_unlink(a);
		a->conn = NULL;
	}
}

/* Answer an invoke that never reached a function. */
static void args_refuse(bk_conn *c, uint64_t id, const char *name, const char *message)
{
	if (!id)
		return;
	if (wire_write_error(&c->out, id, name, message, NULL) < 0) {
		bki_conn_fail(c, "Disconnected", "out of memory");
		return;
	}
	bki_conn_queued(c);
}

/* The host calls one of our functions. */
void bki_args_dispatch_invoke(bk_conn *c, const struct wire_msg *m, cJSON *root, bool dollar)
{
	struct export *e = bki_tokens_export_get(c, m->fn);
	cJSON *array = m->args ? cJSON_DetachItemViaPointer(root, m->args) : cJSON_CreateArray();
	bk_args *a;

	if (!e) {
		cJSON_Delete(array);
		args_refuse(c, m->id, "NoSuchFunction", "no function with this id");
		return;
	}
	if (!array || (dollar && wire_decode(&array, bki_tokens_decode_cb, c) < 0)) {
		bk_json_delete(array);
		if (m->id)
			args_refuse(c, m->id, "InvalidArguments", "malformed or unknown function token");
		else
			bki_conn_protocol_error(c, "ProtocolError", "malformed or unknown function token");
		return;
	}
	if (!(a = args_new(c, m->id, array))) {
		bk_json_delete(array);
		args_refuse(c, m->id, "Failed", "out of memory");
		return;
	}
	/* The export stays allocated while its function runs, even if the host
	 * releases it meanwhile. */
	e->calls++;
	e->fn(c, a, e->userdata);
	bk_args_unref(a);
	e->calls--;
	bki_tokens_export_check(c, e);
}

/* Check whether an answer may be given: 1 send it, 0 nothing to send (a
 * notification: the answer is dropped), or -errno. */
static int args_answer_check(bk_args *a)
{
	if (!a)
		return -EINVAL;
	if (a->answered)
		return -EALREADY;
	if (!a->id) {
		args_answered(a);
		return 0;
	}
	if (!a->conn || !conn_is_open(a->conn))
		return -ENOTCONN;
	return 1;
}

/* Finish a result message started at mark. */
static int args_result_end(bk_args *a, size_t mark, int r)
{
	bk_conn *c = a->conn;

	if (r == 0)
		r = buf_putc(&c->out, '}');
	if (r == 0)
		r = bki_conn_msg_end(c, mark);
	if (r < 0) {
		bki_conn_msg_abort(c, mark);
		return r;
	}
	args_answered(a);
	bki_conn_queued(c);
	return 0;
}

/* Answer with one value described by a one-letter signature. */
int bk_args_return(bk_args *a, const char *sig, ...)
{
	va_list ap;
	int r = args_answer_check(a);

	if (r <= 0)
		return r;
	if (!sig || strlen(sig) != 1)
		return -EINVAL;
	bk_conn *c = a->conn;
	size_t mark = bki_conn_msg_begin(c);
	r = buf_printf(&c->out, "{\"t\":\"result\",\"id\":%llu,\"value\":", (unsigned long long)a->id);
	va_start(ap, sig);
	if (r == 0)
		r = bki_json_write_value(c, &c->out, sig[0], &ap);
	va_end(ap);
	return args_result_end(a, mark, r);
}

/* Answer with a JSON value (borrowed; NULL answers null). */
int bk_args_return_json(bk_args *a, const cJSON *value)
{
	int r = args_answer_check(a);

	if (r <= 0)
		return r;
	bk_conn *c = a->conn;
	size_t mark = bki_conn_msg_begin(c);
	r = buf_printf(&c->out, "{\"t\":\"result\",\"id\":%llu,\"value\":", (unsigned long long)a->id);
	if (r == 0)
		r = wire_encode(&c->out, value, bki_tokens_encode_cb, c);
	return args_result_end(a, mark, r);
}

/* Answer with an error. */
int bk_args_fail(bk_args *a, const char *name, const char *message)
{
	int r = args_answer_check(a);

	if (r <= 0)
		return r;
	bk_conn *c = a->conn;
	if ((r = wire_write_error(&c->out, a->id, name ? name : "Failed", message, NULL)) < 0)
		return r;
	args_answered(a);
	bki_conn_queued(c);
	return 0;
}

/* Keep the arguments and the right to answer. */
bk_args *bk_args_ref(bk_args *a)
{
	if (a)
		a->refs++;
	return a;
}

/* Drop a reference; the last one answers null if nothing was answered. */
bk_args *bk_args_unref(bk_args *a)
{
	if (!a || --a->refs > 0)
		return NULL;
	if (!a->answered && args_answer_check(a) == 1)
		bk_args_return_json(a, NULL);
	args_answered(a);
	args_unlink(a);
	bk_json_delete(a->args);
	free(a);
	return NULL;
}

/* The connection the call came from (NULL once it is freed). */
bk_conn *bk_args_get_conn(const bk_args *a)
{
	return a ? a->conn : NULL;
}

/* True when the host waits for an answer. */
bool bk_args_wants_result(const bk_args *a)
{
	return a && a->id && !a->answered;
}

/* The number of arguments. */
unsigned bk_args_count(const bk_args *a)
{
	return a ? (unsigned)cJSON_GetArraySize(a->args) : 0;
}

/* The argument array. */
const cJSON *bk_args_json(const bk_args *a)
{
	return a ? a->args : NULL;
}

/* Argument i, or NULL past the end. */
const cJSON *bk_args_get(const bk_args *a, unsigned i)
{
	if (!a || i > (unsigned)INT32_MAX)
		return NULL;
	return cJSON_GetArrayItem(a->args, (int)i);
}

/* Argument i as a string, or NULL. */
const char *bk_args_string(const bk_args *a, unsigned i)
{
	return cJSON_GetStringValue(bk_args_get(a, i));
}

/* Argument i as an integer, or 0. */
int64_t bk_args_int(const bk_args *a, unsigned i)
{
	const cJSON *v = bk_args_get(a, i);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) >= 9.2e18)
		return 0;
	return (int64_t)v->valuedouble;
}

/* Argument i as a host function (borrowed), or NULL. */
int bk_args_fd(const bk_args *a, unsigned i)
{
	return a->conn ? bki_conn_take_fd(a->conn, bki_json_fd_number(bk_args_get(a, i))) : -1;
}

/* The host function of argument i (borrowed), or NULL. */
bk_fn *bk_args_fn(const bk_args *a, unsigned i)
{
	return bk_json_get_fn(bk_args_get(a, i));
}

/* An integral number within [min, max]. */
static bool args_integer(const cJSON *v, double min, double max, double *ret)
{
	if (!cJSON_IsNumber(v))
		return false;
	double d = v->valuedouble;
	if (d != floor(d) || d < min || d > max)
		return false;
	*ret = d;
	return true;
}

/* True when v can be read with a signature letter. */
static bool args_type_ok(const cJSON *v, char letter)
{
	double d;

	switch (letter) {
	case 's':
		return cJSON_IsString(v) || cJSON_IsNull(v);
	case 'i':
		return args_integer(v, INT32_MIN, INT32_MAX, &d);
	case 'x':
		return args_integer(v, -9.2e18, 9.2e18, &d);
	case 'd':
		return cJSON_IsNumber(v);
	case 'b':
		return cJSON_IsBool(v);
	case 'j':
		return true;
	case 'F':
		return bk_json_get_fn(v) != NULL;
	case 'D':
		return bki_json_fd_number(v) >= 0;
	default:
		return false;
	}
}

/* Store one argument (of a checked type) where the next vararg points. */
static void args_store(const cJSON *v, char letter, va_list *ap)
{
	switch (letter) {
	case 's':
		*va_arg(*ap, const char **) = cJSON_GetStringValue(v);
		break;
	case 'i':
		*va_arg(*ap, int *) = (int)v->valuedouble;
		break;
	case 'x':
		*va_arg(*ap, int64_t *) = (int64_t)v->valuedouble;
		break;
	case 'd':
		*va_arg(*ap, double *) = v->valuedouble;
		break;
	case 'b':
		*va_arg(*ap, bool *) = cJSON_IsTrue(v);
		break;
	case 'j':
		*va_arg(*ap, const cJSON **) = v;
		break;
	case 'F':
		*va_arg(*ap, bk_fn **) = bk_json_get_fn(v);
		break;
	case 'D':
		*va_arg(*ap, int *) = bki_json_fd_number(v);
		break;
	}
}

/* Read leading arguments by signature; nothing is stored unless all match. */
int bk_args_read(const bk_args *a, const char *sig, ...)
{
	va_list ap;
	const cJSON *v;
	const char *p;

	if (!a || !sig)
		return -EINVAL;
	if (strlen(sig) > bk_args_count(a))
		return -ENXIO;
	for (p = sig, v = a->args->child; *p; p++, v = v->next)
		if (!args_type_ok(v, *p))
			return -EINVAL;
	va_start(ap, sig);
	for (p = sig, v = a->args->child; *p; p++, v = v->next)
		args_store(v, *p, &ap);
	va_end(ap);
	return 0;
}
