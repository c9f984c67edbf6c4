/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Pending polls on hostname and domainname files, and waking them when the value changes. */
#pragma once

#include "common.h"

struct utsfs;
struct open_file;

struct polls {
	/* Guards pending and every open file's last_read and ph; never held while entering a namespace. */
	GMutex lock;
	/* The open files with a pending poll. */
	GHashTable *pending;
};

void polls_init(struct polls *p);
void polls_free(struct polls *p);
/* Keep ph (replacing of's previous one) until of's content changes. */
void polls_add(struct polls *p, struct open_file *of, struct fuse_pollhandle *ph);
/* Drop of and its poll handle: it is being freed. */
void polls_forget(struct polls *p, struct open_file *of);
/* of's handle read content: what a later change is measured against. */
void polls_note_read(struct polls *p, struct open_file *of, const GString *content);
/* Whether of's content now differs from what it last read (false before its first read). */
bool polls_changed(struct utsfs *fs, struct open_file *of);
/*
 * A hostname or domainname changed somewhere: wake the polls whose content
 * changed. Each file polled is looked at once, however many handles poll it.
 */
void polls_wake_changed(struct utsfs *fs);
