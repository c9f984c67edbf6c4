#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the libFuzzer harness for nsops' validators with clang and run it for
# SECONDS (default 20); a crash or a disagreement with the model fails.
set -eu
cd "$(dirname "$0")/../.."
seconds=${1:-20}
contrib/install-deps.sh clang libclang-rt-14-dev
out=build-fuzz
mkdir -p "$out/corpus"
# shellcheck disable=SC2046 # pkg-config prints several words
clang -g -O1 -Wall -Wextra -Werror -D_GNU_SOURCE \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Insops $(pkg-config --cflags glib-2.0) \
	tests/fuzz/fuzz_validate.c nsops/validate.c \
	$(pkg-config --libs glib-2.0) -o "$out/fuzz_validate"
printf 'web01\n' > "$out/corpus/seed-hostname"
printf 'my box' > "$out/corpus/seed-name"
"$out/fuzz_validate" -max_total_time="$seconds" -max_len=300 "$out/corpus"
