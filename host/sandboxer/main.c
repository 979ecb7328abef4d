/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmm-sandboxer: the node daemon that runs one microVM per pod and serves
 * containerd's sandbox Controller API for them (Kuasar's vmm-sandboxer,
 * same command line and config file). See docs/sandboxer.md.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "argv.h"
#include "containerd/task/v2/shim.pb-c.h"
#include "taskep.h"
#include "controller.h"
#include "disk_rpc.h"
#include "endpoint.h"
#include "grpc.h"
#include "log.h"
#include "sandbox.h"
#include "state.h"
#include "vm.h"

#define DEFAULT_LISTEN "/run/vmm-sandboxer.sock"
#define DEFAULT_DIR    "/run/kuasar-vmm"
#define DEFAULT_CONFIG "/var/lib/kuasar/config.toml"

static void usage(FILE *f)
{
	fprintf(f, "usage: vmm-sandboxer [--listen PATH] [--dir DIR] [--config FILE]\n"
		   "                     [--events-address PATH]\n"
		   "                     [--log-level error|warn|info|debug|trace] [--version]\n"
		   "  --listen     Controller API socket (ttrpc and gRPC), default " DEFAULT_LISTEN
		   "\n"
		   "  --dir        sandbox directories, default " DEFAULT_DIR "\n"
		   "  --config     TOML config (Kuasar's keys), default " DEFAULT_CONFIG "\n"
		   "  --events-address  containerd's ttrpc socket, for the task events of\n"
		   "               sandboxes containerd 2.x drives itself (\"\": none),\n"
		   "               default " SBX_EVENTS_DEFAULT "\n"
		   "  --log-level  overrides [sandbox] log_level\n");
}

static void on_signal(kc_watch *w, int fd, uint32_t events, void *ud)
{
	struct sbx_daemon *d = ud;
	struct signalfd_siginfo si;
	(void)w;
	(void)events;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			sbx_vm_reap(d);
			continue;
		}
		log_info("signal %u: exiting (sandboxes keep running)", si.ssi_signo);
		kc_loop_quit(d->loop);
	}
}

/* systemd Type=notify, as Kuasar's unit uses; a no-op elsewhere. */
static void sd_notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	static const char msg[] = "READY=1";
	socklen_t len;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return;
	strcpy(sa.sun_path, path);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)sendto(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	close(fd);
}

static void raise_nofile(void)
{
	struct rlimit rl;
	/* Three pidfds per pod plus sockets: the soft default (1024) is low. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Missing pieces are reported at startup, but only Start fails on them: the
 * kernel or a binary may be installed after the daemon. */
static void warn_missing(const struct sbx_config *c)
{
	const char *files[][2] = {{c->kernel_path, "[hypervisor] kernel_path"},
				  {c->initrd_path, "[hypervisor] initrd_path"},
				  {c->image_path, "[hypervisor] image_path"}};
	const char *bins[][2] = {{c->path, "[hypervisor] path"},
				 {c->vfs_path, "[hypervisor.virtiofsd] path"}};

	for (size_t i = 0; i < KC_ARRAY_SIZE(files); i++)
		if (*files[i][0] && access(files[i][0], R_OK) < 0)
			log_warn("%s `%s`: %m (sandboxes will not start)", files[i][1],
				 files[i][0]);
	for (size_t i = 0; i < KC_ARRAY_SIZE(bins); i++)
		if (access(bins[i][0], X_OK) < 0)
			log_warn("%s `%s`: %m (sandboxes will not start)", bins[i][1], bins[i][0]);
}

static void on_endpoint_reopened(struct sandbox *s, kc_err *err, void *ud)
{
	(void)ud;
	if (err)
		log_error("sandbox %s: task endpoint not served again: %s", s->id, kc_err_msg(err));
}

static void on_recovered(struct sandbox *s, kc_err *err, void *ud)
{
	struct sbx_daemon *d = ud;
	_cleanup_err_ kc_err *e = NULL;

	d->n_recovering--;
	if (!err) {
		log_info("sandbox %s: recovered (%s)", s->id, sbx_state_name(s->state));
		/* containerd's task endpoint, with the tasks it had. */
		if (s->task_ns && s->state == SBX_RUNNING &&
		    sbx_taskep_open(s, s->task_ns, on_endpoint_reopened, NULL, &e) < 0)
			log_error("sandbox %s: %s", s->id, kc_err_msg(e));
		return;
	}
	log_warn("sandbox %s: not recovered, cleaning it up: %s", s->id, kc_err_msg(err));
	if (sbx_controller_destroy(s, &e) < 0)
		log_error("sandbox %s: %s", s->id, kc_err_msg(e));
}

/* Every <dir>/<id> with a sandbox.json: adopt or clean up, all at once. */
static int recover(struct sbx_daemon *d, kc_err **err)
{
	DIR *dir = opendir(d->dir);
	struct dirent *de;

	if (!dir)
		return kc_err_sys(err, "open `%s`", d->dir);
	while ((de = readdir(dir))) {
		_cleanup_err_ kc_err *e = NULL;
		_cleanup_free_ char *base = NULL, *state = NULL;
		struct sandbox *s;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		base = xasprintf("%s/%s", d->dir, de->d_name);
		if (lstat(base, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (sbx_id_check(d, de->d_name, &e) < 0) {
			log_warn("ignoring `%s`: %s", base, kc_err_msg(e));
			continue;
		}
		state = xasprintf("%s/" SBX_F_STATE, base);
		if (access(state, F_OK) < 0) {
			log_warn("removing `%s`: no " SBX_F_STATE " (an unfinished create)", base);
			if (sbx_dir_remove(base, &e) < 0)
				log_warn("%s", kc_err_msg(e));
			continue;
		}
		if (sbx_state_load(d, de->d_name, &s, &e) < 0) {
			log_error("sandbox %s: cannot recover, leaving it alone: %s", de->d_name,
				  kc_err_msg(e));
			continue;
		}
		kc_list_add_tail(&d->sandboxes, &s->node);
		d->n_sandboxes++;
		d->n_recovering++;
		sbx_vm_recover(s, on_recovered, d);
	}
	closedir(dir);
	while (d->n_recovering && !kc_loop_quitting(d->loop))
		if (kc_loop_iterate(d->loop, UINT64_MAX, err) < 0)
			return kc_err_retp(err);
	return 0;
}

static int setup_dir(struct sbx_daemon *d, const char *dir, kc_err **err)
{
	char real[PATH_MAX];

	if (kc_mkdir_p(dir, 0711, err) < 0)
		return kc_err_retp(err);
	if (!realpath(dir, real))
		return kc_err_sys(err, "realpath `%s`", dir);
	/* Sandbox paths end up in VMM option lists (key=value,...). */
	if (strpbrk(real, ",\n"))
		return kc_err_set(err, EINVAL, "--dir `%s`: must not contain commas", real);
	if (strlen(real) + 3 + SBX_F_NAME_MAX >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return kc_err_set(err, ENAMETOOLONG,
				  "--dir `%s`: too long for the sockets below it (unix socket "
				  "paths are limited to 107 bytes)",
				  real);
	d->dir = xstrdup(real);
	return 0;
}

/* containerd runs `<binary> ... delete` (the binary our task endpoints name
 * in a bundle's shim-binary-path) only when, after its restart, a task's
 * endpoint no longer answers: the pod's VM is gone, so is the task. */
static int shim_delete(void)
{
	Containerd__Task__V2__DeleteResponse r = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	uint64_t now = kc_realtime_ns();
	size_t len = 0;
	_cleanup_free_ uint8_t *buf = NULL;

	ts.seconds = (int64_t)(now / 1000000000);
	ts.nanos = (int32_t)(now % 1000000000);
	r.exit_status = 255;
	r.exited_at = &ts;
	buf = kc_pb_pack(&r.base, &len);
	return kc_write_all(STDOUT_FILENO, buf, len) < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
					     {"dir", required_argument, NULL, 'd'},
					     {"config", required_argument, NULL, 'c'},
					     {"log-level", required_argument, NULL, 'L'},
					     {"events-address", required_argument, NULL, 'E'},
					     {"version", no_argument, NULL, 'V'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *listen_addr = DEFAULT_LISTEN, *dir = DEFAULT_DIR, *config = DEFAULT_CONFIG;
	const char *level = NULL, *events = SBX_EVENTS_DEFAULT;
	struct sbx_daemon d = {0};
	kc_err *err = NULL;
	kc_watch *sigw = NULL;
	struct kc_endpoint ep;
	sigset_t mask;
	int sfd = -1, lfd, opt, rc = 1;

	kc_log_init("vmm-sandboxer", STDERR_FILENO);
	if (argc > 1 && !strcmp(argv[argc - 1], "delete"))
		return shim_delete();
	while ((opt = getopt_long(argc, argv, "Vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			listen_addr = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'L':
			level = optarg;
			break;
		case 'E':
			events = optarg;
			break;
		case 'V':
			printf("vmm-sandboxer %s\n", KC_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (level && kc_log_parse_level(level) < 0) {
		fprintf(stderr,
			"vmm-sandboxer: --log-level `%s`: want error, warn, info, debug or "
			"trace\n",
			level);
		return 2;
	}
	if (sbx_config_load(config, &d.cfg, &err) < 0) {
		log_error("%s", kc_err_msg(err));
		kc_err_free(err);
		return 1;
	}
	kc_log_set_level((enum kc_log_level)kc_log_parse_level(level ? level : d.cfg.log_level));
	if (kc_endpoint_parse(listen_addr, &ep, &err) < 0 || ep.kind != KC_EP_UNIX) {
		log_error("--listen `%s`: %s", listen_addr,
			  err ? kc_err_msg(err) : "not a unix path");
		goto out;
	}
	if (setup_dir(&d, dir, &err) < 0) {
		log_error("%s", kc_err_msg(err));
		goto out;
	}
	kc_list_init(&d.sandboxes);
	d.events_addr = xstrdup(events);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	/* Orphans of our helpers (virtiofsd's sandbox child) come to us. */
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	raise_nofile();
	if (sfd < 0 || kc_loop_new(&d.loop, &err) < 0 ||
	    kc_loop_watch(d.loop, sfd, EPOLLIN, on_signal, &d, &sigw, &err) < 0) {
		log_error("%s", err ? kc_err_msg(err) : "signalfd failed");
		goto out;
	}
	if (d.cfg.type == SBX_HV_QEMU) {
		d.kvm = sbx_qemu_use_kvm(&d.cfg);
		d.vhost_user = sbx_qemu_use_vhost_user(&d.cfg);
		/* Kernel vhost for the pod's NICs when the host has it. */
		d.vhost_net = access("/dev/vhost-net", R_OK | W_OK) == 0;
		log_info("qemu: -accel %s, vsock via %s, pod NICs %s", d.kvm ? "kvm" : "tcg",
			 d.vhost_user ? "vhost-device-vsock (hybrid vsock)" : "kernel vhost-vsock",
			 d.vhost_net ? "with vhost-net" : "in QEMU (no /dev/vhost-net)");
	}
	warn_missing(&d.cfg);
	if (recover(&d, &err) < 0) {
		log_error("recovery: %s", kc_err_msg(err));
		goto out;
	}
	if (kc_loop_quitting(d.loop)) {
		rc = 0;
		goto out;
	}
	lfd = kc_listen(&ep, &err);
	if (lfd < 0 || ttrpc_server_new(d.loop, &d.srv, &err) < 0) {
		if (lfd >= 0)
			close(lfd);
		log_error("listen: %s", kc_err_msg(err));
		goto out;
	}
	sbx_controller_register(d.srv, &d);
	sbx_disk_rpc_register(d.srv, &d);
	/* Our shim speaks ttrpc, stock containerd 2.x gRPC: both on one socket. */
	if (grpc_server_attach(d.srv, &err) < 0 || ttrpc_server_listen(d.srv, lfd, &err) < 0) {
		log_error("listen: %s", kc_err_msg(err));
		goto out;
	}
	log_info("vmm-sandboxer %s (%s) serving ttrpc and gRPC on %s, %zu sandbox(es) in %s",
		 KC_VERSION, sbx_hv_name(d.cfg.type), ep.path, d.n_sandboxes, d.dir);
	sd_notify_ready();
	if (kc_loop_run(d.loop, &err) < 0) {
		log_error("%s", kc_err_msg(err));
		goto out;
	}
	rc = 0;
out:
	kc_err_free(err);
	ttrpc_server_free(d.srv);
	if (d.srv)
		(void)unlink(ep.path);
	while (!kc_list_empty(&d.sandboxes)) {
		struct sandbox *s = kc_container_of(d.sandboxes.next, struct sandbox, node);
		sbx_vm_release(s);
		sbx_free(s);
	}
	kc_watch_free(sigw);
	kc_loop_free(d.loop);
	if (sfd >= 0)
		close(sfd);
	free(d.dir);
	free(d.events_addr);
	sbx_config_free(&d.cfg);
	return rc;
}
