/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The long calls (Wait) a server harness keeps open until a later call
 * answers them or the server cancels them (deadline, reset, hang-up): after
 * each input the hang-up must have cancelled every one.
 */
#ifndef KC_FUZZ_PARKED_H
#define KC_FUZZ_PARKED_H

#include "ttrpc.h"

#define FUZZ_PARKED_MAX 8

static struct {
	ttrpc_call *c[FUZZ_PARKED_MAX];
	int n;
} fuzz_parked;

static void fuzz_parked_cancel(ttrpc_call *c, void *d)
{
	(void)d;
	for (int i = 0; i < fuzz_parked.n; i++)
		if (fuzz_parked.c[i] == c)
			fuzz_parked.c[i] = fuzz_parked.c[--fuzz_parked.n];
}

/* Keep c open (refused once FUZZ_PARKED_MAX are). */
static inline void fuzz_park(ttrpc_call *c)
{
	if (fuzz_parked.n == FUZZ_PARKED_MAX) {
		ttrpc_call_reply_error(c, TTRPC_RESOURCE_EXHAUSTED, "too many waiters");
		return;
	}
	fuzz_parked.c[fuzz_parked.n++] = c;
	ttrpc_call_set_cancel(c, fuzz_parked_cancel, NULL);
}

/* The next parked call to answer, or NULL. */
static inline ttrpc_call *fuzz_unpark(void)
{
	if (fuzz_parked.n == 0)
		return NULL;
	ttrpc_call *c = fuzz_parked.c[--fuzz_parked.n];
	ttrpc_call_set_cancel(c, NULL, NULL);
	return c;
}

#endif
