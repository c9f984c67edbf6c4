// SPDX-License-Identifier: GPL-2.0-or-later
/* utsfs's main(): options, the state directory, the FUSE session and its loop. */
#include "daemon.h"
#include "device.h"
#include "log.h"
#include "ops.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_STATE_DIR "/run/utsfs"
/* Every user may browse; the kernel enforces the modes we report. */
#define ROOT_MOUNT_OPTIONS "-oallow_other,default_permissions,fsname=utsfs,subtype=utsfs"

struct utsfs_options {
	char *state_dir;
	char *restore;
	/*
	 * Non-option arguments: MOUNTPOINT, or SOURCE MOUNTPOINT as mount.fuse3
	 * passes them (`mount -t fuse.utsfs utsfs /ns`, fstab). Taken before
	 * libfuse sees them: it cannot resolve a dead mount point.
	 */
	GPtrArray *positional;
};

static const struct fuse_opt utsfs_opt_spec[] = {
	{ "state_dir=%s", offsetof(struct utsfs_options, state_dir), 0 },
	{ "restore=%s", offsetof(struct utsfs_options, restore), 0 },
	FUSE_OPT_END
};

static int take_positional(void *data, const char *arg, int key,
			   struct fuse_args *outargs G_GNUC_UNUSED)
{
	struct utsfs_options *conf = data;

	if (key != FUSE_OPT_KEY_NONOPT)
		return 1;
	g_ptr_array_add(conf->positional, g_strdup(arg));
	return 0;
}

/* Hand libfuse the mount point alone; the source is only a label. */
static const char *mountpoint_arg(struct utsfs_options *conf, struct fuse_args *args)
{
	const char *mountpoint;

	if (conf->positional->len == 0 || conf->positional->len > 2)
		return NULL;
	mountpoint = g_ptr_array_index(conf->positional, conf->positional->len - 1);
	return fuse_opt_add_arg(args, mountpoint) == 0 ? mountpoint : NULL;
}

static void usage(const char *progname)
{
	printf("usage: %s [options] [SOURCE] MOUNTPOINT\n"
	       "\n"
	       "UTS namespaces as a directory tree. Run as root.\n"
	       "\n"
	       "  mkdir MOUNT/NAME                    create a namespace named NAME\n"
	       "  echo web01 > MOUNT/NAME/hostname    set its hostname (domainname alike)\n"
	       "  cat MOUNT/NAME/id                   its nsfs inode number\n"
	       "  nsenter --uts=MOUNT/NAME/ns CMD     run CMD inside it\n"
	       "  mv MOUNT/A MOUNT/B, rmdir MOUNT/NAME\n"
	       "  grep . MOUNT/.all/*/hostname        every UTS namespace on the host, named\n"
	       "                                      or not, by its 64-bit id (read-only view)\n"
	       "  ln -s .all/ID MOUNT/NAME            name one of them\n"
	       "\n"
	       "utsfs options:\n"
	       "    -o state_dir=PATH      where names persist as bind mounts of nsfs\n"
	       "                           files (default " DEFAULT_STATE_DIR ")\n"
	       "    -o restore=PATH        keep a record of names, hostnames, domainnames,\n"
	       "                           owners and modes in PATH; at start, create the\n"
	       "                           names the state directory lacks (after a reboot)\n"
	       "\n"
	       "As root, utsfs mounts with allow_other,default_permissions.\n"
	       "\n",
	       progname);
}

/* libfuse cannot even resolve a dead mount point: clear it, so a restart needs no clean-up. */
static void clear_dead_mount(const char *mountpoint)
{
	int r = mountpoint ? nsops_clear_dead_mount(mountpoint) : 0;

	if (r > 0)
		g_info("cleared the dead FUSE mount on %s", mountpoint);
	else if (r < 0)
		g_warning("cannot clear the dead FUSE mount on %s: %s", mountpoint, g_strerror(-r));
}

static int utsfs_setup(struct utsfs *fs, const char *state_dir, const char *restore)
{
	g_autofree char *path = g_canonicalize_filename(state_dir, NULL);
	int r;

	clock_gettime(CLOCK_REALTIME, &fs->start_time);
	g_mutex_init(&fs->names_lock);
	g_rw_lock_init(&fs->rename_lock);
	nodes_init(&fs->nodes);
	allview_init(&fs->all, nodes_reserve(&fs->nodes));
	handles_init(&fs->handles);
	polls_init(&fs->polls);
	counters_init(&fs->counters);
	r = watch_init(&fs->watcher);
	if (r < 0)
		return r;
	fs->host_fd = nsops_open_host();
	if (fs->host_fd == -EPERM) {
		fprintf(stderr, "utsfs: cannot enter its own UTS namespace: %s (it needs "
				"CAP_SYS_ADMIN in the user namespace that owns it)\n",
			g_strerror(EPERM));
		return fs->host_fd;
	}
	if (fs->host_fd < 0) {
		fprintf(stderr, "utsfs: cannot open /proc/thread-self/ns/uts: %s\n",
			g_strerror(-fs->host_fd));
		return fs->host_fd;
	}
	r = nsops_statedir_open(path, &fs->state);
	if (r < 0) {
		fprintf(stderr, "utsfs: cannot use state directory %s: %s%s\n", path,
			g_strerror(-r), r == -EBUSY ? " (another utsfs uses it)" : "");
		return r;
	}
	r = meta_open(&fs->meta, &fs->state);
	if (r < 0)
		return r;
	if (restore) {
		r = record_restore(fs, restore);
		if (r < 0)
			return r;
		record_save(fs);
	}
	return 0;
}

static void utsfs_teardown(struct utsfs *fs)
{
	watch_stop(fs);
	/* Open files drop their polls as they are freed. */
	handles_free(&fs->handles);
	polls_free(&fs->polls);
	/* Changes made inside namespaces since the last event are kept too. */
	if (fs->state.dir_fd >= 0)
		record_save(fs);
	record_close(&fs->record);
	meta_close(&fs->meta);
	nsops_statedir_close(&fs->state);
	nsops_close_fd(&fs->host_fd);
	counters_free(&fs->counters);
	allview_free(&fs->all);
	nodes_free(&fs->nodes);
	g_rw_lock_clear(&fs->rename_lock);
	g_mutex_clear(&fs->names_lock);
}

static int run_loop(struct fuse_session *se, const struct fuse_cmdline_opts *opts)
{
	struct fuse_loop_config *cfg;
	int r;

	if (opts->singlethread)
		return fuse_session_loop(se);
	cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(cfg, opts->clone_fd);
	/* UINT_MAX means "not given"; libfuse 3.14 would print a warning for it. */
	if (opts->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(cfg, opts->max_idle_threads);
	fuse_loop_cfg_set_max_threads(cfg, opts->max_threads);
	r = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return r;
}

/*
 * libfuse's loop returns the signal that ended it (SIGTERM from systemd,
 * SIGINT from Ctrl-C): that is a clean stop, not a failure.
 */
static int loop_status(int r)
{
	/* Negative is the loop's own failure (-errno), never a signal. */
	return r == 0 || r == SIGTERM || r == SIGINT || r == SIGHUP ? 0 : 1;
}

/* Whether the paths given can be what they are for; says why not. */
static bool paths_are_usable(const struct utsfs_options *conf, const char *mountpoint)
{
	int r;

	/* An empty path would mean the working directory. */
	if (conf->state_dir && !*conf->state_dir) {
		fprintf(stderr, "utsfs: -o state_dir= needs a directory\n");
		return false;
	}
	if (conf->restore && !*conf->restore) {
		fprintf(stderr, "utsfs: -o restore= needs a file\n");
		return false;
	}
	r = nsops_mountpoint_check(mountpoint);
	if (r < 0)
		fprintf(stderr, "utsfs: cannot mount on %s: %s\n", mountpoint, g_strerror(-r));
	return r == 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts = { 0 };
	struct utsfs_options conf = { .positional = g_ptr_array_new_with_free_func(g_free) };
	/* What utsfs_teardown() closes before utsfs_setup() opened it. */
	struct utsfs fs = { .host_fd = -1, .state = { .lock_fd = -1, .dir_fd = -1 } };
	struct fuse_session *se;
	/* Until the command line says otherwise, messages go to the terminal too. */
	struct utsfs_log log = { .foreground = true };
	int ret = 1;

	g_set_prgname("utsfs");
	utsfs_log_init(&log);
	if (fuse_opt_parse(&args, &conf, utsfs_opt_spec, take_positional) != 0)
		goto out_args;
	if (conf.positional->len > 2) {
		fprintf(stderr, "utsfs: too many arguments\n"
				"Try '%s --help' for more information.\n", argv[0]);
		goto out_args;
	}
	clear_dead_mount(mountpoint_arg(&conf, &args));
	if (fuse_parse_cmdline(&args, &opts) != 0)
		goto out_args;
	if (opts.show_help) {
		usage(argv[0]);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = 0;
		goto out_opts;
	}
	if (opts.show_version) {
		printf("utsfs version %s\n", UTSFS_VERSION);
		fuse_lowlevel_version();
		ret = 0;
		goto out_opts;
	}
	if (!opts.mountpoint) {
		fprintf(stderr, "utsfs: no mount point given\n"
				"Try '%s --help' for more information.\n", argv[0]);
		goto out_opts;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "utsfs: must run as root: it creates UTS namespaces and mounts\n");
		goto out_opts;
	}
	if (!paths_are_usable(&conf, opts.mountpoint))
		goto out_opts;
	/*
	 * Every file and directory utsfs makes says its mode (0600 for what
	 * it trusts, 0700 and 0755 for directories): the umask it was started
	 * under must neither loosen (000) nor tighten (0277) them.
	 */
	umask(022);
	if (fuse_opt_add_arg(&args, ROOT_MOUNT_OPTIONS) != 0)
		goto out_opts;
	if (utsfs_setup(&fs, conf.state_dir ? conf.state_dir : DEFAULT_STATE_DIR,
			conf.restore) < 0)
		goto out_fs;

	se = fuse_session_new(&args, &utsfs_ops, sizeof(utsfs_ops), &fs);
	if (!se)
		goto out_fs;
	fs.se = se;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out_signals;
	if (device_attach(se) != 0)
		goto out_unmount;
	log.foreground = opts.foreground;
	fs.mount_dev = nsops_mount_device(opts.mountpoint, "fuse.utsfs");
	fs.mountpoint = opts.mountpoint;
	if (fuse_daemonize(opts.foreground) != 0)
		goto out_unmount;
	/* In the process that serves: a fork would leave the thread behind. */
	utsfs_log_start(&log);
	/* The record listens before the watcher looks at who listens. */
	record_start(&fs);
	watch_start(&fs);
	ret = loop_status(run_loop(se, &opts));
	/* Before the session goes: the watcher wakes polls through it. */
	watch_stop(&fs);
	/* Its last changes are saved by utsfs_teardown(), after everything else. */
	record_stop(&fs.record);
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_fs:
	utsfs_teardown(&fs);
out_opts:
	free(opts.mountpoint);
out_args:
	g_free(conf.state_dir);
	g_free(conf.restore);
	g_ptr_array_unref(conf.positional);
	fuse_opt_free_args(&args);
	utsfs_log_stop(&log);
	return ret;
}
