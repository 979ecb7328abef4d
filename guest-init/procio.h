/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A process's stdio. Each of stdin/stdout/stderr is given as a URI:
 *   ""                        not connected (/dev/null)
 *   vsock://CID:PORT          we listen on vsock PORT, the host dials in
 *   hvsock://UDS_PATH:PORT    same (the host reaches PORT through its VMM's
 *                             hybrid vsock socket UDS_PATH)
 *   unix://PATH               we listen on a unix socket (host mode, tests)
 *   ...?streaming_id=ID       the Streaming API stream ID (streams.h), which
 *                             containerd opens to us (io_type = "streaming")
 *   /path or file:///path     a file or fifo handed straight to the process
 * Listening streams accept one connection and relay between it and a pipe
 * (or the terminal master). If the host's end of an output stream goes away
 * before the output ended (vmm-sandboxer restarting), the stream listens on
 * the same address again for 60 s and keeps what the process writes (the
 * process blocks once the pipe is full); after that, output is dropped. Output is relayed to the
 * end: the streams report "drained" only after the process side hit EOF and every byte was written.
 */
#ifndef KC_PROCIO_H
#define KC_PROCIO_H

#include <stdbool.h>

#include "err.h"
#include "loop.h"

typedef struct kc_procio kc_procio;
typedef void (*kc_procio_fn)(kc_procio *io, void *ud);

int kc_procio_new(kc_loop *loop, const char *in, const char *out, const char *err_uri,
		  bool terminal, kc_procio **ret, kc_err **err);
/* fds the child must get as 0,1,2 (-1 = /dev/null); unused with a terminal. */
void kc_procio_child_fds(const kc_procio *io, int fds[3]);
/* Close our copies of the child's ends once it has them. */
void kc_procio_close_child_fds(kc_procio *io);
/* Attach the terminal master (ownership moves to io). */
int kc_procio_attach_pty(kc_procio *io, int master, kc_err **err);
int kc_procio_pty(const kc_procio *io); /* -1 if none */
/* CloseIO: the process sees EOF on stdin. */
void kc_procio_close_stdin(kc_procio *io);
/* Called when all output streams are drained (once). */
void kc_procio_on_drained(kc_procio *io, kc_procio_fn fn, void *ud);
bool kc_procio_drained(const kc_procio *io);
/* The process is gone and we will not wait any longer for the host: relay
 * what is readable now and finish every output stream. */
void kc_procio_abandon(kc_procio *io);
void kc_procio_free(kc_procio *io);

#endif
