/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pod network in a sandbox's life: taps attached in the pod's netns
 * before the VMM starts, their fds in the VMM's command line, the guest told
 * its interfaces and routes once the agent answers (before Start returns, so
 * a container's first packet already has its address), and everything
 * removed when the VMM is gone, also after a daemon restart.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "netmsg.h"
#include "podnet.h"
#include "state.h"
#include "vm_int.h"

/* Tap queue fds across all interfaces (each also needs a vhost fd). */
#define MAX_QUEUE_FDS 32

int sbx_vm_net_attach(struct sandbox *s, kc_err **err)
{
	unsigned queues = s->vcpus ? s->vcpus : 1;

	if (!*s->netns)
		return 0;
	s->net = xmalloc(sizeof(*s->net));
	sbx_net_init(s->net);
	if (sbx_net_scan(s->netns, s->net, err) < 0)
		return kc_err_wrap(err, "pod network (%s)", s->netns);
	if (!s->net->n_ifaces) {
		/* Only lo: the pod has no network beyond the VM's own lo. */
		free(s->net);
		s->net = NULL;
		return 0;
	}
	/* One queue pair per vCPU (CH refuses more), within the fd budget. */
	if (queues > SBX_NET_MAX_QUEUES)
		queues = SBX_NET_MAX_QUEUES;
	while (queues > 1 && queues * s->net->n_ifaces > MAX_QUEUE_FDS)
		queues--;
	/* On disk before anything exists: a daemon that dies from here on
	 * still finds what to remove. */
	for (size_t i = 0; i < s->net->n_ifaces; i++)
		snprintf(s->net->ifaces[i].tap, sizeof(s->net->ifaces[i].tap), "kctap%d",
			 s->net->ifaces[i].ifindex);
	if (sbx_state_save(s, err) < 0 || sbx_net_attach(s->netns, s->net, queues, err) < 0)
		return kc_err_wrap(err, "pod network (%s)", s->netns);
	return 0;
}

void sbx_vm_net_release(struct sandbox *s)
{
	_cleanup_err_ kc_err *e = NULL;

	if (!s->net)
		return;
	if (sbx_net_detach(s->netns, s->net, &e) < 0)
		log_warn("sandbox %s: pod network (%s): %s", s->id, s->netns, kc_err_msg(e));
	free(s->net);
	s->net = NULL;
}

size_t sbx_vm_net_fds(struct sandbox *s, struct sbx_vm_spec *spec, int *fds, size_t n, int *vhost,
		      size_t *n_vhost)
{
	size_t first = n, q_total = 0;

	*n_vhost = 0;
	spec->net = s->net;
	if (!s->net)
		return n;
	spec->net_fd0 = 3 + (int)n;
	for (size_t i = 0; i < s->net->n_ifaces; i++)
		for (size_t q = 0; q < s->net->ifaces[i].n_fds; q++)
			fds[n++] = s->net->ifaces[i].fds[q];
	q_total = n - first;
	if (s->type != SBX_HV_QEMU || !s->d->vhost_net)
		return n;
	/* Kernel vhost moves the NIC's data path out of QEMU. Without it QEMU
	 * still works (its own virtio-net), only slower: fall back, say so. */
	for (size_t i = 0; i < q_total; i++) {
		vhost[i] = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
		if (vhost[i] < 0) {
			log_warn("sandbox %s: /dev/vhost-net: %m; the NICs run without vhost",
				 s->id);
			for (size_t j = 0; j < i; j++)
				close(vhost[j]);
			return n;
		}
	}
	spec->vhost_fd0 = 3 + (int)n;
	for (size_t i = 0; i < q_total; i++)
		fds[n++] = vhost[i];
	*n_vhost = q_total;
	return n;
}

struct net_cfg {
	struct sbx_netmsg msg;
	sbx_agent_fn cb;
	struct sandbox *s;
};

static void on_configured(kc_err *err, void *ud)
{
	struct net_cfg *c = ud;
	sbx_agent_fn cb = c->cb;
	struct sandbox *s = c->s;
	kc_err *e = NULL;

	s->op->agent = NULL;
	s->op->netcfg = NULL;
	free(c);
	if (err)
		kc_err_set(&e, err->code, "pod network in the guest: %s", kc_err_msg(err));
	cb(e, s);
	kc_err_free(e);
}

void sbx_vm_net_configure(struct sandbox *s, sbx_agent_fn cb)
{
	struct net_cfg *c;
	struct kc_endpoint ep;
	kc_err *e = NULL;

	if (!s->net || !s->net->n_ifaces)
		return cb(NULL, s);
	if (kc_endpoint_parse(s->address, &ep, &e) < 0) {
		cb(e, s);
		kc_err_free(e);
		return;
	}
	c = xmalloc(sizeof(*c));
	c->cb = cb;
	c->s = s;
	sbx_netmsg_build(s->net, &c->msg);
	s->op->netcfg = c;
	s->op->agent =
	    sbx_agent_netcfg(s->d->loop, &ep, s->op->deadline, &c->msg, on_configured, c);
}
