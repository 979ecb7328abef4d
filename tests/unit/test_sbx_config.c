/* SPDX-License-Identifier: Apache-2.0 */
/* vmm-sandboxer's config: the TOML subset parser (host/sandboxer/toml.c) and
 * the schema on top of it (config.c): Kuasar's config_clh.toml as shipped,
 * our QEMU keys, defaults per hypervisor type, and every error naming the
 * file, the line and the key. */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "toml.h"
#include "util.h"

static struct sbx_toml_doc parse_ok(const char *text)
{
	struct sbx_toml_doc d;
	kc_err *e = NULL;
	cr_assert_eq(sbx_toml_parse(text, strlen(text), "t.toml", &d, &e), 0, "%s: %s", text,
		     kc_err_msg(e));
	return d;
}

static void toml_fails(const char *text, const char *msg)
{
	struct sbx_toml_doc d;
	kc_err *e = NULL;
	cr_assert_lt(sbx_toml_parse(text, strlen(text), "t.toml", &d, &e), 0, "accepted: %s", text);
	cr_assert(strstr(kc_err_msg(e), msg), "`%s`: got `%s`, want `%s`", text, kc_err_msg(e),
		  msg);
	kc_err_free(e);
}

static struct sbx_config cfg_ok(const char *text)
{
	struct sbx_config c;
	kc_err *e = NULL;
	cr_assert_eq(sbx_config_parse(text, strlen(text), "config.toml", &c, &e), 0, "%s",
		     kc_err_msg(e));
	return c;
}

static void cfg_fails(const char *text, const char *msg)
{
	struct sbx_config c;
	kc_err *e = NULL;
	cr_assert_lt(sbx_config_parse(text, strlen(text), "config.toml", &c, &e), 0, "accepted: %s",
		     text);
	cr_assert_str_eq(kc_err_msg(e), msg, "for:\n%s", text);
	kc_err_free(e);
}

/* ------------------------------------------------------------------ TOML */

Test(toml, tables_keys_values_comments)
{
	struct sbx_toml_doc d = parse_ok("# top comment\n"
					 "\n"
					 "top = 1\n"
					 "[a]   # a table\n"
					 "s = \"str\"  # trailing\n"
					 "lit = 'C:\\no\\escapes'\n"
					 "\t i = -1_024\n"
					 "b = true\n"
					 "f=false\n"
					 "[ a . b ]\r\n"
					 "z = +7\r\n"
					 "hash = \"# not a comment\"\n");
	cr_assert_eq(d.n_kv, 8);
	cr_assert_str_eq(d.kv[0].table, "");
	cr_assert_str_eq(d.kv[0].key, "top");
	cr_assert_eq(d.kv[0].i, 1);
	cr_assert_str_eq(d.kv[1].table, "a");
	cr_assert_eq(d.kv[1].type, SBX_TOML_STRING);
	cr_assert_str_eq(d.kv[1].str, "str");
	cr_assert_eq(d.kv[1].line, 5);
	cr_assert_str_eq(d.kv[2].str, "C:\\no\\escapes");
	cr_assert_eq(d.kv[3].type, SBX_TOML_INT);
	cr_assert_eq(d.kv[3].i, -1024);
	cr_assert(d.kv[4].type == SBX_TOML_BOOL && d.kv[4].b);
	cr_assert(d.kv[5].type == SBX_TOML_BOOL && !d.kv[5].b);
	cr_assert_str_eq(d.kv[6].table, "a.b");
	cr_assert_eq(d.kv[6].i, 7);
	cr_assert_eq(d.kv[6].line, 11);
	cr_assert_str_eq(d.kv[7].key, "hash");
	cr_assert_str_eq(d.kv[7].str, "# not a comment");
	cr_assert_eq(d.n_tables, 2);
	cr_assert_str_eq(d.tables[1].name, "a.b");
	cr_assert_eq(d.tables[1].line, 10);
	sbx_toml_free(&d);
}

Test(toml, string_escapes)
{
	struct sbx_toml_doc d = parse_ok("s = \"q\\\" b\\\\ n\\n t\\t e\\u00e9 x\\U0001F600\"\n"
					 "empty = \"\"\nlempty = ''\n");
	cr_assert_str_eq(d.kv[0].str, "q\" b\\ n\n t\t e\xc3\xa9 x\xf0\x9f\x98\x80");
	cr_assert_str_eq(d.kv[1].str, "");
	cr_assert_str_eq(d.kv[2].str, "");
	sbx_toml_free(&d);
}

Test(toml, integers)
{
	struct sbx_toml_doc d =
	    parse_ok("a = 0\nb = 9223372036854775807\nc = -9223372036854775808\n"
		     "d = 1_000_000\ne = -0\n");
	cr_assert_eq(d.kv[0].i, 0);
	cr_assert_eq(d.kv[1].i, INT64_MAX);
	cr_assert_eq(d.kv[2].i, INT64_MIN);
	cr_assert_eq(d.kv[3].i, 1000000);
	cr_assert_eq(d.kv[4].i, 0);
	sbx_toml_free(&d);
}

Test(toml, bom_and_no_final_newline)
{
	struct sbx_toml_doc d = parse_ok("\xef\xbb\xbfk = 'v'");
	cr_assert_str_eq(d.kv[0].key, "k");
	cr_assert_str_eq(d.kv[0].str, "v");
	sbx_toml_free(&d);
}

Test(toml, empty_document)
{
	struct sbx_toml_doc d = parse_ok("");
	cr_assert_eq(d.n_kv, 0);
	sbx_toml_free(&d);
	d = parse_ok("\n\n# only comments\n   \n");
	cr_assert_eq(d.n_kv, 0);
	sbx_toml_free(&d);
}

Test(toml, syntax_errors_name_the_line)
{
	toml_fails("a = 1\na = 2\n", "t.toml:2: key `a` defined twice (first on line 1)");
	toml_fails("[x]\n[y]\n[x]\n", "t.toml:3: table [x] defined twice (first on line 1)");
	toml_fails("a = [1, 2]\n", "t.toml:1: key `a`: arrays are not supported");
	toml_fails("a = {b = 1}\n", "t.toml:1: key `a`: inline tables are not supported");
	toml_fails("a = 1.5\n", "t.toml:1: key `a`: floats are not supported");
	toml_fails("a = 1e3\n", "floats are not supported");
	toml_fails("a = inf\n", "bad value (strings need quotes)");
	toml_fails("a = +nan\n", "floats are not supported");
	toml_fails("a = 1979-05-27\n", "dates and times are not supported");
	toml_fails("a = 07:32:00\n", "dates and times are not supported");
	toml_fails("a = 0x1f\n", "only decimal integers are supported");
	toml_fails("a = 0755\n", "leading zeros are not allowed");
	toml_fails("a = 1__0\n", "bad integer");
	toml_fails("a = 10_\n", "key `a`: bad integer");
	toml_fails("a = 9223372036854775808\n", "integer out of range");
	toml_fails("a = -9223372036854775809\n", "integer out of range");
	toml_fails("a = \"open\n", "t.toml:1: key `a`: unterminated string");
	toml_fails("a = \"bad \\q\"\n", "key `a`: bad escape in string");
	toml_fails("a = \"\\u00\"\n", "bad \\u escape");
	toml_fails("a = \"\\ud800\"\n", "bad unicode escape");
	toml_fails("a = \"\"\"multi\"\"\"\n", "multi-line strings are not supported");
	toml_fails("a = '''multi'''\n", "multi-line strings are not supported");
	toml_fails("a = \"tab\tok but bell\a\"\n", "control character in string");
	toml_fails("a\n", "t.toml:1: expected `=` after key `a`");
	toml_fails("a =\n", "key `a` has no value");
	toml_fails("a = 1 2\n", "unexpected `2` (expected the end of the line)");
	toml_fails("a = \"x\" y\n", "unexpected `y`");
	toml_fails("a.b = 1\n", "dotted keys (`a.`) are not supported");
	toml_fails("\"a\" = 1\n", "quoted keys are not supported");
	toml_fails("a = yes\n", "key `a`: bad value (strings need quotes)");
	toml_fails("a = truex\n", "bad value (strings need quotes)");
	toml_fails("[[a]]\n", "arrays of tables ([[...]]) are not supported");
	toml_fails("[a\n", "bad table header (expected `]`)");
	toml_fails("[]\n", "bad table name");
	toml_fails("[\"a\"]\n", "quoted table names are not supported");
	toml_fails("[a] b = 1\n", "unexpected `b`");
	toml_fails("= 1\n", "unexpected `=` (expected a key)");
	toml_fails("# bell \a\n", "control character in comment");
	toml_fails("\n\n\nx = @\n", "t.toml:4: key `x`: bad value");
}

Test(toml, nul_byte)
{
	struct sbx_toml_doc d;
	kc_err *e = NULL;
	cr_assert_lt(sbx_toml_parse("a = 1\0b", 7, "t.toml", &d, &e), 0);
	cr_assert_str_eq(kc_err_msg(e), "t.toml: NUL byte in file");
	kc_err_free(e);
}

/* ------------------------------------------------------------------ config */

/* vmm/sandbox/config_clh.toml as Kuasar ships it (installed as
 * /var/lib/kuasar/config.toml). */
static const char kuasar_clh[] = "[sandbox]\n"
				 "log_level = \"info\"\n"
				 "enable_tracing = false\n"
				 "\n"
				 "[hypervisor]\n"
				 "path = \"/usr/local/bin/cloud-hypervisor\"\n"
				 "vcpus = 1\n"
				 "memory_in_mb = 1024\n"
				 "kernel_path = \"/var/lib/kuasar/vmlinux.bin\"\n"
				 "image_path = \"/var/lib/kuasar/kuasar.img\"\n"
				 "initrd_path = \"\"\n"
				 "kernel_params = \"\"\n"
				 "hugepages = false\n"
				 "entropy_source = \"/dev/urandom\"\n"
				 "debug = false\n"
				 "\n"
				 "[hypervisor.task]\n"
				 "debug = false\n"
				 "enable_tracing = false\n"
				 "\n"
				 "[hypervisor.virtiofsd]\n"
				 "path = \"/usr/local/bin/virtiofsd\"\n"
				 "log_level = \"info\"\n"
				 "cache = \"never\"\n"
				 "thread_pool_size = 4\n"
				 "syslog = true\n";

Test(config, kuasar_config_clh_as_shipped)
{
	struct sbx_config c = cfg_ok(kuasar_clh);

	cr_assert_eq(c.type, SBX_HV_CLH);
	cr_assert_str_eq(c.log_level, "info");
	cr_assert_str_eq(c.path, "/usr/local/bin/cloud-hypervisor");
	cr_assert_eq(c.vcpus, 1);
	cr_assert_eq(c.memory_in_mb, 1024);
	cr_assert_str_eq(c.kernel_path, "/var/lib/kuasar/vmlinux.bin");
	cr_assert_str_eq(c.image_path, "/var/lib/kuasar/kuasar.img");
	cr_assert_str_eq(c.initrd_path, "");
	cr_assert_str_eq(c.kernel_params, "");
	cr_assert(!c.hugepages && !c.debug && !c.task_debug && !c.task_enable_tracing);
	cr_assert_str_eq(c.entropy_source, "/dev/urandom");
	cr_assert_eq(c.vfs_flavour, SBX_VFS_RUST);
	cr_assert_str_eq(c.vfs_path, "/usr/local/bin/virtiofsd");
	cr_assert_str_eq(c.vfs_log_level, "info");
	cr_assert_str_eq(c.vfs_cache, "never");
	cr_assert_eq(c.vfs_thread_pool_size, 4);
	cr_assert(c.vfs_syslog);
	sbx_config_free(&c);
}

Test(config, defaults_follow_the_type)
{
	struct sbx_config c = cfg_ok("[hypervisor]\ninitrd_path = \"/i\"\n");
	cr_assert_eq(c.type, SBX_HV_CLH);
	cr_assert_str_eq(c.path, "/usr/local/bin/cloud-hypervisor");
	cr_assert_eq(c.vfs_flavour, SBX_VFS_RUST);
	cr_assert_str_eq(c.vfs_cache, "never");
	cr_assert_eq(c.start_timeout_secs, 45);
	cr_assert_eq(c.stop_timeout_secs, 10);
	cr_assert_eq(c.memory_in_mb, 1024);
	cr_assert(!c.vfs_syslog);
	sbx_config_free(&c);

	c = cfg_ok("[hypervisor]\ntype = \"qemu\"\ninitrd_path = \"/i\"\n");
	cr_assert_eq(c.type, SBX_HV_QEMU);
	cr_assert_str_eq(c.path, "/usr/bin/qemu-system-x86_64");
	cr_assert_eq(c.vfs_flavour, SBX_VFS_C);
	cr_assert_str_eq(c.vfs_path, "/usr/lib/qemu/virtiofsd");
	cr_assert_str_eq(c.vfs_cache, "auto");
	cr_assert_eq(c.machine, SBX_MACHINE_PC);
	cr_assert_eq(c.accel, SBX_ACCEL_AUTO);
	cr_assert_eq(c.vsock, SBX_VSOCK_AUTO);
	cr_assert_str_eq(c.vhost_device_vsock, "/usr/bin/vhost-device-vsock");
	sbx_config_free(&c);

	/* The flavour chooses the virtiofsd defaults, whatever the type. */
	c = cfg_ok("[hypervisor]\ntype = \"clh\"\ninitrd_path = \"/i\"\n"
		   "[hypervisor.virtiofsd]\nflavour = \"c\"\n");
	cr_assert_eq(c.type, SBX_HV_CLH);
	cr_assert_eq(c.vfs_flavour, SBX_VFS_C);
	cr_assert_str_eq(c.vfs_path, "/usr/lib/qemu/virtiofsd");
	sbx_config_free(&c);
}

Test(config, qemu_keys)
{
	struct sbx_config c = cfg_ok("[sandbox]\nlog_level = \"debug\"\nstart_timeout_secs = 90\n"
				     "stop_timeout_secs = 5\n"
				     "[hypervisor]\ntype = \"qemu\"\npath = \"/opt/q/qemu\"\n"
				     "vcpus = 2\nmemory_in_mb = 512\nkernel_path = \"/k\"\n"
				     "initrd_path = \"/i\"\nkernel_params = \"task.debug a=b\"\n"
				     "hugepages = true\nentropy_source = \"\"\ndebug = true\n"
				     "[hypervisor.task]\ndebug = true\n"
				     "[hypervisor.virtiofsd]\ncache = \"never\"\nlog_level = "
				     "\"error\"\nthread_pool_size = 0\n"
				     "[hypervisor.qemu]\nmachine = \"microvm\"\naccel = \"tcg\"\n"
				     "vsock = \"vhost-user\"\nvhost_device_vsock = \"/v/vdv\"\n");
	cr_assert_str_eq(c.log_level, "debug");
	cr_assert_eq(c.start_timeout_secs, 90);
	cr_assert_eq(c.stop_timeout_secs, 5);
	cr_assert_str_eq(c.path, "/opt/q/qemu");
	cr_assert_eq(c.vcpus, 2);
	cr_assert_eq(c.memory_in_mb, 512);
	cr_assert_str_eq(c.kernel_params, "task.debug a=b");
	cr_assert(c.hugepages && c.debug && c.task_debug);
	cr_assert_str_eq(c.entropy_source, "");
	cr_assert_str_eq(c.vfs_cache, "never");
	cr_assert_str_eq(c.vfs_log_level, "error");
	cr_assert_eq(c.vfs_thread_pool_size, 0);
	cr_assert_eq(c.machine, SBX_MACHINE_MICROVM);
	cr_assert_eq(c.accel, SBX_ACCEL_TCG);
	cr_assert_eq(c.vsock, SBX_VSOCK_VHOST_USER);
	cr_assert_str_eq(c.vhost_device_vsock, "/v/vdv");
	sbx_config_free(&c);
}

Test(config, errors_name_file_line_and_key)
{
	cfg_fails("[hypervisor]\ninitrd_path = \"/i\"\nvcpu = 2\n",
		  "config.toml:3: [hypervisor] vcpu: unknown key");
	cfg_fails("log_level = \"info\"\n", "config.toml:1: log_level: unknown key");
	cfg_fails("[hypervisor.network]\n", "config.toml:1: unknown table [hypervisor.network]");
	cfg_fails("[hypervisor]\nvcpus = \"2\"\n",
		  "config.toml:2: [hypervisor] vcpus: must be an integer, not a string");
	cfg_fails("[hypervisor]\nhugepages = 1\n",
		  "config.toml:2: [hypervisor] hugepages: must be a boolean, not an integer");
	cfg_fails("[hypervisor]\npath = true\n",
		  "config.toml:2: [hypervisor] path: must be a string, not a boolean");
	cfg_fails("[hypervisor]\nvcpus = 0\n",
		  "config.toml:2: [hypervisor] vcpus: 0 is out of range [1, 255]");
	cfg_fails("[hypervisor]\nvcpus = 256\n",
		  "config.toml:2: [hypervisor] vcpus: 256 is out of range [1, 255]");
	cfg_fails("[hypervisor]\nmemory_in_mb = 63\n",
		  "config.toml:2: [hypervisor] memory_in_mb: 63 is out of range [64, 1048576]");
	cfg_fails("[sandbox]\nstart_timeout_secs = 0\n",
		  "config.toml:2: [sandbox] start_timeout_secs: 0 is out of range [1, 3600]");
	cfg_fails("[hypervisor]\ntype = \"firecracker\"\n",
		  "config.toml:2: [hypervisor] type: must be \"cloud-hypervisor\" (or \"clh\") or "
		  "\"qemu\"");
	cfg_fails("[sandbox]\nlog_level = \"loud\"\n",
		  "config.toml:2: [sandbox] log_level: must be error, warn, info, debug or trace");
	cfg_fails("[hypervisor]\nkernel_path = \"vmlinux\"\n",
		  "config.toml:2: [hypervisor] kernel_path: must be an absolute path");
	cfg_fails("[hypervisor]\ninitrd_path = \"/a,b\"\n",
		  "config.toml:2: [hypervisor] initrd_path: must not contain commas or newlines");
	cfg_fails("[hypervisor]\nkernel_params = \"a=\\\"b\\\"\"\n",
		  "config.toml:2: [hypervisor] kernel_params: must not contain newlines or double "
		  "quotes");
	cfg_fails("[hypervisor.qemu]\nmachine = \"q35\"\n",
		  "config.toml:2: [hypervisor.qemu] machine: must be \"pc\" or \"microvm\"");
	cfg_fails("[hypervisor.qemu]\naccel = \"hvf\"\n",
		  "config.toml:2: [hypervisor.qemu] accel: must be \"auto\", \"kvm\" or \"tcg\"");
	cfg_fails("[hypervisor.qemu]\nvsock = \"vsock\"\n",
		  "config.toml:2: [hypervisor.qemu] vsock: must be \"auto\", \"vhost\" or "
		  "\"vhost-user\"");
	cfg_fails("[hypervisor.virtiofsd]\nflavour = \"go\"\n",
		  "config.toml:2: [hypervisor.virtiofsd] flavour: must be \"rust\" or \"c\"");
	cfg_fails("[hypervisor.virtiofsd]\ncache = \"none\"\n",
		  "config.toml:2: [hypervisor.virtiofsd] cache: must be never, auto, always or "
		  "metadata (rust virtiofsd)");
	cfg_fails("[hypervisor]\ntype = \"qemu\"\n[hypervisor.virtiofsd]\ncache = \"metadata\"\n",
		  "config.toml:4: [hypervisor.virtiofsd] cache: must be never (= none), none, auto "
		  "or always (C virtiofsd)");
	cfg_fails("[hypervisor.virtiofsd]\nlog_level = \"err\"\n",
		  "config.toml:2: [hypervisor.virtiofsd] log_level: must be error, warn, info, "
		  "debug, trace or off (rust virtiofsd)");
	cfg_fails("[hypervisor.virtiofsd]\nthread_pool_size = -1\n",
		  "config.toml:2: [hypervisor.virtiofsd] thread_pool_size: -1 is out of range [0, "
		  "1024]");
	/* TOML errors come through with the file name. */
	cfg_fails("[hypervisor]\nvcpus = 1.5\n",
		  "config.toml:2: key `vcpus`: floats are not supported");
}

Test(config, requirements_across_keys)
{
	cfg_fails("[hypervisor]\ntype = \"qemu\"\n",
		  "config.toml: [hypervisor] initrd_path: required with type = \"qemu\" (the guest "
		  "root is an initramfs)");
	cfg_fails("[hypervisor]\ntype = \"qemu\"\ninitrd_path = \"/i\"\nimage_path = \"/img\"\n",
		  "config.toml: [hypervisor] image_path: only supported with type = "
		  "\"cloud-hypervisor\" (leave it empty for qemu)");
	cfg_fails("[hypervisor]\nimage_path = \"\"\n",
		  "config.toml: [hypervisor] initrd_path or image_path: one of them is required");
}

Test(config, load_from_file)
{
	struct sbx_config c;
	kc_err *e = NULL;

	cr_assert_lt(sbx_config_load("/nonexistent/config.toml", &c, &e), 0);
	cr_assert_str_eq(kc_err_msg(e),
			 "config: open `/nonexistent/config.toml`: No such file or directory");
	kc_err_free(e);
}

/* The sample configs we ship stay valid; so does make install's template. */
Test(config, shipped_samples_parse)
{
	_cleanup_free_ char *in = NULL;
	kc_err *ie = NULL;
	const char *files[] = {"host/sandboxer/config.toml.sample",
			       "host/sandboxer/config-qemu.toml.sample"};
	for (size_t i = 0; i < KC_ARRAY_SIZE(files); i++) {
		struct sbx_config c;
		kc_err *e = NULL;
		if (access(files[i], R_OK) < 0)
			cr_skip_test("skipped: run from the source tree (%s)", files[i]);
		cr_assert_eq(sbx_config_load(files[i], &c, &e), 0, "%s", kc_err_msg(e));
		cr_assert_eq(c.type, i == 0 ? SBX_HV_CLH : SBX_HV_QEMU);
		sbx_config_free(&c);
	}
	if (kc_read_file("host/sandboxer/config.toml.in", 1 << 20, &in, NULL, NULL) == 0) {
		struct sbx_config c;
		char *p;
		while ((p = strstr(in, "@DATADIR@")))
			memcpy(p, "/usr/shar", 9); /* same length */
		cr_assert_eq(sbx_config_parse(in, strlen(in), "config.toml.in", &c, &ie), 0, "%s",
			     kc_err_msg(ie));
		cr_assert_str_eq(c.kernel_path, "/usr/shar/vmlinux");
		sbx_config_free(&c);
	}
}
