/* SPDX-License-Identifier: ISC */
/* Fuzzing frames with descriptors (the "fd" extension, PROTOCOL.md section
 * 12): the receiving path a peer runs, over a real socketpair with fake
 * descriptors (duplicates of /dev/null).
 *
 * Input: chunks, each a header byte (low 3 bits: descriptors attached to
 * the chunk's sendmsg; the rest: its length in 8-byte steps, plus one) and
 * its bytes. Each chunk is sent with SCM_RIGHTS; the receiver queues the
 * descriptors (fdq_recv, at most FDS_MAX: beyond, the connection ends),
 * cuts frames, parses each one, gives it the descriptors its "fds" says
 * (fdq_shift: fewer queued than said ends the connection), decodes its
 * {"$fd":N} tokens (N must be below "fds"), takes every other one and closes
 * the rest.
 *
 * Properties: every decoded token stands for an open descriptor of its own
 * frame; nothing crashes; at the end this process has exactly the
 * descriptors it had at the start (nothing leaks, nothing is closed twice). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "wire/fdq.h"
#include "wire/frame.h"
#include "wire/wire.h"

#define FDS_MAX 16		/* the receiver's fds_max */
#define FRAME_MAX 4096

/* The descriptors of one frame being decoded. */
struct fds_frame {
	int fds[WIRE_FDS_MAX];
	size_t n;
	size_t decoded;
};

/* Descriptors this process has open. */
static int fds_open_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	FUZZ_CHECK(d, "cannot read /proc/self/fd");
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Decode callback: {"$fd":N} becomes a number node holding the descriptor. */
static int fds_decode_cb(enum wire_token kind, uint64_t id, cJSON **ret_node, void *userdata)
{
	struct fds_frame *f = userdata;

	if (kind != WIRE_TOKEN_FD)
		return -EINVAL;
	if (id >= f->n || f->fds[id] < 0)
		return -EBADMSG;
	FUZZ_CHECK(fcntl(f->fds[id], F_GETFD) >= 0, "token %llu: descriptor %d is not open",
		   (unsigned long long)id, f->fds[id]);
	f->decoded++;
	*ret_node = cJSON_CreateNumber(f->fds[id]);
	return *ret_node ? 0 : -ENOMEM;
}

/* Handle one whole frame: false when the connection must end. */
static bool fds_frame_handle(char *frame, size_t len, struct fdq *q)
{
	struct fds_frame f = { .n = 0 };
	struct wire_msg m;
	cJSON *root = NULL, *value;
	const char *why;

	if (wire_msg_parse_frame(frame, len, true, &m, &root, &why) < 0)
		return true;	/* an error answer; its descriptors, if any, stay queued for no one */
	const cJSON *nfds = cJSON_GetObjectItemCaseSensitive(root, "fds");
	if (nfds && (!cJSON_IsNumber(nfds) || nfds->valuedouble < 0 || nfds->valuedouble > WIRE_FDS_MAX ||
		     nfds->valuedouble != (double)(int)nfds->valuedouble ||
		     fdq_shift(q, (size_t)nfds->valuedouble, f.fds) < 0)) {
		cJSON_Delete(root);
		return false;
	}
	f.n = nfds ? (size_t)nfds->valuedouble : 0;
	value = m.args ? cJSON_DetachItemViaPointer(root, m.args) : m.value ? cJSON_DetachItemViaPointer(root, m.value)
									  : NULL;
	if (value)
		wire_decode(&value, fds_decode_cb, &f);
	FUZZ_CHECK(f.decoded <= 64 * (size_t)WIRE_FDS_MAX + len, "decoded more tokens than a frame holds");
	for (size_t i = 0; i < f.n; i += 2)	/* take every other one */
		if (f.fds[i] >= 0) {
			FUZZ_CHECK(close(f.fds[i]) == 0, "descriptor %d was already closed", f.fds[i]);
			f.fds[i] = -1;
		}
	fdq_close_array(f.fds, f.n);	/* those not taken */
	cJSON_Delete(value);
	cJSON_Delete(root);
	return true;
}

/* Receive what is buffered on sock: false when the connection ends. */
static bool fds_receive(int sock, struct frame_reader *in, struct fdq *q)
{
	char *frame;
	size_t len, space;

	for (;;) {
		char *at = frame_reader_space(in, 65536, &space);
		if (!at)
			return false;
		ssize_t n = fdq_recv(sock, at, space, q, FDS_MAX);
		if (n == -EAGAIN)
			break;
		if (n <= 0)
			return false;	/* -ENOBUFS: over fds_max, the descriptors closed */
		frame_reader_commit(in, (size_t)n);
	}
	int r;
	while ((r = frame_reader_next(in, &frame, &len)) == 1)
		if (!fds_frame_handle(frame, len, q))
			return false;
	return r == 0;
}

FUZZ_ENTRY(fds)
{
	int before = fds_open_count(), sv[2], null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct frame_reader in;
	struct fdq q, out;
	size_t pos = 0;

	FUZZ_CHECK(null >= 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "no socketpair");
	frame_reader_init(&in, FRAME_MAX);
	fdq_init(&q);
	fdq_init(&out);
	while (pos < size) {
		unsigned h = data[pos++], nfds = h & 7;
		size_t len = ((h >> 3) * 8u) + 1;
		if (len > size - pos)
			len = size - pos;
		if (!len)
			break;
		for (unsigned i = 0; i < nfds; i++)
			FUZZ_CHECK(fdq_push(&out, fcntl(null, F_DUPFD_CLOEXEC, 0), 0) == 0, "out of memory");
		FUZZ_CHECK(fdq_send(sv[0], data + pos, len, &out) == (ssize_t)len, "short send");
		fdq_free(&out);
		pos += len;
		if (!fds_receive(sv[1], &in, &q))
			break;
	}
	frame_reader_free(&in);
	fdq_free(&q);
	fdq_free(&out);
	close(sv[0]);
	close(sv[1]);	/* closes what is still in flight in the socket */
	close(null);
	FUZZ_CHECK(fds_open_count() == before, "%d descriptors open, %d at the start", fds_open_count(), before);
	return 0;
}
