/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmm-task: the guest agent. As PID 1 of a VM it boots the guest and serves
 * ttrpc on vsock port 1024; as an ordinary process (`--listen ADDR`) it runs
 * containers on the host, which is how its container engine is tested
 * without a VM.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "agent.h"
#include "boot.h"
#include "cmdline.h"
#include "debug.h"
#include "endpoint.h"
#include "log.h"
#include "events.h"
#include "oom.h"
#include "peer.h"
#include "procsetup.h"
#include "reaper.h"
#include "streams.h"
#include "svc.h"

#define DEFAULT_VM_LISTEN "vsock://-1:1024"

static void usage(FILE *f)
{
	fprintf(f, "usage: vmm-task [--listen ADDR] [--root DIR] [--log-level LEVEL]\n"
		   "                [--drain-timeout MS] [--version]\n"
		   "As PID 1 it boots the VM and listens on " DEFAULT_VM_LISTEN ".\n"
		   "ADDR: unix:///path, vsock://CID:PORT\n");
}

static void on_exit_cb(pid_t pid, int status, void *ud)
{
	(void)ud;
	kc_agent_on_exit(pid, status);
}

static void on_signal(int sig, void *ud)
{
	(void)ud;
	if (kc_agent->host_mode && (sig == SIGTERM || sig == SIGINT)) {
		log_info("signal %d: stopping", sig);
		kc_agent->shutting_down = true;
		kc_agent_kill_all();
		kc_loop_quit(kc_agent->loop);
		return;
	}
	/* PID 1 never stops on a signal; the host powers us off via Shutdown. */
	log_debug("ignoring signal %d", sig);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"root", required_argument, NULL, 'r'},
	    {"log-level", required_argument, NULL, 'L'},
	    {"drain-timeout", required_argument, NULL, 'd'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct kc_agent agent = {0};
	struct kc_cmdline cmdline = {.log_level = -1};
	const char *listen_addr = NULL;
	kc_err *err = NULL;
	int c, lfd;
	bool pid1 = getpid() == 1;
	uint64_t drain_ms = 5000;

	kc_log_init("vmm-task", STDERR_FILENO);
	while ((c = getopt_long(argc, argv, "l:r:L:d:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen_addr = optarg;
			break;
		case 'r':
			agent.root_dir = optarg;
			break;
		case 'L':
			if (kc_log_parse_level(optarg) < 0) {
				fprintf(stderr, "vmm-task: --log-level %s: unknown level\n",
					optarg);
				return 2;
			}
			kc_log_set_level((enum kc_log_level)kc_log_parse_level(optarg));
			break;
		case 'd':
			if (kc_parse_u64(optarg, &drain_ms) < 0) {
				fprintf(stderr, "vmm-task: --drain-timeout %s: expected ms\n",
					optarg);
				return 2;
			}
			break;
		case 'V':
			printf("vmm-task %s\n", KC_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	kc_agent = &agent;
	kc_list_init(&agent.ctrs);
	agent.host_mode = !pid1;
	if (pid1) {
		char *errors = NULL;
		struct rlimit nofile;
		if (kc_boot_init(&cmdline, &errors) > 0)
			agent.init_error = errors;
		if (kc_boot_nofile_default(&nofile))
			kc_proc_set_base_nofile(&nofile);
		if (cmdline.listen)
			listen_addr = cmdline.listen;
		if (cmdline.drain_timeout_ms)
			drain_ms = cmdline.drain_timeout_ms;
	} else {
		/* Orphaned container processes must be reaped by us. */
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
		if (!listen_addr) {
			fprintf(stderr, "vmm-task: --listen is required when not PID 1\n");
			usage(stderr);
			return 2;
		}
	}
	if (!listen_addr)
		listen_addr = DEFAULT_VM_LISTEN;
	if (!agent.root_dir)
		agent.root_dir = "/run/vmm-task";
	agent.drain_timeout_ns = drain_ms * KC_NSEC_PER_MSEC;

	/* From here on, PID 1 must never exit: failures are logged and we keep
	 * serving, so the host can ask Check what went wrong. */
	if (kc_loop_new(&agent.loop, &err) < 0)
		goto fatal;
	if (kc_reaper_init(agent.loop, on_exit_cb, on_signal, NULL, &err) < 0)
		goto fatal;
	if (kc_cgroup_find_root(&agent.cgroup_root, &err) < 0) {
		log_warn("no cgroup2 hierarchy, containers run without cgroups: %s",
			 kc_err_msg(err));
		kc_err_freep(&err);
	}
	if (kc_oom_init(agent.loop, &err) < 0) {
		log_warn("OOM events disabled: %s", kc_err_msg(err));
		kc_err_freep(&err);
	}
	if (ttrpc_server_new(agent.loop, &agent.server, &err) < 0)
		goto fatal;
	/* Over vsock only the host may call (peer.h). */
	ttrpc_server_set_peer_filter(agent.server, kc_peer_allowed, "ttrpc API");
	ttrpc_server_register(agent.server, &kc_task_service, NULL);
	ttrpc_server_register(agent.server, &kc_task_service_v3, NULL);
	ttrpc_server_register(agent.server, &kc_sandbox_service, NULL);
	ttrpc_server_register(agent.server, &kc_streaming_service, NULL);
	if (pid1 && cmdline.debug &&
	    kc_debug_console_start(agent.loop, cmdline.debug_shell, &err) < 0) {
		log_warn("debug console: %s", kc_err_msg(err));
		kc_err_freep(&err);
	}
	lfd = kc_listen_addr(listen_addr, &err);
	if (lfd < 0 || ttrpc_server_listen(agent.server, lfd, &err) < 0)
		goto fatal;
	log_info("vmm-task %s serving on %s%s%s", KC_VERSION, listen_addr,
		 agent.init_error ? "; init errors: " : "",
		 agent.init_error ? agent.init_error : "");
	for (;;) {
		if (kc_loop_run(agent.loop, &err) < 0) {
			log_error("event loop: %s", kc_err_msg(err));
			kc_err_freep(&err);
			if (!pid1)
				return 1;
			continue;
		}
		if (!pid1)
			break;
	}
	ttrpc_server_free(agent.server);
	kc_events_fini();
	kc_oom_fini();
	kc_streams_fini();
	kc_reaper_fini();
	kc_loop_free(agent.loop);
	free(agent.cgroup_root);
	kc_cmdline_clear(&cmdline);
	return 0;
fatal:
	log_error("%s", kc_err_msg(err));
	if (!pid1)
		return 1;
	/* Nothing can serve the host any more; keep PID 1 alive for the console. */
	for (;;)
		pause();
}
