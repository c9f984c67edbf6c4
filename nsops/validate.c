// SPDX-License-Identifier: GPL-2.0-or-later
/* Input checks for names and hostname/domainname values: pure, no syscalls. */
#include "nsops.h"

#include <errno.h>

bool nsops_name_is_valid(const char *name, size_t len)
{
	if (len == 0 || len > NSOPS_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		/* '\0' would silently truncate the name in every path call. */
		if (c < 0x20 || c == 0x7f || c == '/')
			return false;
	}
	return true;
}

bool nsops_value_is_valid(const char *value, size_t len)
{
	if (len == 0 || len > NSOPS_VALUE_MAX)
		return false;
	if (value[0] == '.' || value[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!g_ascii_isalnum(value[i]) && value[i] != '.' && value[i] != '_' &&
		    value[i] != '-')
			return false;
	return true;
}

ssize_t nsops_value_parse(const char *buf, size_t len)
{
	/* As /proc/sys/kernel/hostname does, so `echo NAME > file` works. */
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (!nsops_value_is_valid(buf, len))
		return -EINVAL;
	return (ssize_t)len;
}
