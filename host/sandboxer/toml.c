/* SPDX-License-Identifier: Apache-2.0 */
#include "toml.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

struct parser {
	const char *p, *end;
	const char *fname;
	unsigned line;
	char *table;
	struct sbx_toml_doc *doc;
	kc_err **err;
};

static int perr(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct parser *ps, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	return kc_err_set(ps->err, EINVAL, "%s:%u: %s", ps->fname, ps->line, msg ? msg : "?");
}

const char *sbx_toml_type_name(enum sbx_toml_type t)
{
	switch (t) {
	case SBX_TOML_STRING:
		return "string";
	case SBX_TOML_INT:
		return "integer";
	case SBX_TOML_BOOL:
		return "boolean";
	}
	return "?";
}

static bool is_bare(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
		ps->p++;
}

static bool at_eol(struct parser *ps)
{
	return ps->p >= ps->end || *ps->p == '\n' ||
	       (*ps->p == '\r' && ps->p + 1 < ps->end && ps->p[1] == '\n');
}

/* After a statement: whitespace, an optional comment, then the end of line. */
static int end_of_line(struct parser *ps)
{
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '#') {
		while (ps->p < ps->end && *ps->p != '\n') {
			unsigned char c = (unsigned char)*ps->p;
			if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
				return perr(ps, "control character in comment");
			ps->p++;
		}
	}
	if (!at_eol(ps))
		return perr(ps, "unexpected `%c` (expected the end of the line)", *ps->p);
	if (ps->p < ps->end && *ps->p == '\r')
		ps->p++;
	if (ps->p < ps->end)
		ps->p++;
	ps->line++;
	return 0;
}

static char *bare_key(struct parser *ps)
{
	const char *s = ps->p;
	while (ps->p < ps->end && is_bare(*ps->p))
		ps->p++;
	return ps->p > s ? xstrndup(s, (size_t)(ps->p - s)) : NULL;
}

static int parse_header(struct parser *ps)
{
	_cleanup_free_ char *name = xstrdup("");
	unsigned line = ps->line;

	ps->p++; /* '[' */
	if (ps->p < ps->end && *ps->p == '[')
		return perr(ps, "arrays of tables ([[...]]) are not supported");
	for (;;) {
		_cleanup_free_ char *seg = NULL;
		char *joined;

		skip_ws(ps);
		if (ps->p < ps->end && (*ps->p == '"' || *ps->p == '\''))
			return perr(ps, "quoted table names are not supported");
		seg = bare_key(ps);
		if (!seg)
			return perr(ps, "bad table name");
		joined = *name ? xasprintf("%s.%s", name, seg) : xstrdup(seg);
		free(name);
		name = joined;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == '.') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			break;
		}
		return perr(ps, "bad table header (expected `]`)");
	}
	for (size_t i = 0; i < ps->doc->n_tables; i++)
		if (!strcmp(ps->doc->tables[i].name, name))
			return perr(ps, "table [%s] defined twice (first on line %u)", name,
				    ps->doc->tables[i].line);
	ps->doc->tables =
	    xrealloc(ps->doc->tables, (ps->doc->n_tables + 1) * sizeof(*ps->doc->tables));
	ps->doc->tables[ps->doc->n_tables].name = xstrdup(name);
	ps->doc->tables[ps->doc->n_tables].line = line;
	ps->doc->n_tables++;
	free(ps->table);
	ps->table = steal_pointer(&name);
	return end_of_line(ps);
}

static void put_utf8(char **out, size_t *n, uint32_t cp)
{
	char *o = *out + *n;
	if (cp < 0x80) {
		o[0] = (char)cp;
		*n += 1;
	} else if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		*n += 2;
	} else if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		*n += 3;
	} else {
		o[0] = (char)(0xf0 | (cp >> 18));
		o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[3] = (char)(0x80 | (cp & 0x3f));
		*n += 4;
	}
}

/* Value parsers return NULL, or why the value is bad. */
static const char *parse_string(struct parser *ps, char **ret)
{
	char quote = *ps->p;
	_cleanup_free_ char *out = NULL;
	size_t n = 0;

	if (ps->end - ps->p >= 3 && ps->p[1] == quote && ps->p[2] == quote)
		return "multi-line strings are not supported";
	ps->p++;
	/* The result is never longer than the source (escapes shrink). */
	out = xmalloc((size_t)(ps->end - ps->p) + 1);
	for (;;) {
		unsigned char c;

		if (ps->p >= ps->end || *ps->p == '\n')
			return "unterminated string";
		c = (unsigned char)*ps->p++;
		if (c == (unsigned char)quote)
			break;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return "control character in string";
		if (c != '\\' || quote == '\'') {
			out[n++] = (char)c;
			continue;
		}
		if (ps->p >= ps->end)
			return "unterminated string";
		c = (unsigned char)*ps->p++;
		switch (c) {
		case 'b':
			out[n++] = '\b';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case 'n':
			out[n++] = '\n';
			break;
		case 'f':
			out[n++] = '\f';
			break;
		case 'r':
			out[n++] = '\r';
			break;
		case '"':
			out[n++] = '"';
			break;
		case '\\':
			out[n++] = '\\';
			break;
		case 'u':
		case 'U': {
			int digits = c == 'u' ? 4 : 8;
			uint32_t cp = 0;
			for (int i = 0; i < digits; i++, ps->p++) {
				char h = ps->p < ps->end ? *ps->p : '\0';
				int v = h >= '0' && h <= '9'   ? h - '0'
					: h >= 'a' && h <= 'f' ? h - 'a' + 10
					: h >= 'A' && h <= 'F' ? h - 'A' + 10
							       : -1;
				if (v < 0)
					return c == 'u' ? "bad \\u escape" : "bad \\U escape";
				cp = cp << 4 | (uint32_t)v;
			}
			if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
				return "bad unicode escape (NUL, surrogate or above U+10FFFF)";
			put_utf8(&out, &n, cp);
			break;
		}
		default:
			return "bad escape in string (\\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX "
			       "\\UXXXXXXXX)";
		}
	}
	out[n] = '\0';
	*ret = steal_pointer(&out);
	return NULL;
}

static bool value_end(struct parser *ps)
{
	return ps->p >= ps->end || *ps->p == ' ' || *ps->p == '\t' || *ps->p == '#' ||
	       *ps->p == '\n' || *ps->p == '\r';
}

static const char *parse_int(struct parser *ps, int64_t *ret)
{
	bool neg = false;
	uint64_t v = 0, limit;
	size_t ndigits = 0;
	bool last_us = false;

	if (*ps->p == '+' || *ps->p == '-') {
		neg = *ps->p == '-';
		ps->p++;
	}
	if (ps->end - ps->p >= 3 && (!strncmp(ps->p, "inf", 3) || !strncmp(ps->p, "nan", 3)))
		return "floats are not supported";
	if (ps->end - ps->p >= 2 && ps->p[0] == '0' &&
	    (ps->p[1] == 'x' || ps->p[1] == 'o' || ps->p[1] == 'b'))
		return "only decimal integers are supported";
	/* Classify the whole token first, so "07:32:00" is a time, not an
	 * integer with a leading zero. */
	for (const char *q = ps->p; q < ps->end && !strchr(" \t#\r\n", *q); q++) {
		if (*q == ':' || (*q == '-' && q > ps->p))
			return "dates and times are not supported";
		if (*q == '.' || *q == 'e' || *q == 'E')
			return "floats are not supported";
	}
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	while (ps->p < ps->end && !value_end(ps)) {
		char c = *ps->p;
		if (c == '_') {
			if (!ndigits || last_us)
				return "bad integer";
			last_us = true;
			ps->p++;
			continue;
		}
		if (c == '.' || c == 'e' || c == 'E')
			return "floats are not supported";
		if (c == ':' || (c == '-' && ndigits))
			return "dates and times are not supported";
		if (c < '0' || c > '9')
			return "bad integer";
		if (ndigits == 1 && v == 0)
			return "leading zeros are not allowed";
		if (v > (limit - (uint64_t)(c - '0')) / 10)
			return "integer out of range";
		v = v * 10 + (uint64_t)(c - '0');
		ndigits++;
		last_us = false;
		ps->p++;
	}
	if (!ndigits || last_us)
		return "bad integer";
	*ret = neg ? (int64_t)(0 - v) : (int64_t)v;
	return NULL;
}

static int parse_keyval(struct parser *ps)
{
	struct sbx_toml_kv kv = {.line = ps->line};
	_cleanup_free_ char *key = NULL;
	const char *why = NULL;
	int r;

	if (*ps->p == '"' || *ps->p == '\'')
		return perr(ps, "quoted keys are not supported");
	key = bare_key(ps);
	if (!key)
		return perr(ps, "unexpected `%c` (expected a key)", *ps->p);
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '.')
		return perr(ps, "dotted keys (`%s.`) are not supported", key);
	if (ps->p >= ps->end || *ps->p != '=')
		return perr(ps, "expected `=` after key `%s`", key);
	ps->p++;
	skip_ws(ps);
	if (at_eol(ps))
		return perr(ps, "key `%s` has no value", key);
	for (size_t i = 0; i < ps->doc->n_kv; i++)
		if (!strcmp(ps->doc->kv[i].table, ps->table) && !strcmp(ps->doc->kv[i].key, key))
			return perr(ps, "key `%s` defined twice (first on line %u)", key,
				    ps->doc->kv[i].line);
	switch (*ps->p) {
	case '"':
	case '\'':
		kv.type = SBX_TOML_STRING;
		why = parse_string(ps, &kv.str);
		break;
	case '[':
		return perr(ps, "key `%s`: arrays are not supported", key);
	case '{':
		return perr(ps, "key `%s`: inline tables are not supported", key);
	case 't':
	case 'f': {
		const char *word = *ps->p == 't' ? "true" : "false";
		size_t wl = strlen(word);
		if ((size_t)(ps->end - ps->p) >= wl && !strncmp(ps->p, word, wl)) {
			ps->p += wl;
			if (value_end(ps)) {
				kv.type = SBX_TOML_BOOL;
				kv.b = *word == 't';
				break;
			}
		}
		return perr(ps, "key `%s`: bad value (strings need quotes)", key);
	}
	default:
		if ((*ps->p >= '0' && *ps->p <= '9') || *ps->p == '+' || *ps->p == '-') {
			kv.type = SBX_TOML_INT;
			why = parse_int(ps, &kv.i);
			break;
		}
		return perr(ps, "key `%s`: bad value (strings need quotes)", key);
	}
	if (why)
		return perr(ps, "key `%s`: %s", key, why);
	r = end_of_line(ps);
	if (r < 0) {
		free(kv.str);
		return r;
	}
	kv.table = xstrdup(ps->table);
	kv.key = steal_pointer(&key);
	ps->doc->kv = xrealloc(ps->doc->kv, (ps->doc->n_kv + 1) * sizeof(*ps->doc->kv));
	ps->doc->kv[ps->doc->n_kv++] = kv;
	return 0;
}

int sbx_toml_parse(const char *text, size_t len, const char *fname, struct sbx_toml_doc *ret,
		   kc_err **err)
{
	struct parser ps = {
	    .p = text, .end = text + len, .fname = fname, .line = 1, .doc = ret, .err = err};
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	if (strlen(text) != len)
		return kc_err_set(err, EINVAL, "%s: NUL byte in file", fname);
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		ps.p += 3; /* UTF-8 byte order mark */
	ps.table = xstrdup("");
	while (ps.p < ps.end) {
		skip_ws(&ps);
		if (ps.p < ps.end && *ps.p == '[')
			r = parse_header(&ps);
		else if (ps.p >= ps.end || *ps.p == '#' || at_eol(&ps))
			r = end_of_line(&ps);
		else
			r = parse_keyval(&ps);
		if (r < 0)
			break;
	}
	free(ps.table);
	if (r < 0)
		sbx_toml_free(ret);
	return r;
}

void sbx_toml_free(struct sbx_toml_doc *doc)
{
	for (size_t i = 0; i < doc->n_kv; i++) {
		free(doc->kv[i].table);
		free(doc->kv[i].key);
		free(doc->kv[i].str);
	}
	free(doc->kv);
	for (size_t i = 0; i < doc->n_tables; i++)
		free(doc->tables[i].name);
	free(doc->tables);
	memset(doc, 0, sizeof(*doc));
}
