/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ENOSYS stub runc prepends to every filter whose default action does not
 * allow (libcontainer/seccomp/patchbpf): a syscall numbered above the largest
 * one the profile names on its arch fails with ENOSYS - what a kernel without
 * it would say, so libc falls back - instead of the default action (EPERM in
 * the usual profiles, which makes glibc give up on e.g. clone3 or statx).
 * Numbers in holes below the bound keep the default action, as with runc.
 *
 *          ld   [arch]
 *          jeq  #AUDIT_ARCH_<a>, sec_a      one per arch with a bound
 *          ja   filter
 *  sec_a:  ld   [nr]
 *          jgt  #max_a, enosys, filter      x86_64: jset #X32_BIT selects
 *                                           the x86_64 or the x32 bound
 *  enosys: ret  #ERRNO(ENOSYS)
 *  filter: libseccomp's program, which checks the arch again
 *
 * The layout is ours; the behaviour (bounds, x32 split, s390's multiplexer
 * syscall 0) is runc's.
 */
#include "seccomp_stub.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>

#define X32_SYSCALL_BIT 0x40000000U

enum { L_NEXT = -1, L_FILTER = 0, L_ENOSYS = 1, L_SECTION = 2 };
#define L_SEC(s) (L_SECTION + 2 * (int)(s))
#define L_X32(s) (L_SECTION + 2 * (int)(s) + 1)
#define N_LABELS (L_SECTION + 2 * KC_STUB_MAX_ARCHES)

/* A tiny forward-only assembler: jumps name labels, resolved at the end. */
struct bpf_as {
	struct sock_filter *ins;
	int jt[KC_STUB_MAX_INSNS], jf[KC_STUB_MAX_INSNS];
	size_t at[N_LABELS];
	size_t n;
};

static void emit(struct bpf_as *a, uint16_t code, uint32_t k, int jt, int jf)
{
	if (a->n < KC_STUB_MAX_INSNS) {
		a->ins[a->n] = (struct sock_filter){.code = code, .k = k};
		a->jt[a->n] = jt;
		a->jf[a->n] = jf;
	}
	a->n++;
}

static void here(struct bpf_as *a, int label)
{
	a->at[label] = a->n;
}

static int resolve(struct bpf_as *a, size_t i, int label, size_t *off)
{
	if (label == L_NEXT) {
		*off = 0;
		return 0;
	}
	if (a->at[label] < i + 1)
		return -1;
	*off = a->at[label] - (i + 1);
	return 0;
}

static int link_jumps(struct bpf_as *a, kc_err **err)
{
	if (a->n > KC_STUB_MAX_INSNS)
		return kc_err_set(err, E2BIG, "seccomp ENOSYS stub: %zu instructions", a->n);
	for (size_t i = 0; i < a->n; i++) {
		struct sock_filter *f = &a->ins[i];
		size_t t, e;
		if (BPF_CLASS(f->code) != BPF_JMP)
			continue;
		if (resolve(a, i, a->jt[i], &t) < 0 || resolve(a, i, a->jf[i], &e) < 0)
			return kc_err_set(err, EINVAL, "seccomp ENOSYS stub: backward jump at %zu",
					  i);
		if (BPF_OP(f->code) == BPF_JA) {
			f->k = (uint32_t)t;
			continue;
		}
		if (t > 255 || e > 255)
			return kc_err_set(err, E2BIG, "seccomp ENOSYS stub: jump too long at %zu",
					  i);
		f->jt = (uint8_t)t;
		f->jf = (uint8_t)e;
	}
	return 0;
}

/* What one AUDIT_ARCH section checks. */
struct section {
	uint32_t audit;
	int max, max_x32; /* 0: no bound for that ABI */
};

static uint32_t audit_arch(uint32_t scmp)
{
	/* x32 processes report AUDIT_ARCH_X86_64 with X32_SYSCALL_BIT in nr. */
	return scmp == SCMP_ARCH_X32 ? AUDIT_ARCH_X86_64 : scmp;
}

int kc_stub_generate(const struct kc_stub_arch *arches, size_t n_arches, struct sock_filter *out,
		     size_t *n, kc_err **err)
{
	struct section sec[KC_STUB_MAX_ARCHES];
	struct bpf_as a = {.ins = out};
	size_t n_sec = 0;

	*n = 0;
	if (n_arches > KC_STUB_MAX_ARCHES)
		return kc_err_set(err, E2BIG, "seccomp ENOSYS stub: %zu architectures", n_arches);
	for (size_t i = 0; i < n_arches; i++) {
		uint32_t audit = audit_arch(arches[i].arch);
		size_t s;
		if (arches[i].max_nr <= 0)
			continue; /* nothing named on it: the default action stands */
		for (s = 0; s < n_sec && sec[s].audit != audit; s++)
			;
		if (s == n_sec)
			sec[n_sec++] = (struct section){.audit = audit};
		if (arches[i].arch == SCMP_ARCH_X32)
			sec[s].max_x32 = arches[i].max_nr;
		else
			sec[s].max = arches[i].max_nr;
	}
	if (!n_sec)
		return 0;

	emit(&a, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), 0, 0);
	for (size_t s = 0; s < n_sec; s++)
		emit(&a, BPF_JMP | BPF_JEQ | BPF_K, sec[s].audit, L_SEC(s), L_NEXT);
	emit(&a, BPF_JMP | BPF_JA, 0, L_FILTER, L_NEXT);
	for (size_t s = 0; s < n_sec; s++) {
		const struct section *c = &sec[s];
		here(&a, L_SEC(s));
		emit(&a, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
		if (c->audit == AUDIT_ARCH_S390 || c->audit == AUDIT_ARCH_S390X)
			/* Unknown syscalls arrive as 0, the multiplexer. */
			emit(&a, BPF_JMP | BPF_JEQ | BPF_K, 0, L_ENOSYS, L_NEXT);
		if (c->audit != AUDIT_ARCH_X86_64) {
			emit(&a, BPF_JMP | BPF_JGT | BPF_K, (uint32_t)c->max, L_ENOSYS, L_FILTER);
		} else if (c->max && c->max_x32) {
			emit(&a, BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, L_X32(s), L_NEXT);
			emit(&a, BPF_JMP | BPF_JGT | BPF_K, (uint32_t)c->max, L_ENOSYS, L_FILTER);
			here(&a, L_X32(s));
			emit(&a, BPF_JMP | BPF_JGT | BPF_K, (uint32_t)c->max_x32, L_ENOSYS,
			     L_FILTER);
		} else if (c->max) {
			/* x32 calls are not this section's business. */
			emit(&a, BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, L_FILTER, L_NEXT);
			emit(&a, BPF_JMP | BPF_JGT | BPF_K, (uint32_t)c->max, L_ENOSYS, L_FILTER);
		} else {
			emit(&a, BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, L_NEXT, L_FILTER);
			emit(&a, BPF_JMP | BPF_JGT | BPF_K, (uint32_t)c->max_x32, L_ENOSYS,
			     L_FILTER);
		}
	}
	here(&a, L_ENOSYS);
	emit(&a, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS, 0, 0);
	here(&a, L_FILTER);
	if (link_jumps(&a, err) < 0)
		return -E2BIG;
	*n = a.n;
	return 0;
}
