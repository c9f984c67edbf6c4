// SPDX-License-Identifier: GPL-2.0-or-later
/* Where utsfs's own messages go: the journal or syslog, and stderr in the foreground. */
#include "log.h"

#include <errno.h>
#include <syslog.h>
#include <unistd.h>

static const char *field_value(const GLogField *fields, gsize n, const char *key)
{
	for (gsize i = 0; i < n; i++)
		if (g_str_equal(fields[i].key, key) && fields[i].length < 0)
			return fields[i].value;
	return NULL;
}

/*
 * With neither a journal nor a syslog socket (containers, small VMs), each
 * message would cost a failing sendmsg, socket and connect, and glibc's
 * formatting: some 15 us, as much as the rest of a mkdir. After a message
 * found neither, the rest of that second's messages are dropped unsent
 * (they could only be lost anyway, unless a log daemon starts meanwhile).
 */
#define LOG_RETRY_SECONDS 1

/*
 * Sending blocks when the log daemon stops reading (a full /dev/log or
 * journal socket queue), and a request that logs would wait with it. So,
 * once the daemon serves (utsfs_log_start), a thread of its own sends; a
 * message finding LOG_QUEUE_MAX others waiting is dropped. What the thread
 * uses lives on the heap: one stuck in a send is left behind at exit.
 */
#define LOG_QUEUE_MAX 1000

struct log_sender {
	/* Monotonic second before which no log daemon is tried. */
	gint retry_at;
	/* struct log_msg for the thread; one without fields asks it to end. */
	GAsyncQueue *queue;
	GThread *thread;
	gint done;
};

/* A message as glib gave it: its string fields, copied. */
struct log_msg {
	GLogLevelFlags level;
	GArray *fields;
};

static void log_msg_free(struct log_msg *m)
{
	for (guint i = 0; m->fields && i < m->fields->len; i++) {
		GLogField *f = &g_array_index(m->fields, GLogField, i);

		g_free((char *)f->key);
		g_free((gpointer)f->value);
	}
	if (m->fields)
		g_array_unref(m->fields);
	g_free(m);
}

static void send_to_log(struct log_sender *s, GLogLevelFlags level,
			const GLogField *fields, gsize n)
{
	const char *message = field_value(fields, n, "MESSAGE");
	/* glib gives every message its syslog priority, as the journal wants it. */
	const char *priority = field_value(fields, n, "PRIORITY");
	gint now = (gint)(g_get_monotonic_time() / G_USEC_PER_SEC);

	if (now < g_atomic_int_get(&s->retry_at))
		return;
	if (g_log_writer_journald(level, fields, n, NULL) == G_LOG_WRITER_HANDLED)
		return;
	if (access("/dev/log", W_OK) == 0)
		syslog(priority ? (int)g_ascii_strtoll(priority, NULL, 10) : LOG_NOTICE, "%s",
		       message ? message : "");
	else
		g_atomic_int_set(&s->retry_at, now + LOG_RETRY_SECONDS);
}

static gpointer log_thread(gpointer data)
{
	struct log_sender *s = data;

	for (;;) {
		struct log_msg *m = g_async_queue_pop(s->queue);
		bool stop = !m->fields;

		if (!stop)
			send_to_log(s, m->level, (const GLogField *)m->fields->data,
				    m->fields->len);
		log_msg_free(m);
		if (stop)
			break;
	}
	g_atomic_int_set(&s->done, 1);
	return NULL;
}

static void queue_for_log(struct log_sender *s, GLogLevelFlags level, const GLogField *fields,
			  gsize n)
{
	struct log_msg *m;

	if (g_async_queue_length(s->queue) >= LOG_QUEUE_MAX)
		return;
	m = g_new(struct log_msg, 1);
	m->level = level;
	m->fields = g_array_new(FALSE, FALSE, sizeof(GLogField));
	for (gsize i = 0; i < n; i++) {
		GLogField f = { g_strdup(fields[i].key), g_strdup(fields[i].value), -1 };

		if (fields[i].length < 0)
			g_array_append_val(m->fields, f);
	}
	g_async_queue_push(s->queue, m);
}

static GLogWriterOutput utsfs_log_writer(GLogLevelFlags level, const GLogField *fields,
					 gsize n, gpointer data)
{
	struct utsfs_log *log = data;

	/* Debug output is libfuse's (-d); ours would only repeat it. */
	if (level & G_LOG_LEVEL_DEBUG)
		return G_LOG_WRITER_HANDLED;
	if (log->sender && log->sender->thread)
		queue_for_log(log->sender, level, fields, n);
	else if (log->sender)
		send_to_log(log->sender, level, fields, n);
	/* Events (info) go to the log only; trouble is shown on the terminal too. */
	if (log->foreground && !(level & G_LOG_LEVEL_INFO))
		g_log_writer_standard_streams(level, fields, n, NULL);
	return G_LOG_WRITER_HANDLED;
}

void utsfs_log_init(struct utsfs_log *log)
{
	openlog("utsfs", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log->sender = g_new0(struct log_sender, 1);
	log->sender->queue = g_async_queue_new();
	g_log_set_writer_func(utsfs_log_writer, log, NULL);
}

void utsfs_log_start(struct utsfs_log *log)
{
	log->sender->thread = g_thread_new("utsfs-log", log_thread, log->sender);
}

void utsfs_log_stop(struct utsfs_log *log)
{
	struct log_sender *s = g_steal_pointer(&log->sender);
	gint64 end = g_get_monotonic_time() + G_USEC_PER_SEC;

	if (s->thread) {
		g_async_queue_push(s->queue, g_new0(struct log_msg, 1));
		while (!g_atomic_int_get(&s->done) && g_get_monotonic_time() < end)
			g_usleep(1000);
		/* Stuck in a send: left to the exit, with what it uses. */
		if (!g_atomic_int_get(&s->done))
			return;
		g_thread_join(s->thread);
	}
	g_async_queue_unref(s->queue);
	g_free(s);
}

void utsfs_log_failure(const char *what, const char *name, int err)
{
	/* A user's mistake is answered with its errno; only trouble is logged. */
	switch (-err) {
	case 0:
	case ENOENT:
	case EEXIST:
	case EINVAL:
	case ENOTEMPTY:
	case EPERM:
	case EACCES:
		return;
	default:
		g_warning("%s: %s failed: %s", name ? name : "?", what, g_strerror(-err));
	}
}
