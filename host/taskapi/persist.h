/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host half of a pod's tasks on disk, so that vmm-sandboxer coming back
 * after a crash serves the same tasks on the same endpoint: one JSON file
 * per task in pod->state_dir (NULL: nothing is kept, the shim's case: its
 * death is containerd's to clean up). The guest keeps the other half (the
 * processes, their exit status, the output it holds); tpod_reconcile joins
 * them once the agent answers again.
 */
#ifndef KC_TASKAPI_PERSIST_H
#define KC_TASKAPI_PERSIST_H

#include "tpod.h"

/* Bounds on what is read back. */
#define TPOD_STATE_FILE_MAX  (64u << 10)
#define TPOD_STATE_TASKS_MAX 1024u
#define TPOD_STATE_EXECS_MAX 256u

/* Write (atomically) / remove t's record; no-op without a state dir. A
 * failed write is logged: only a later restart would miss the task. */
void tpod_save(struct task *t);
void tpod_unsave(struct task *t);
/* Read every record back as tasks of pod (marked restored); a record that
 * does not parse is an error naming it, and is left on disk. */
int tpod_restore(struct tpod *pod, kc_err **err);
/* The agent answers again: for each restored task whose containerd bundle
 * is gone (containerd dropped it when our connection broke), kill and
 * delete it in the guest and remove its host side; for the others,
 * re-attach stdio relays and watch the exits again. */
void tpod_reconcile(struct tpod *pod);

#endif
