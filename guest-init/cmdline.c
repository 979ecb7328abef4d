/* SPDX-License-Identifier: Apache-2.0 */
#include "cmdline.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "util.h"

static void add_unknown(struct kc_cmdline *c, const char *tok, size_t n)
{
	size_t old = c->unknown ? strlen(c->unknown) : 0;
	c->unknown = xrealloc(c->unknown, old + n + 2);
	if (old)
		c->unknown[old++] = ' ';
	memcpy(c->unknown + old, tok, n);
	c->unknown[old + n] = '\0';
}

int kc_cmdline_parse(const char *text, struct kc_cmdline *c, kc_err **err)
{
	const char *p = text;

	memset(c, 0, sizeof(*c));
	c->log_level = -1;
	while (*p) {
		const char *start, *eq;
		size_t n;
		_cleanup_free_ char *key = NULL, *val = NULL;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		start = p;
		/* Quotes group a value containing spaces: key="a b". */
		for (bool q = false; *p && (q || (*p != ' ' && *p != '\t' && *p != '\n')); p++)
			if (*p == '"')
				q = !q;
		n = (size_t)(p - start);
		if (strncmp(start, "task.", 5) != 0)
			continue;
		eq = memchr(start, '=', n);
		key = xstrndup(start, eq ? (size_t)(eq - start) : n);
		if (eq) {
			const char *v = eq + 1;
			size_t vn = n - (size_t)(v - start);
			if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"')
				v++, vn -= 2;
			val = xstrndup(v, vn);
		}
		if (!strcmp(key, "task.sharefs_type")) {
			if (val && !strcmp(val, "virtiofs"))
				c->sharefs = KC_SHAREFS_VIRTIOFS;
			else if (val && !strcmp(val, "9p"))
				c->sharefs = KC_SHAREFS_9P;
			else if (val && !strcmp(val, "none"))
				c->sharefs = KC_SHAREFS_NONE;
			else
				return kc_err_set(
				    err, EINVAL,
				    "task.sharefs_type=%s: expected virtiofs, 9p or none",
				    val ? val : "");
		} else if (!strcmp(key, "task.log_level")) {
			int l = val ? kc_log_parse_level(val) : -1;
			if (l < 0)
				return kc_err_set(
				    err, EINVAL,
				    "task.log_level=%s: expected error, warn, info or "
				    "debug",
				    val ? val : "");
			c->log_level = l;
		} else if (!strcmp(key, "task.debug")) {
			/* Kuasar uses a bare flag; accept =true/=false too. */
			c->debug = !val || !strcmp(val, "true") || !strcmp(val, "1");
		} else if (!strcmp(key, "task.enable_tracing")) {
			/* Kuasar's host emits it; we have no tracing to enable. */
		} else if (!strcmp(key, "task.debug_shell") && val) {
			free(c->debug_shell);
			c->debug_shell = steal_pointer(&val);
		} else if (!strcmp(key, "task.listen") && val) {
			free(c->listen);
			c->listen = steal_pointer(&val);
		} else if (!strcmp(key, "task.hostname") && val) {
			free(c->hostname);
			c->hostname = steal_pointer(&val);
		} else if (!strcmp(key, "task.drain_timeout_ms")) {
			uint64_t v;
			if (!val || kc_parse_u64(val, &v) < 0 || v > 3600000)
				return kc_err_set(err, EINVAL,
						  "task.drain_timeout_ms=%s: expected milliseconds",
						  val ? val : "");
			c->drain_timeout_ms = v;
		} else {
			add_unknown(c, start, n);
		}
	}
	return 0;
}

void kc_cmdline_clear(struct kc_cmdline *c)
{
	free(c->debug_shell);
	free(c->listen);
	free(c->hostname);
	free(c->unknown);
	memset(c, 0, sizeof(*c));
}
