/* SPDX-License-Identifier: Apache-2.0 */
#include "argv.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "podnet.h"
#include "util.h"

void sbx_argv_add(struct sbx_argv *a, const char *s)
{
	a->v = xrealloc(a->v, (a->n + 2) * sizeof(*a->v));
	a->v[a->n++] = xstrdup(s);
	a->v[a->n] = NULL;
}

void sbx_argv_addf(struct sbx_argv *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s)
		abort();
	a->v = xrealloc(a->v, (a->n + 2) * sizeof(*a->v));
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

void sbx_argv_free(struct sbx_argv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

char *sbx_argv_join(const struct sbx_argv *a)
{
	size_t len = 1;
	char *s, *p;

	for (size_t i = 0; i < a->n; i++)
		len += strlen(a->v[i]) + 1;
	p = s = xmalloc(len);
	for (size_t i = 0; i < a->n; i++)
		p += sprintf(p, "%s%s", i ? " " : "", a->v[i]);
	*p = '\0';
	return s;
}

size_t sbx_net_fd_count(const struct sbx_vm_spec *s)
{
	size_t n = 0;
	for (size_t i = 0; s->net && i < s->net->n_ifaces; i++)
		n += s->net->ifaces[i].n_fds;
	return n;
}

char *sbx_net_fds(const struct sbx_vm_spec *s, size_t i, int fd0, char sep)
{
	const struct sbx_net_iface *f = &s->net->ifaces[i];
	char *out = xmalloc(f->n_fds * 12 + 1), *p = out;
	int fd = fd0;

	for (size_t j = 0; j < i; j++)
		fd += (int)s->net->ifaces[j].n_fds;
	*p = '\0';
	for (size_t q = 0; q < f->n_fds; q++) {
		if (q)
			*p++ = sep;
		p += sprintf(p, "%d", fd + (int)q);
	}
	return out;
}

char *sbx_kernel_cmdline(const struct sbx_vm_spec *s)
{
	const struct sbx_config *c = s->cfg;
	bool ch = c->type == SBX_HV_CLH;
	char *line, *next;

	/* cloud-hypervisor: virtio console (hvc0, --console file=); QEMU: the
	 * 8250 (ttyS0, -serial file:). panic=-1: a guest panic ends the VMM. */
	line = xasprintf("console=%s panic=-1%s task.sharefs_type=virtiofs", ch ? "hvc0" : "ttyS0",
			 c->debug ? "" : " quiet");
	/* Under TCG some microvm boots hang calibrating the TSC without it. */
	if (!ch && c->machine == SBX_MACHINE_MICROVM && !s->kvm) {
		next = xasprintf("%s tsc_early_khz=2000000", line);
		free(line);
		line = next;
	}
	/* A root disk only when there is one (Kuasar passes root= even with an
	 * initramfs). */
	if (ch && *c->image_path) {
		next = xasprintf("%s root=/dev/pmem0p1 rootflags=data=ordered,errors=remount-ro ro "
				 "rootfstype=ext4",
				 line);
		free(line);
		line = next;
	}
	if (c->task_debug) {
		next = xasprintf("%s task.log_level=debug", line);
		free(line);
		line = next;
	}
	if (*c->kernel_params) {
		next = xasprintf("%s %s", line, c->kernel_params);
		free(line);
		line = next;
	}
	return line;
}
