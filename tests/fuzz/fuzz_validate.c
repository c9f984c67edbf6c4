// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer harness for nsops' input checks: names and hostname/domainname values. */
#include "nsops.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* The rules, stated once more the slow and obvious way, to compare against. */
static bool name_model(const uint8_t *d, size_t n)
{
	if (n < 1 || n > 255 || d[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (is_ctl(d[i]) || d[i] == '/')
			return false;
	return true;
}

static bool value_model(const uint8_t *d, size_t n)
{
	static const char allowed[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";

	if (n < 1 || n > 64 || d[0] == '.' || d[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (d[i] == '\0' || !strchr(allowed, d[i]))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t stripped = size > 0 && data[size - 1] == '\n' ? size - 1 : size;
	ssize_t parsed = nsops_value_parse(s, size);

	if (nsops_name_is_valid(s, size) != name_model(data, size))
		abort();
	if (nsops_value_is_valid(s, size) != value_model(data, size))
		abort();
	/* parse strips exactly one newline and accepts exactly the valid values. */
	if (value_model(data, stripped) ? parsed != (ssize_t)stripped : parsed >= 0)
		abort();
	return 0;
}
