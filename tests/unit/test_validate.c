// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for nsops' name and value validators: no privileges needed. */
#include "nsops.h"

#include <errno.h>
#include <string.h>

static void test_names_accepted(void)
{
	g_autofree char *longest = g_strnfill(NSOPS_NAME_MAX, 'n');

	g_assert_true(nsops_name_is_valid("web", 3));
	g_assert_true(nsops_name_is_valid("a", 1));
	g_assert_true(nsops_name_is_valid("with space", 10));
	g_assert_true(nsops_name_is_valid("ünïcode", strlen("ünïcode")));
	g_assert_true(nsops_name_is_valid("a.b-c_d", 7));
	g_assert_true(nsops_name_is_valid(longest, strlen(longest)));
}

static void test_names_refused(void)
{
	g_autofree char *too_long = g_strnfill(NSOPS_NAME_MAX + 1, 'n');

	g_assert_false(nsops_name_is_valid("", 0));
	g_assert_false(nsops_name_is_valid(".", 1));
	g_assert_false(nsops_name_is_valid("..", 2));
	g_assert_false(nsops_name_is_valid(".Trash-0", 8));
	g_assert_false(nsops_name_is_valid(".hidden", 7));
	g_assert_false(nsops_name_is_valid("a/b", 3));
	g_assert_false(nsops_name_is_valid("tab\there", 8));
	g_assert_false(nsops_name_is_valid("new\nline", 8));
	g_assert_false(nsops_name_is_valid("del\x7f", 4));
	g_assert_false(nsops_name_is_valid("nul\0in", 6));
	g_assert_false(nsops_name_is_valid(too_long, strlen(too_long)));
}

static void test_values_accepted(void)
{
	g_autofree char *longest = g_strnfill(NSOPS_VALUE_MAX, 'h');

	g_assert_true(nsops_value_is_valid("web01", 5));
	g_assert_true(nsops_value_is_valid("a", 1));
	g_assert_true(nsops_value_is_valid("A.b_c-9", 7));
	g_assert_true(nsops_value_is_valid("x.", 2));
	g_assert_true(nsops_value_is_valid(longest, NSOPS_VALUE_MAX));
}

static void test_values_refused(void)
{
	g_autofree char *too_long = g_strnfill(NSOPS_VALUE_MAX + 1, 'h');

	g_assert_false(nsops_value_is_valid("", 0));
	g_assert_false(nsops_value_is_valid(".web", 4));
	g_assert_false(nsops_value_is_valid("-web", 4));
	g_assert_false(nsops_value_is_valid("bad name", 8));
	g_assert_false(nsops_value_is_valid("a/b", 3));
	g_assert_false(nsops_value_is_valid("é", strlen("é")));
	g_assert_false(nsops_value_is_valid("nul\0", 4));
	g_assert_false(nsops_value_is_valid(too_long, NSOPS_VALUE_MAX + 1));
}

static void test_parse_strips_one_newline(void)
{
	g_autofree char *max = g_strnfill(NSOPS_VALUE_MAX, 'h');
	g_autofree char *max_nl = g_strconcat(max, "\n", NULL);
	g_autofree char *over_nl = g_strconcat(max, "h\n", NULL);

	g_assert_cmpint(nsops_value_parse("web01\n", 6), ==, 5);
	g_assert_cmpint(nsops_value_parse("web01", 5), ==, 5);
	g_assert_cmpint(nsops_value_parse(max_nl, strlen(max_nl)), ==, NSOPS_VALUE_MAX);
	g_assert_cmpint(nsops_value_parse("web01\n\n", 7), ==, -EINVAL);
	g_assert_cmpint(nsops_value_parse("\n", 1), ==, -EINVAL);
	g_assert_cmpint(nsops_value_parse("", 0), ==, -EINVAL);
	g_assert_cmpint(nsops_value_parse("a\nb", 3), ==, -EINVAL);
	g_assert_cmpint(nsops_value_parse(over_nl, strlen(over_nl)), ==, -EINVAL);
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/validate/names-accepted", test_names_accepted);
	g_test_add_func("/validate/names-refused", test_names_refused);
	g_test_add_func("/validate/values-accepted", test_values_accepted);
	g_test_add_func("/validate/values-refused", test_values_refused);
	g_test_add_func("/validate/parse-strips-one-newline", test_parse_strips_one_newline);
	return g_test_run();
}
