/* SPDX-License-Identifier: Apache-2.0 */
/*
 * linux.seccomp -> one BPF program, with runc's semantics
 * (libcontainer/seccomp, specconv.SetupSeccomp, seccomp/patchbpf):
 *  - every syscalls[] entry becomes one rule per name; a rule whose action
 *    equals the default action is dropped; names libseccomp cannot resolve
 *    for the native arch are skipped (one log line lists them);
 *  - args on distinct indexes are ANDed in one rule; if an index repeats,
 *    each arg becomes a rule of its own (ORed), as runc does;
 *  - SCMP_CMP_MASKED_EQ: value is the mask, valueTwo the datum
 *    ((arg & value) == valueTwo), i.e. value/valueTwo go to libseccomp's
 *    datum_a/datum_b for every operator;
 *  - ERRNO and TRACE return errnoRet (defaultErrnoRet for the default
 *    action), EPERM when absent; KILL is KILL_THREAD;
 *  - unless the default action allows (ALLOW, LOG, TRACE), a stub in front of
 *    libseccomp's program answers ENOSYS for syscall numbers above the largest
 *    one the profile names on each arch (seccomp_stub.c);
 *  - one libseccomp context per arch, their programs behind a dispatch on the
 *    arch (seccomp_stub.c): the same decisions as libseccomp's multi-arch
 *    filter (the unit tests compare them call by call) in half the time, as
 *    libseccomp's code generation grows faster than the program; and the last
 *    few compiled profiles are kept (kc_seccomp_parse);
 *  - flags: LOG and SPEC_ALLOW go to seccomp(2); with no "flags" member at all
 *    SPEC_ALLOW is set when the kernel has it (runc >= 1.2); TSYNC is accepted
 *    and not needed (the child is single-threaded); WAIT_KILLABLE_RECV only
 *    qualifies a notify listener, which we never create, so it is accepted and
 *    has no effect;
 *  - SCMP_ACT_NOTIFY and listenerPath are refused: no seccomp agent exists in
 *    the guest, and running without those rules would be running unconfined.
 * libseccomp's own no_new_privs handling is off: the spawn code sets it.
 */
#include "seccomp.h"

#include <errno.h>
#include <jansson.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "seccomp_stub.h"
#include "spec_json.h"
#include "util.h"

#ifndef SECCOMP_FILTER_FLAG_LOG
#define SECCOMP_FILTER_FLAG_LOG (1U << 1)
#endif
#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1U << 2)
#endif

/* Bounds on what a profile may hold (containerd's default: 12 rules, 366
 * names, 1 arg per rule, 3 arches). */
#define SC_MAX_RULES  1024
#define SC_MAX_NAMES  4096
#define SC_MAX_ARGS   16
#define SC_MAX_FLAGS  8
#define SC_NAME_MAX   64
#define SC_ERRNO_MAX  0xffff /* the action's data field; the kernel caps at 4095 */
#define SC_SKIP_SHOWN 240    /* characters of skipped names in the log line */

struct kc_seccomp {
	unsigned flags;
	size_t skipped;
	unsigned short len;
	struct sock_filter prog[];
};

struct sc_parse {
	uint32_t def_action;
	struct kc_stub_arch arches[KC_STUB_MAX_ARCHES];
	size_t n_arches;
	scmp_filter_ctx ctx[KC_STUB_MAX_ARCHES]; /* one per arch, or one for all */
	size_t n_ctx;
	size_t n_names;
	size_t n_skipped;
	char skipped[SC_SKIP_SHOWN + 8];
};

static const struct {
	const char *name;
	uint32_t act;
} plain_actions[] = {
    {"SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG},
};

/* The OCI names are libseccomp's macro names. */
#define NAMED(x) #x, x
static const struct {
	const char *name;
	enum scmp_compare op;
} operators[] = {
    {NAMED(SCMP_CMP_NE)}, {NAMED(SCMP_CMP_LT)}, {NAMED(SCMP_CMP_LE)},        {NAMED(SCMP_CMP_EQ)},
    {NAMED(SCMP_CMP_GE)}, {NAMED(SCMP_CMP_GT)}, {NAMED(SCMP_CMP_MASKED_EQ)},
};

static const struct {
	const char *name;
	uint32_t arch;
} arch_names[] = {
    {NAMED(SCMP_ARCH_X86)},      {NAMED(SCMP_ARCH_X86_64)},      {NAMED(SCMP_ARCH_X32)},
    {NAMED(SCMP_ARCH_ARM)},      {NAMED(SCMP_ARCH_AARCH64)},     {NAMED(SCMP_ARCH_MIPS)},
    {NAMED(SCMP_ARCH_MIPS64)},   {NAMED(SCMP_ARCH_MIPS64N32)},   {NAMED(SCMP_ARCH_MIPSEL)},
    {NAMED(SCMP_ARCH_MIPSEL64)}, {NAMED(SCMP_ARCH_MIPSEL64N32)}, {NAMED(SCMP_ARCH_PPC)},
    {NAMED(SCMP_ARCH_PPC64)},    {NAMED(SCMP_ARCH_PPC64LE)},     {NAMED(SCMP_ARCH_S390)},
    {NAMED(SCMP_ARCH_S390X)},    {NAMED(SCMP_ARCH_PARISC)},      {NAMED(SCMP_ARCH_PARISC64)},
    {NAMED(SCMP_ARCH_RISCV64)},
};

static const char *lib_version(void)
{
	static char v[32];
	const struct scmp_version *sv = seccomp_version();
	if (!v[0])
		snprintf(v, sizeof(v), "%u.%u.%u", sv->major, sv->minor, sv->micro);
	return v;
}

/* Whether the running kernel knows a SECCOMP_FILTER_FLAG_*: valid flags get as
 * far as reading the (NULL) program and fail with EFAULT, as libseccomp probes. */
static bool kernel_has_flag(unsigned flag)
{
	static unsigned known, probed; /* the kernel does not change underneath */

	if (!(probed & flag)) {
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flag, NULL) < 0 &&
		    errno == EFAULT)
			known |= flag;
		probed |= flag;
	}
	return (known & flag) == flag;
}

/* action + errnoRet -> libseccomp action; "path" names the action's field. */
static int parse_action(const char *s, bool has_errno, uint32_t errno_ret, const char *path,
			uint32_t *ret, kc_err **err)
{
	uint32_t e = has_errno ? errno_ret : EPERM;

	if (!strcmp(s, "SCMP_ACT_ERRNO")) {
		*ret = SCMP_ACT_ERRNO(e);
		return 0;
	}
	if (!strcmp(s, "SCMP_ACT_TRACE")) {
		*ret = SCMP_ACT_TRACE(e);
		return 0;
	}
	if (!strcmp(s, "SCMP_ACT_NOTIFY"))
		return kc_err_set(err, EOPNOTSUPP,
				  "%s: SCMP_ACT_NOTIFY is not supported by vmm-task (no seccomp "
				  "agent in the guest; refusing rather than running without it)",
				  path);
	for (size_t i = 0; i < KC_ARRAY_SIZE(plain_actions); i++)
		if (!strcmp(s, plain_actions[i].name)) {
			*ret = plain_actions[i].act;
			return 0;
		}
	return kc_err_set(err, EINVAL, "%s: unknown action %.64s", path, s);
}

/* A required string member. */
static int get_req_str(json_t *o, const char *key, const char *path, char **ret, kc_err **err)
{
	int r = spec_get_str(o, key, path, ret, err);
	if (r == 0)
		return kc_err_set(err, EINVAL, "%s: required", path);
	return r;
}

/* A required integer member in [min, max]. */
static int get_req_int(json_t *o, const char *key, const char *path, int64_t min, int64_t max,
		       int64_t *ret, kc_err **err)
{
	int r = spec_get_int(o, key, path, min, max, ret, err);
	if (r == 0)
		return kc_err_set(err, EINVAL, "%s: required", path);
	return r;
}

static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
	return false;
}

static void note_skipped(struct sc_parse *p, const char *name)
{
	size_t used = strlen(p->skipped);

	p->n_skipped++;
	if (listed(p->skipped, name)) /* once, though a name may be in several rules */
		return;
	if (used + strlen(name) + 2 <= SC_SKIP_SHOWN)
		snprintf(p->skipped + used, sizeof(p->skipped) - used, "%s%s", used ? " " : "",
			 name);
	else if (!strstr(p->skipped, "..."))
		snprintf(p->skipped + used, sizeof(p->skipped) - used, " ...");
}

static int parse_args(json_t *r, const char *path, struct scmp_arg_cmp *cmp, size_t *n,
		      bool *repeated, kc_err **err)
{
	json_t *a, *v;
	size_t i;
	unsigned seen = 0;
	char p[128];

	*n = 0;
	*repeated = false;
	snprintf(p, sizeof(p), "%s.args", path);
	if (spec_get_arr(r, "args", p, &a, err) < 0)
		return -EINVAL;
	if (!a)
		return 0;
	if (json_array_size(a) > SC_MAX_ARGS)
		return kc_err_set(err, E2BIG, "%s: %zu entries, at most %d", p, json_array_size(a),
				  SC_MAX_ARGS);
	json_array_foreach(a, i, v)
	{
		_cleanup_free_ char *op = NULL;
		int64_t index = 0, val = 0, val2 = 0;
		size_t k;

		snprintf(p, sizeof(p), "%s.args[%zu]", path, i);
		if (!json_is_object(v))
			return spec_type_err(err, p, "an object");
		snprintf(p, sizeof(p), "%s.args[%zu].index", path, i);
		if (get_req_int(v, "index", p, 0, 5, &index, err) < 0)
			return -EINVAL;
		/* uint64 in the spec; jansson reads integers up to INT64_MAX. */
		snprintf(p, sizeof(p), "%s.args[%zu].value", path, i);
		if (get_req_int(v, "value", p, 0, INT64_MAX, &val, err) < 0)
			return -EINVAL;
		snprintf(p, sizeof(p), "%s.args[%zu].valueTwo", path, i);
		if (spec_get_int(v, "valueTwo", p, 0, INT64_MAX, &val2, err) < 0)
			return -EINVAL;
		snprintf(p, sizeof(p), "%s.args[%zu].op", path, i);
		if (get_req_str(v, "op", p, &op, err) < 0)
			return -EINVAL;
		for (k = 0; k < KC_ARRAY_SIZE(operators); k++)
			if (!strcmp(op, operators[k].name))
				break;
		if (k == KC_ARRAY_SIZE(operators))
			return kc_err_set(err, EINVAL, "%s: unknown operator %.64s", p, op);
		if (seen & (1u << (unsigned)index))
			*repeated = true;
		seen |= 1u << (unsigned)index;
		cmp[i] = (struct scmp_arg_cmp){.arg = (unsigned)index,
					       .op = operators[k].op,
					       .datum_a = (scmp_datum_t)val,
					       .datum_b = (scmp_datum_t)val2};
	}
	*n = json_array_size(a);
	return 0;
}

static int add_one(scmp_filter_ctx ctx, uint32_t act, int nr, const struct scmp_arg_cmp *cmp,
		   size_t n_cmp, bool repeated)
{
	int rc;

	if (!n_cmp)
		return seccomp_rule_add_array(ctx, act, nr, 0, NULL);
	if (!repeated)
		return seccomp_rule_add_array(ctx, act, nr, (unsigned)n_cmp, cmp);
	for (size_t i = 0; i < n_cmp; i++)
		if ((rc = seccomp_rule_add_array(ctx, act, nr, 1, &cmp[i])) < 0)
			return rc;
	return 0;
}

static int parse_rule(struct sc_parse *p, json_t *r, size_t idx, kc_err **err)
{
	struct scmp_arg_cmp cmp[SC_MAX_ARGS];
	_cleanup_free_ char *action = NULL;
	char path[64], fp[128];
	json_t *names, *v;
	int64_t eret = 0;
	size_t n_cmp, i;
	bool repeated;
	uint32_t act;
	int got;

	snprintf(path, sizeof(path), "linux.seccomp.syscalls[%zu]", idx);
	if (!json_is_object(r))
		return spec_type_err(err, path, "an object");
	snprintf(fp, sizeof(fp), "%s.names", path);
	if (spec_get_arr(r, "names", fp, &names, err) < 0)
		return -EINVAL;
	if (!names)
		return kc_err_set(err, EINVAL, "%s: required", fp);
	if (json_array_size(names) > SC_MAX_NAMES - p->n_names)
		return kc_err_set(err, E2BIG, "%s: more than %d syscall names in the profile", fp,
				  SC_MAX_NAMES);
	snprintf(fp, sizeof(fp), "%s.errnoRet", path);
	if ((got = spec_get_int(r, "errnoRet", fp, 0, SC_ERRNO_MAX, &eret, err)) < 0)
		return -EINVAL;
	snprintf(fp, sizeof(fp), "%s.action", path);
	if (get_req_str(r, "action", fp, &action, err) < 0 ||
	    parse_action(action, got > 0, (uint32_t)eret, fp, &act, err) < 0)
		return -EINVAL;
	if (parse_args(r, path, cmp, &n_cmp, &repeated, err) < 0)
		return -EINVAL;
	json_array_foreach(names, i, v)
	{
		const char *name = json_string_value(v);
		int nr, rc;

		snprintf(fp, sizeof(fp), "%s.names[%zu]", path, i);
		if (!name)
			return spec_type_err(err, fp, "a string");
		if (!*name || strlen(name) >= SC_NAME_MAX)
			return kc_err_set(
			    err, EINVAL, "%s: syscall name `%.64s` is empty or too long", fp, name);
		p->n_names++;
		/* The stub's bound counts every name, whatever its action (runc). */
		for (size_t k = 0; k < p->n_arches; k++) {
			nr = seccomp_syscall_resolve_name_arch(p->arches[k].arch, name);
			if (nr > p->arches[k].max_nr)
				p->arches[k].max_nr = nr;
		}
		nr = seccomp_syscall_resolve_name(name);
		if (nr == __NR_SCMP_ERROR) {
			note_skipped(p, name);
			continue;
		}
		if (act == p->def_action)
			continue; /* redundant, and libseccomp would refuse it */
		for (size_t k = 0; k < p->n_ctx; k++)
			if ((rc = add_one(p->ctx[k], act, nr, cmp, n_cmp, repeated)) < 0)
				return kc_err_set(err, -rc, "%s: `%s`: libseccomp: %s", path, name,
						  strerror(-rc));
	}
	return 0;
}

static int parse_arches(struct sc_parse *p, json_t *sc, kc_err **err)
{
	json_t *a, *v;
	size_t i;
	char path[64];

	/* The native arch is always in libseccomp's filter, and runc >= 1.2 always
	 * gives it a stub section; it comes first (program 0). */
	p->arches[p->n_arches++] = (struct kc_stub_arch){.arch = seccomp_arch_native()};
	if (spec_get_arr(sc, "architectures", "linux.seccomp.architectures", &a, err) < 0)
		return -EINVAL;
	json_array_foreach(a, i, v)
	{
		const char *s = json_string_value(v);
		uint32_t arch = 0;
		size_t k;

		snprintf(path, sizeof(path), "linux.seccomp.architectures[%zu]", i);
		if (!s)
			return spec_type_err(err, path, "a string");
		for (k = 0; k < KC_ARRAY_SIZE(arch_names) && !arch; k++)
			if (!strcmp(s, arch_names[k].name))
				arch = arch_names[k].arch;
		if (!arch)
			return kc_err_set(err, EINVAL,
					  "%s: unknown architecture %.64s (libseccomp %s)", path, s,
					  lib_version());
		for (k = 0; k < p->n_arches && p->arches[k].arch != arch; k++)
			;
		/* One entry per distinct arch, so n_arches <= KC_ARRAY_SIZE(arch_names). */
		if (k == p->n_arches)
			p->arches[p->n_arches++] = (struct kc_stub_arch){.arch = arch};
	}
	return 0;
}

/* The libseccomp contexts: one per arch (split) or one with every arch. */
static int make_contexts(struct sc_parse *p, bool split, const char *def, kc_err **err)
{
	uint32_t native = seccomp_arch_native();

	for (size_t i = 0; i < (split ? p->n_arches : 1); i++) {
		scmp_filter_ctx c = seccomp_init(p->def_action);
		int rc;
		if (!c)
			return kc_err_set(
			    err, EINVAL,
			    "linux.seccomp.defaultAction: %s: refused by libseccomp %s", def,
			    lib_version());
		p->ctx[p->n_ctx++] = c;
		if ((rc = seccomp_attr_set(c, SCMP_FLTATR_CTL_NNP, 0)) < 0)
			return kc_err_set(err, -rc, "linux.seccomp: libseccomp: %s", strerror(-rc));
		for (size_t k = split ? i : 0; k < (split ? i + 1 : p->n_arches); k++) {
			if (p->arches[k].arch == native)
				continue;
			if ((rc = seccomp_arch_add(c, p->arches[k].arch)) < 0)
				return kc_err_set(
				    err, -rc, "linux.seccomp.architectures: %#x: libseccomp: %s",
				    p->arches[k].arch, strerror(-rc));
			p->arches[k].prog = (unsigned)i;
		}
		if (split && i > 0 && (rc = seccomp_arch_remove(c, native)) < 0)
			return kc_err_set(err, -rc, "linux.seccomp: libseccomp: %s", strerror(-rc));
	}
	return 0;
}

static const struct {
	const char *name;
	unsigned flag; /* passed to seccomp(2); 0: accepted, nothing to pass */
} flag_names[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", 0},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", 0},
};

static int parse_flags(json_t *sc, unsigned *ret, kc_err **err)
{
	json_t *a, *v;
	size_t i;
	char path[64];

	*ret = 0;
	if (spec_get_arr(sc, "flags", "linux.seccomp.flags", &a, err) < 0)
		return -EINVAL;
	if (!a) {
		/* No "flags" at all (not even []): SPEC_ALLOW where the kernel has
		 * it, as runc >= 1.2 does. */
		if (kernel_has_flag(SECCOMP_FILTER_FLAG_SPEC_ALLOW))
			*ret = SECCOMP_FILTER_FLAG_SPEC_ALLOW;
		return 0;
	}
	if (json_array_size(a) > SC_MAX_FLAGS)
		return kc_err_set(err, E2BIG, "linux.seccomp.flags: %zu entries, at most %d",
				  json_array_size(a), SC_MAX_FLAGS);
	json_array_foreach(a, i, v)
	{
		const char *s = json_string_value(v);
		size_t k;

		snprintf(path, sizeof(path), "linux.seccomp.flags[%zu]", i);
		if (!s)
			return spec_type_err(err, path, "a string");
		for (k = 0; k < KC_ARRAY_SIZE(flag_names); k++)
			if (!strcmp(s, flag_names[k].name))
				break;
		if (k == KC_ARRAY_SIZE(flag_names))
			return kc_err_set(err, EINVAL, "%s: unknown flag %.64s", path, s);
		if (flag_names[k].flag && !kernel_has_flag(flag_names[k].flag))
			return kc_err_set(err, EOPNOTSUPP, "%s: %s is not supported by this kernel",
					  path, s);
		*ret |= flag_names[k].flag;
	}
	return 0;
}

/* Append ctx's program to *buf (*n instructions so far). libseccomp 2.5
 * exports only to an fd: a memfd, read back whole. */
static int export_bpf(scmp_filter_ctx ctx, struct sock_filter **buf, size_t *n, size_t *len,
		      kc_err **err)
{
	_cleanup_close_ int fd = memfd_create("kc-seccomp", MFD_CLOEXEC);
	struct stat st;
	size_t add;
	int rc;

	if (fd < 0)
		return kc_err_sys(err, "linux.seccomp: memfd for the BPF program");
	if ((rc = seccomp_export_bpf(ctx, fd)) < 0)
		return kc_err_set(err, -rc,
				  "linux.seccomp: libseccomp cannot generate the filter: %s",
				  strerror(-rc));
	if (fstat(fd, &st) < 0)
		return kc_err_sys(err, "linux.seccomp: stat the BPF program");
	add = (size_t)st.st_size / sizeof(struct sock_filter);
	if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) || add > BPF_MAXINSNS - *n)
		return kc_err_set(err, E2BIG,
				  "linux.seccomp: the filter compiles to more than %d BPF "
				  "instructions, the kernel's limit",
				  BPF_MAXINSNS);
	*buf = xrealloc(*buf, (*n + add) * sizeof(struct sock_filter));
	if (pread(fd, *buf + *n, (size_t)st.st_size, 0) != st.st_size)
		return kc_err_set(err, EIO, "linux.seccomp: short read of the BPF program");
	*n += add;
	*len = add;
	return 0;
}

/* Actions runc treats as allowing: no ENOSYS stub then (a tracer handles
 * unknown syscalls itself). */
static bool allows(uint32_t act)
{
	return act == SCMP_ACT_ALLOW || act == SCMP_ACT_LOG ||
	       (act & 0xffff0000U) == SCMP_ACT_TRACE(0);
}

static int build(struct sc_parse *p, json_t *calls, unsigned flags, struct kc_seccomp **ret,
		 kc_err **err)
{
	_cleanup_free_ struct sock_filter *lib = NULL;
	struct sock_filter stub[KC_STUB_MAX_INSNS];
	size_t prog_len[KC_STUB_MAX_ARCHES];
	size_t n_lib = 0, n_stub = 0, i;
	struct kc_seccomp *s;
	json_t *r;

	if (json_array_size(calls) > SC_MAX_RULES)
		return kc_err_set(err, E2BIG, "linux.seccomp.syscalls: %zu entries, at most %d",
				  json_array_size(calls), SC_MAX_RULES);
	json_array_foreach(calls, i, r)
	{
		if (parse_rule(p, r, i, err) < 0)
			return -EINVAL;
	}
	for (i = 0; i < p->n_ctx; i++) {
		/* libseccomp's binary search tree over the syscall number pays off
		 * for long profiles (runc uses it above 32 rules). */
		if (p->n_names > 32)
			(void)seccomp_attr_set(p->ctx[i], SCMP_FLTATR_CTL_OPTIMIZE, 2);
		if (export_bpf(p->ctx[i], &lib, &n_lib, &prog_len[i], err) < 0)
			return -EINVAL;
	}
	/* With ERRNO(ENOSYS) by default the bounds would change nothing. */
	if (kc_stub_generate(p->arches, p->n_arches, prog_len, p->n_ctx,
			     !allows(p->def_action) && p->def_action != SCMP_ACT_ERRNO(ENOSYS),
			     stub, &n_stub, err) < 0)
		return -EINVAL;
	if (n_stub + n_lib > BPF_MAXINSNS)
		return kc_err_set(err, E2BIG,
				  "linux.seccomp: the filter compiles to %zu BPF instructions, the "
				  "kernel takes at most %d",
				  n_stub + n_lib, BPF_MAXINSNS);
	s = xmalloc(sizeof(*s) + (n_stub + n_lib) * sizeof(struct sock_filter));
	s->flags = flags;
	s->skipped = p->n_skipped;
	s->len = (unsigned short)(n_stub + n_lib);
	memcpy(s->prog, stub, n_stub * sizeof(*stub));
	memcpy(s->prog + n_stub, lib, n_lib * sizeof(*lib));
	*ret = s;
	return 0;
}

int kc_seccomp_compile(json_t *sc, bool split, struct kc_seccomp **ret, kc_err **err)
{
	struct sc_parse p = {0};
	_cleanup_free_ char *def = NULL, *listener = NULL;
	json_t *calls;
	int64_t def_errno = 0;
	unsigned flags = 0;
	int got, r = -EINVAL;

	*ret = NULL;
	if (!sc || json_is_null(sc))
		return 0;
	if (!json_is_object(sc))
		return spec_type_err(err, "linux.seccomp", "an object");
	if (spec_get_str(sc, "defaultAction", "linux.seccomp.defaultAction", &def, err) < 0 ||
	    spec_get_arr(sc, "syscalls", "linux.seccomp.syscalls", &calls, err) < 0)
		return -EINVAL;
	/* runc: neither a default action nor rules means no filter. */
	if ((!def || !*def) && !json_array_size(calls))
		return 0;
	if (spec_get_str(sc, "listenerPath", "linux.seccomp.listenerPath", &listener, err) < 0)
		return -EINVAL;
	if (listener && *listener)
		return kc_err_set(err, EOPNOTSUPP,
				  "linux.seccomp.listenerPath: seccomp notify agents are not "
				  "supported by vmm-task (refusing rather than running without "
				  "the notify rules)");
	if ((got = spec_get_int(sc, "defaultErrnoRet", "linux.seccomp.defaultErrnoRet", 0,
				SC_ERRNO_MAX, &def_errno, err)) < 0)
		return -EINVAL;
	if (!def || !*def)
		return kc_err_set(err, EINVAL, "linux.seccomp.defaultAction: required");
	if (parse_action(def, got > 0, (uint32_t)def_errno, "linux.seccomp.defaultAction",
			 &p.def_action, err) < 0 ||
	    parse_flags(sc, &flags, err) < 0 || parse_arches(&p, sc, err) < 0)
		return -EINVAL;
	if (make_contexts(&p, split, def, err) >= 0)
		r = build(&p, calls, flags, ret, err);
	for (size_t i = 0; i < p.n_ctx; i++)
		seccomp_release(p.ctx[i]);
	if (r >= 0 && p.n_skipped)
		log_info("linux.seccomp: %zu syscall names unknown to libseccomp %s left out: %s",
			 p.n_skipped, lib_version(), p.skipped);
	return r;
}

static struct kc_seccomp *dup_filter(const struct kc_seccomp *sc)
{
	size_t size = sizeof(*sc) + sc->len * sizeof(struct sock_filter);
	struct kc_seccomp *d = xmalloc(size);
	memcpy(d, sc, size);
	return d;
}

/* Compiling containerd's profile takes milliseconds; every container of a pod
 * and every pod of a node has the same one. A few compiled filters are kept
 * with a copy of their profile (json_equal on a hit: tens of microseconds).
 * The kernel, which decides the default flags, does not change underneath. */
#define SC_CACHE_SLOTS 4
static struct {
	json_t *profile;
	struct kc_seccomp *sc;
	uint64_t used;
} cache[SC_CACHE_SLOTS];
static uint64_t cache_clock;

int kc_seccomp_parse(json_t *sc, struct kc_seccomp **ret, kc_err **err)
{
	size_t slot = 0;

	*ret = NULL;
	for (size_t i = 0; sc && i < SC_CACHE_SLOTS; i++) {
		if (cache[i].profile && json_equal(cache[i].profile, sc)) {
			cache[i].used = ++cache_clock;
			*ret = dup_filter(cache[i].sc);
			return 0;
		}
		if (cache[i].used < cache[slot].used)
			slot = i;
	}
	if (kc_seccomp_compile(sc, true, ret, err) < 0)
		return -EINVAL;
	if (*ret) {
		json_decref(cache[slot].profile);
		free(cache[slot].sc);
		cache[slot].profile = json_deep_copy(sc);
		cache[slot].sc = dup_filter(*ret);
		cache[slot].used = ++cache_clock;
	}
	return 0;
}

int kc_seccomp_parse_text(const char *json, size_t len, struct kc_seccomp **ret, kc_err **err)
{
	json_error_t je;
	json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	int r;

	*ret = NULL;
	if (!doc)
		return kc_err_set(err, EINVAL,
				  "linux.seccomp: invalid JSON at line %d column %d: %s", je.line,
				  je.column, je.text);
	r = kc_seccomp_parse(doc, ret, err);
	json_decref(doc);
	return r;
}

int kc_seccomp_load(const struct kc_seccomp *sc, kc_err **err)
{
	struct sock_fprog fp;
	long r;

	if (!sc)
		return 0;
	fp.len = sc->len;
	fp.filter = (struct sock_filter *)sc->prog;
	/* prctl when no flag is needed, as runc: it works wherever seccomp(2) is
	 * filtered away by an outer sandbox. */
	if (sc->flags)
		r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, sc->flags, &fp);
	else
		r = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0);
	if (r < 0)
		return kc_err_sys(err, "load the seccomp filter (%u BPF instructions, flags %#x)",
				  (unsigned)sc->len, sc->flags);
	return 0;
}

void kc_seccomp_free(struct kc_seccomp *sc)
{
	free(sc);
}

const struct sock_filter *kc_seccomp_prog(const struct kc_seccomp *sc)
{
	return sc ? sc->prog : NULL;
}

size_t kc_seccomp_insns(const struct kc_seccomp *sc)
{
	return sc ? sc->len : 0;
}

unsigned kc_seccomp_flags(const struct kc_seccomp *sc)
{
	return sc ? sc->flags : 0;
}

size_t kc_seccomp_skipped(const struct kc_seccomp *sc)
{
	return sc ? sc->skipped : 0;
}
