/* SPDX-License-Identifier: Apache-2.0 */
/* The pod's VM: a small state machine on the shim's loop (see shim_vm.h).
 * Every step is a callback; nothing here waits. */
#include "shim_vm.h"

#include <errno.h>
#include <libgen.h>
#include <string.h>

#include "agent_dial.h"
#include "bundle.h"
#include "containerd/services/sandbox/v1/sandbox.pb-c.h"
#include "endpoint.h"
#include "kuasarc/disk.pb-c.h"
#include "log.h"
#include "rpc_call.h"
#include "shim.h"

#define CTRL              (&containerd__services__sandbox__v1__controller__descriptor)
#define SANDBOXER_DIAL_NS (5 * KC_NSEC_PER_SEC)
#define SANDBOXER_TIMEOUT (120 * KC_NSEC_PER_SEC) /* a TCG boot can be slow */
#define AGENT_DIAL_NS     (30 * KC_NSEC_PER_SEC)
#define STOP_TIMEOUT      (30 * KC_NSEC_PER_SEC)
/* The sandboxer's own deadline for an unplug is 10 s. */
#define SANDBOXER_DISK_TIMEOUT (30 * KC_NSEC_PER_SEC)
#define DISKS                  (&kuasarc__disk__v1__disks__descriptor)

struct waiter {
	kc_list node;
	tpod_vm_fn cb;
	void *ud;
};

typedef void (*step_fn)(const kc_err *err);

struct shim_vm {
	ttrpc_client *sbx;
	kc_dialer *sbx_dialer;
	step_fn sbx_then; /* what runs once the sandboxer is connected */
	kc_timer *sbx_timer;
	kc_agent_dial *agent_dial;
	kc_list waiters;      /* shim_vm_ensure / attach callers */
	kc_list stop_waiters; /* shim_vm_stop callers */
	bool stop_requested;
	bool sandbox_created; /* the sandboxer has our sandbox: Stop/Shutdown it */
};

static struct shim_vm *vm_get(void)
{
	if (!shim->vm) {
		shim->vm = xcalloc(1, sizeof(*shim->vm));
		kc_list_init(&shim->vm->waiters);
		kc_list_init(&shim->vm->stop_waiters);
	}
	return shim->vm;
}

static void add_waiter(kc_list *l, tpod_vm_fn cb, void *ud)
{
	struct waiter *w = xcalloc(1, sizeof(*w));
	w->cb = cb;
	w->ud = ud;
	kc_list_add_tail(l, &w->node);
}

/* Each waiter is taken off the list before its callback, which may add new
 * waiters or free what it parked. */
static void run_waiters(kc_list *l, const kc_err *err)
{
	kc_list batch;

	kc_list_init(&batch);
	while (!kc_list_empty(l)) {
		kc_list *n = l->next;
		kc_list_del(n);
		kc_list_add_tail(&batch, n);
	}
	while (!kc_list_empty(&batch)) {
		struct waiter *w = kc_container_of(batch.next, struct waiter, node);
		kc_list_del(&w->node);
		if (w->cb)
			w->cb(w->ud, err);
		free(w);
	}
}

/* ------------------------------------------------------------- sandboxer */

static void on_sbx_timer(kc_timer *t, void *ud);

static void on_sbx_dial(int fd, kc_err *err, void *ud)
{
	struct shim_vm *vm = shim->vm;
	step_fn then = vm->sbx_then;
	kc_err *e = NULL;
	(void)ud;

	vm->sbx_dialer = NULL;
	vm->sbx_then = NULL;
	if (fd < 0) {
		kc_err_set(&e, err ? err->code : EIO, "vmm-sandboxer at %s (is it running?): %s",
			   shim->sandboxer_addr, kc_err_msg(err));
	} else if (ttrpc_client_new(shim->pod.loop, fd, &vm->sbx, &e) < 0) {
		kc_err_wrap(&e, "vmm-sandboxer");
	}
	then(e);
	kc_err_free(e);
}

/* A closed client is freed here, from a timer, not in its own callback. */
static void on_sbx_timer(kc_timer *t, void *ud)
{
	struct shim_vm *vm = shim->vm;
	struct kc_endpoint ep;
	kc_err *e = NULL;
	(void)t;
	(void)ud;

	vm->sbx_timer = NULL;
	if (vm->sbx && !ttrpc_client_closed(vm->sbx)) {
		step_fn then = vm->sbx_then;
		vm->sbx_then = NULL;
		then(NULL);
		return;
	}
	ttrpc_client_free(vm->sbx);
	vm->sbx = NULL;
	if (kc_endpoint_parse(shim->sandboxer_addr, &ep, &e) < 0) {
		step_fn then = vm->sbx_then;
		vm->sbx_then = NULL;
		kc_err_wrap(&e, "vmm-sandboxer address");
		then(e);
		kc_err_free(e);
		return;
	}
	vm->sbx_dialer =
	    kc_dial_async(shim->pod.loop, &ep, kc_now_ns() + SANDBOXER_DIAL_NS, on_sbx_dial, NULL);
}

/* Run `then` with a connected vm->sbx (or the error why not). */
static void with_sandboxer(step_fn then)
{
	struct shim_vm *vm = vm_get();
	vm->sbx_then = then;
	vm->sbx_timer = kc_timer_after(shim->pod.loop, 0, on_sbx_timer, NULL);
}

/* "ttrpc+hvsock:///run/kuasar-vmm/<id>/task.vsock:1024" -> the UDS and the
 * sandbox dir's mounts/ (its read-only view shared/ is the guest's
 * /run/kuasar/state). */
static int adopt_address(const char *address, kc_err **err)
{
	struct kc_endpoint ep;
	_cleanup_free_ char *dir = NULL;

	if (kc_endpoint_parse(address, &ep, err) < 0)
		return kc_err_wrap(err, "sandbox task address");
	if (ep.kind != KC_EP_HVSOCK)
		return kc_err_set(err, EINVAL,
				  "sandbox task address `%s`: expected ttrpc+hvsock://", address);
	free(shim->agent_addr);
	free(shim->pod.vsock_uds);
	free(shim->pod.shared_dir);
	shim->agent_addr = xstrdup(address);
	shim->pod.vsock_uds = xstrdup(ep.path);
	dir = xstrdup(ep.path);
	/* The host-only tree; the guest sees a read-only view of it. */
	shim->pod.shared_dir = xasprintf("%s/mounts", dirname(dir));
	return 0;
}

/* ------------------------------------------------------------------- start */

static void begin_stop(void);

static void start_failed(const kc_err *err)
{
	struct shim_vm *vm = shim->vm;

	log_error("pod %s: %s", shim->group, err->msg);
	shim->pod.vm_state = TPOD_VM_NONE;
	run_waiters(&vm->waiters, err);
	if (vm->stop_requested)
		begin_stop();
}

static void on_agent(void *ud, ttrpc_client *cli, const kc_err *err)
{
	struct shim_vm *vm = shim->vm;
	kc_err *e = NULL;
	(void)ud;

	vm->agent_dial = NULL;
	if (!cli) {
		kc_err_set(&e, err->code, "connect to the pod's agent: %s", err->msg);
		start_failed(e);
		kc_err_free(e);
		return;
	}
	tpod_agent_ready(&shim->pod, cli);
	log_info("pod %s: VM ready, agent at %s", shim->group, shim->agent_addr);
	if (vm->stop_requested) {
		kc_err_set(&e, ECANCELED, "pod %s is shutting down", shim->group);
		run_waiters(&vm->waiters, e);
		kc_err_free(e);
		begin_stop();
		return;
	}
	run_waiters(&vm->waiters, NULL);
}

static void on_started(void *ud, const kc_err *err, ProtobufCMessage **resp)
{
	Containerd__Services__Sandbox__V1__ControllerStartResponse *r = (void *)*resp;
	struct kc_endpoint ep;
	kc_err *e = NULL;
	(void)ud;

	if (err) {
		kc_err_set(&e, err->code, "start sandbox %s: %s", shim->group, err->msg);
		goto fail;
	}
	if (adopt_address(r->address, &e) < 0 || kc_endpoint_parse(shim->agent_addr, &ep, &e) < 0)
		goto fail;
	shim->vm->agent_dial = kc_agent_dial_start(shim->pod.loop, &ep, kc_now_ns() + AGENT_DIAL_NS,
						   false, on_agent, NULL);
	return;
fail:
	start_failed(e);
	kc_err_free(e);
}

static void on_created(void *ud, const kc_err *err, ProtobufCMessage **resp)
{
	Containerd__Services__Sandbox__V1__ControllerStartRequest sr =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_START_REQUEST__INIT;
	kc_err *e = NULL;
	(void)ud;
	(void)resp;

	if (err && err->code != EEXIST) {
		kc_err_set(&e, err->code, "create sandbox %s: %s", shim->group, err->msg);
		goto fail;
	}
	shim->vm->sandbox_created = true;
	sr.sandbox_id = shim->group;
	if (kc_rpc_call(shim->vm->sbx, CTRL, "Start", &sr.base, SANDBOXER_TIMEOUT, on_started, NULL,
			&e) < 0)
		goto fail;
	return;
fail:
	start_failed(e);
	kc_err_free(e);
}

static void do_create(const kc_err *err)
{
	Containerd__Services__Sandbox__V1__ControllerCreateRequest cr =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_CREATE_REQUEST__INIT;
	Containerd__Services__Sandbox__V1__ControllerCreateRequest__AnnotationsEntry e_[4], *pe[4];
	kc_err *e = NULL;

	if (err)
		return start_failed(err);
	cr.sandbox_id = shim->group;
	/* The pod's size, as CRI annotated its sandbox container. */
	for (size_t i = 0; i < shim->n_vm_annotations && i < KC_ARRAY_SIZE(e_); i++) {
		containerd__services__sandbox__v1__controller_create_request__annotations_entry__init(
		    &e_[i]);
		e_[i].key = shim->vm_annotations[2 * i];
		e_[i].value = shim->vm_annotations[2 * i + 1];
		pe[cr.n_annotations++] = &e_[i];
	}
	cr.annotations = pe;
	cr.netns_path = shim->vm_netns ? shim->vm_netns : "";
	if (kc_rpc_call(shim->vm->sbx, CTRL, "Create", &cr.base, SANDBOXER_TIMEOUT, on_created,
			NULL, &e) < 0) {
		start_failed(e);
		kc_err_free(e);
	}
}

void shim_vm_ensure(tpod_vm_fn cb, void *ud)
{
	struct shim_vm *vm = vm_get();
	kc_err *e = NULL;

	switch (shim->pod.vm_state) {
	case TPOD_VM_READY:
		cb(ud, NULL);
		return;
	case TPOD_VM_DEAD:
		kc_err_set(&e, ECONNRESET, "pod %s: its VM has died", shim->group);
		break;
	case TPOD_VM_STOPPING:
		kc_err_set(&e, ECANCELED, "pod %s: its VM is being stopped", shim->group);
		break;
	case TPOD_VM_STARTING:
		add_waiter(&vm->waiters, cb, ud);
		return;
	case TPOD_VM_NONE:
		if (vm->stop_requested || shim->pod.shutting_down) {
			kc_err_set(&e, ECANCELED, "pod %s is shutting down", shim->group);
			break;
		}
		add_waiter(&vm->waiters, cb, ud);
		shim->pod.vm_state = TPOD_VM_STARTING;
		with_sandboxer(do_create);
		return;
	}
	cb(ud, e);
	kc_err_free(e);
}

/* ------------------------------------------------------------------ attach */

static void on_status(void *ud, const kc_err *err, ProtobufCMessage **resp)
{
	Containerd__Services__Sandbox__V1__ControllerStatusResponse *r = (void *)*resp;
	kc_err *e = NULL;
	(void)ud;

	if (err)
		kc_err_set(&e, err->code, "sandbox %s: %s", shim->group, err->msg);
	else if (adopt_address(r->address, &e) == 0)
		shim->vm->sandbox_created = true;
	run_waiters(&shim->vm->waiters, e);
	kc_err_free(e);
}

static void do_status(const kc_err *err)
{
	Containerd__Services__Sandbox__V1__ControllerStatusRequest r =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_STATUS_REQUEST__INIT;
	kc_err *e = NULL;

	if (err) {
		run_waiters(&shim->vm->waiters, err);
		return;
	}
	r.sandbox_id = shim->group;
	if (kc_rpc_call(shim->vm->sbx, CTRL, "Status", &r.base, 10 * KC_NSEC_PER_SEC, on_status,
			NULL, &e) < 0) {
		run_waiters(&shim->vm->waiters, e);
		kc_err_free(e);
	}
}

void shim_vm_attach(tpod_vm_fn cb, void *ud)
{
	add_waiter(&vm_get()->waiters, cb, ud);
	with_sandboxer(do_status);
}

/* -------------------------------------------------------------------- stop */

static void stop_done(const kc_err *err)
{
	struct shim_vm *vm = shim->vm;

	if (err)
		log_warn("shutdown sandbox %s: %s", shim->group, err->msg);
	else
		vm->sandbox_created = false;
	if (shim->pod.vm_state == TPOD_VM_STOPPING)
		shim->pod.vm_state = TPOD_VM_NONE;
	vm->stop_requested = false;
	run_waiters(&vm->stop_waiters, err);
}

static void on_shutdown(void *ud, const kc_err *err, ProtobufCMessage **resp)
{
	(void)ud;
	(void)resp;
	stop_done(err);
}

static void on_stopped(void *ud, const kc_err *err, ProtobufCMessage **resp)
{
	Containerd__Services__Sandbox__V1__ControllerShutdownRequest sd =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_SHUTDOWN_REQUEST__INIT;
	kc_err *e = NULL;
	(void)ud;
	(void)resp;

	if (err)
		log_warn("stop sandbox %s: %s", shim->group, err->msg);
	sd.sandbox_id = shim->group;
	if (kc_rpc_call(shim->vm->sbx, CTRL, "Shutdown", &sd.base, STOP_TIMEOUT, on_shutdown, NULL,
			&e) < 0) {
		stop_done(e);
		kc_err_free(e);
	}
}

static void do_stop(const kc_err *err)
{
	Containerd__Services__Sandbox__V1__ControllerStopRequest st =
	    CONTAINERD__SERVICES__SANDBOX__V1__CONTROLLER_STOP_REQUEST__INIT;
	kc_err *e = NULL;

	if (err)
		return stop_done(err);
	st.sandbox_id = shim->group;
	st.timeout_secs = 10;
	if (kc_rpc_call(shim->vm->sbx, CTRL, "Stop", &st.base, STOP_TIMEOUT, on_stopped, NULL, &e) <
	    0) {
		stop_done(e);
		kc_err_free(e);
	}
}

static void begin_stop(void)
{
	struct shim_vm *vm = shim->vm;

	vm->stop_requested = false;
	if (!vm->sandbox_created) {
		if (shim->pod.vm_state != TPOD_VM_DEAD)
			shim->pod.vm_state = TPOD_VM_NONE;
		run_waiters(&vm->stop_waiters, NULL);
		return;
	}
	/* From a handler or a timer, never the agent's own callback. */
	tpod_agent_drop(&shim->pod);
	shim->pod.vm_state = TPOD_VM_STOPPING;
	with_sandboxer(do_stop);
}

void shim_vm_stop(tpod_vm_fn cb, void *ud)
{
	struct shim_vm *vm = vm_get();

	add_waiter(&vm->stop_waiters, cb, ud);
	switch (shim->pod.vm_state) {
	case TPOD_VM_STARTING:
		vm->stop_requested = true; /* on_agent / start_failed stop it */
		return;
	case TPOD_VM_STOPPING:
		return;
	default:
		begin_stop();
	}
}

void shim_vm_release(void)
{
	struct shim_vm *vm = shim->vm;

	if (!vm)
		return;
	kc_dialer_cancel(vm->sbx_dialer);
	kc_timer_cancel(vm->sbx_timer);
	kc_agent_dial_cancel(vm->agent_dial);
	tpod_agent_drop(&shim->pod);
	ttrpc_client_free(vm->sbx);
	while (!kc_list_empty(&vm->waiters)) {
		struct waiter *w = kc_container_of(vm->waiters.next, struct waiter, node);
		kc_list_del(&w->node);
		free(w);
	}
	while (!kc_list_empty(&vm->stop_waiters)) {
		struct waiter *w = kc_container_of(vm->stop_waiters.next, struct waiter, node);
		kc_list_del(&w->node);
		free(w);
	}
	free(vm);
	shim->vm = NULL;
}

/* ------------------------------------------------------------------- ops */

static void op_ensure(struct tpod *pod, tpod_vm_fn cb, void *ud)
{
	(void)pod;
	shim_vm_ensure(cb, ud);
}

static void op_stop(struct tpod *pod, tpod_vm_fn cb, void *ud)
{
	(void)pod;
	shim_vm_stop(cb, ud);
}

/* The pod's size and network namespace, for Controller.Create. */
static void op_first_create(struct tpod *pod, const char *bundle)
{
	(void)pod;
	if (shim->vm_annotations)
		return;
	shim->n_vm_annotations = bundle_vm_annotations(bundle, &shim->vm_annotations);
	shim->vm_netns = bundle_netns(bundle);
}

/* Shutdown is done: the shim exits. */
static void op_quit(struct tpod *pod)
{
	kc_loop_quit(pod->loop);
}

/* Disks: vmm-sandboxer's kuasarc.disk.v1.Disks on the connection the
 * Controller calls use. */
struct disk_call {
	tpod_disk_fn cb;
	void *ud;
	char *key; /* detach: what was asked */
};

static void on_disk_answer(void *ud, const kc_err *err, ProtobufCMessage **resp)
{
	struct disk_call *dc = ud;

	if (err)
		dc->cb(dc->ud, NULL, NULL, err);
	else if (dc->key)
		dc->cb(dc->ud, dc->key, "", NULL);
	else {
		Kuasarc__Disk__V1__AttachDiskResponse *r = (void *)*resp;
		dc->cb(dc->ud, r->id, r->address, NULL);
	}
	free(dc->key);
	free(dc);
}

static void disk_call(const char *method, const ProtobufCMessage *req, tpod_disk_fn cb, void *ud,
		      const char *key)
{
	struct disk_call *dc = xcalloc(1, sizeof(*dc));
	kc_err *e = NULL;

	dc->cb = cb;
	dc->ud = ud;
	dc->key = key ? xstrdup(key) : NULL;
	if (!shim->vm || !shim->vm->sbx || ttrpc_client_closed(shim->vm->sbx))
		kc_err_set(&e, ENOTCONN, "%s: not connected to vmm-sandboxer", method);
	else if (kc_rpc_call(shim->vm->sbx, DISKS, method, req, SANDBOXER_DISK_TIMEOUT,
			     on_disk_answer, dc, &e) == 0)
		return;
	cb(ud, NULL, NULL, e);
	kc_err_free(e);
	free(dc->key);
	free(dc);
}

static void op_disk_attach(struct tpod *pod, const char *path, bool read_only, tpod_disk_fn cb,
			   void *ud)
{
	Kuasarc__Disk__V1__AttachDiskRequest r = KUASARC__DISK__V1__ATTACH_DISK_REQUEST__INIT;
	(void)pod;
	r.sandbox_id = shim->group;
	r.path = (char *)path;
	r.read_only = read_only;
	disk_call("AttachDisk", &r.base, cb, ud, NULL);
}

static void op_disk_detach(struct tpod *pod, const char *id, tpod_disk_fn cb, void *ud)
{
	Kuasarc__Disk__V1__DetachDiskRequest r = KUASARC__DISK__V1__DETACH_DISK_REQUEST__INIT;
	(void)pod;
	r.sandbox_id = shim->group;
	r.id = (char *)id;
	disk_call("DetachDisk", &r.base, cb, ud, id);
}

const struct tpod_ops shim_pod_ops = {
    .vm_ensure = op_ensure,
    .vm_stop = op_stop,
    .first_create = op_first_create,
    .quit = op_quit,
    .disk_attach = op_disk_attach,
    .disk_detach = op_disk_detach,
};
