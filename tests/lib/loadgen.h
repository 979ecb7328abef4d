/* SPDX-License-Identifier: Apache-2.0 */
/* Load patterns against a ttrpc server (vmm-task in host mode or in a VM),
 * for the load tests: many idle connections, and connections that each leave
 * a maximum-size frame one byte short. */
#ifndef KC_LOADGEN_H
#define KC_LOADGEN_H

#include "err.h"

/* n connections to addr (an endpoint address) that send nothing: fds[0..n). */
int loadgen_idle(const char *addr, int n, int *fds, kc_err **err);
/* n connections, each sending the header of a TTRPC_MAX_DATA frame and all of
 * its data but the last byte, or until the server drops it. */
int loadgen_partial_frames(const char *addr, int n, int *fds, kc_err **err);
void loadgen_close(int *fds, int n);

#endif
