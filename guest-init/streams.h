/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd's Streaming API for process IO (`io_type = "streaming"`):
 * containerd.services.streaming.v1.Streaming/Stream, a bidirectional stream
 * of Any that opens with StreamInit{id} and then carries
 * containerd.types.transfer.Data, with WindowUpdate flow control (the
 * receiver grants bytes; nobody sends beyond the grant).
 *
 * Each stream is bridged to one end of a socketpair; a process's stdio names
 * the stream by the id in its URI (`...?streaming_id=<id>`) and gets the
 * other end as if a host had connected to a stdio port (procio.c), so the
 * relay, drain and close semantics stay procio's. A stream may open before
 * its process exists (containerd opens them at CreateContainer) and may be
 * opened again with the same id after a containerd restart: output the
 * bridge still holds goes to the new stream.
 */
#ifndef KC_STREAMS_H
#define KC_STREAMS_H

#include <stdbool.h>

#include "err.h"
#include "ttrpc.h"

#define KC_STREAMS_MAX   256 /* streams open or held at once */
#define KC_STREAM_ID_MAX 256
#define KC_STREAM_CHUNK  (32 * 1024) /* largest Data we send */
#define KC_STREAM_WINDOW (64 * 1024) /* what we grant a writer to stdin */

extern const struct ttrpc_service kc_streaming_service;

typedef struct kc_sclaim kc_sclaim;
/* fd: the process side's socket (ours now, CLOEXEC, non-blocking). */
typedef void (*kc_sclaim_fn)(int fd, void *ud);

/* The stream id of a stdio URI with `streaming_id=`, or NULL (malloc'd). */
char *kc_streams_id_of(const char *uri);
/* Claim stream `id` for a process's stdin (output = false) or stdout/stderr:
 * fn runs when the stream is there (from the loop, perhaps right away). One
 * claim per id. */
kc_sclaim *kc_streams_claim(kc_loop *loop, const char *id, bool output, kc_sclaim_fn fn, void *ud,
			    kc_err **err);
/* Before fn ran: no call after this. NULL is a no-op. */
void kc_sclaim_cancel(kc_sclaim *c);
/* Streams held now (tests). */
size_t kc_streams_count(void);
/* Free every stream (the agent's exit in host mode, tests). */
void kc_streams_fini(void);

#endif
