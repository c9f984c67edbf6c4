#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Run the utsfs benchmark as root: utsfs vs nullfs (the FUSE floor) vs raw syscalls vs processes,
# with libfuse's hello_ll as a reference; writes RESULTS.md.
#
# usage: tests/bench/run.sh [--quick] [--rounds N]
#   --quick   a smoke run (fewer rounds, 100 and 2,000 namespaces); prints only,
#             RESULTS.md keeps the last full run
# UTSFS_BIN=path   time that utsfs binary instead of building build/fs/utsfs
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
quick=0
for arg in "$@"; do
	case $arg in
	--quick) quick=1 ;;
	esac
done

if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: must run as root: the benchmark creates namespaces and mounts" >&2
	exit 1
fi

# A private mount namespace of our own: the 50,000 bind mounts of the scale
# section never reach the host's mount table (which every process reading
# mountinfo would pay for), and whatever a killed run leaves dies with it.
if [ -z "${UTSFS_BENCH_PRIVATE:-}" ]; then
	UTSFS_BENCH_PRIVATE=1 exec unshare --mount --propagation private -- "$0" "$@"
fi

work=$(mktemp -d /tmp/utsfs-bench.XXXXXX)
mnt=$work/mnt
# The state directories live on a tmpfs, as /run/utsfs does on a systemd
# host: on some disks, creating a file costs ten times more in one directory
# than in the next, which would swamp the mkdir figures.
run=$work/run
state=$run/state
hello_mnt=$work/hello
null_mnt=$work/null
dbg_mnt=$work/dbg-mnt
dbg_state=$run/dbg-state
dbg_hello=$work/dbg-hello
dbg_null=$work/dbg-null
# Section 7's utsfs runs with -o restore; its record goes to /var/tmp, on disk
# as /var/lib is (/tmp may be a tmpfs).
rmnt=$work/restore-mnt
record_dir=$(mktemp -d /var/tmp/utsfs-bench-record.XXXXXX)
rstate=$run/restore-state
# The name-lag daemon's (name_lag.py).
lmnt=$work/lag-mnt
lstate=$run/lag-state
mkdir -p "$mnt" "$run" "$hello_mnt" "$null_mnt" "$dbg_mnt" "$dbg_hello" "$dbg_null" "$rmnt" "$lmnt"
mount -t tmpfs -o mode=0755 utsfs-bench "$run"
mkdir -p "$state" "$dbg_state" "$rstate" "$lstate"
pids=()

cleanup() {
	set +e
	for m in "$mnt" "$hello_mnt" "$null_mnt" "$dbg_mnt" "$dbg_hello" "$dbg_null" "$rmnt" "$lmnt"; do
		mountpoint -q "$m" && fusermount3 -u -z "$m"
	done
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null
	done
	# utsfs made each state dir a mount of itself; the names are mounts below
	# it. A lazy umount detaches that whole subtree in one umount2() call;
	# `umount -R` would walk tens of thousands of names one by one, re-reading
	# mountinfo each time (tens of minutes after a run killed mid-scale).
	for s in "$state" "$dbg_state" "$rstate" "$lstate" "$run"; do
		mountpoint -q "$s" && umount -l "$s"
	done
	rm -rf "$work" "$record_dir"
}
trap cleanup EXIT
# bash runs the EXIT trap on its own exit; make TERM and INT such an exit.
trap 'exit 130' INT TERM

# Poll for the mount with a deadline; give up early when the daemon died.
wait_for_mount() {
	local dir=$1 pid=$2
	for _ in $(seq 100); do
		mountpoint -q "$dir" && return 0
		kill -0 "$pid" 2>/dev/null || { echo "run.sh: daemon for $dir died" >&2; return 1; }
		sleep 0.1
	done
	echo "run.sh: $dir not mounted after 10 s" >&2
	return 1
}

# utsfs, built unless UTSFS_BIN names one.
if [ -n "${UTSFS_BIN:-}" ]; then
	utsfs=$UTSFS_BIN
else
	[ -d "$repo/build" ] || meson setup "$repo/build" "$repo" >/dev/null
	ninja -C "$repo/build" >/dev/null
	utsfs=$repo/build/fs/utsfs
fi

# hello_ll, libfuse's own example, compiled here and never copied into the repo.
examples=/usr/share/doc/libfuse3-dev/examples
if [ -f "$examples/hello_ll.c" ]; then
	cp "$examples/hello_ll.c" "$work/hello_ll.c"
elif [ -f "$examples/hello_ll.c.gz" ]; then
	gunzip -c "$examples/hello_ll.c.gz" >"$work/hello_ll.c"
else
	echo "run.sh: $examples/hello_ll.c missing: apt-get install libfuse3-dev" >&2
	exit 1
fi
# shellcheck disable=SC2046 # pkg-config output is meant to split into words
cc -O2 -o "$work/hello_ll" "$work/hello_ll.c" $(pkg-config --cflags --libs fuse3)
# The flags meson gives them (tests/bench/meson.build), so both builds agree.
cc -O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -o "$work/utsfs-bench" "$here/bench.c"
# shellcheck disable=SC2046
cc -O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -o "$work/nullfs" "$here/nullfs.c" \
	$(pkg-config --cflags --libs fuse3)

"$utsfs" -f -o "state_dir=$state" "$mnt" &
utsfs_pid=$!
pids+=("$utsfs_pid")
"$work/hello_ll" -f "$hello_mnt" &
hello_pid=$!
pids+=("$hello_pid")
"$work/nullfs" -f "$null_mnt" &
null_pid=$!
pids+=("$null_pid")
wait_for_mount "$mnt" "$utsfs_pid"
wait_for_mount "$hello_mnt" "$hello_pid"
wait_for_mount "$null_mnt" "$null_pid"

out=$work/table
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"$work/utsfs-bench" --mount "$mnt" --state "$state" --hello "$hello_mnt/hello" \
	--null "$null_mnt" --pid "$utsfs_pid" "$@" | tee "$out"
# Section 7 on its own: an idle daemon with a record wakes on every hostname
# change, so it runs only now.
"$utsfs" -f -o "state_dir=$rstate,restore=$record_dir/record.conf" "$rmnt" &
restore_pid=$!
pids+=("$restore_pid")
wait_for_mount "$rmnt" "$restore_pid"
{
	echo
	echo "With \`-o restore\` (as the systemd unit runs utsfs):"
	echo
	"$work/utsfs-bench" --mount "$mnt" --state "$state" --hello "$hello_mnt/hello" \
		--null "$null_mnt" --pid "$utsfs_pid" --restore-mount "$rmnt" "$@"
} | tee -a "$out"
# Gone before the request counts below: it would wake on their changes.
fusermount3 -u "$rmnt"
wait "$restore_pid" 2>/dev/null
# Run a measuring script (the rest of the arguments) against a daemon of its
# own on mount point $1 and state directory $2, appending what it prints.
on_own_daemon() {
	local m=$1 s=$2 pid
	shift 2
	"$utsfs" -f -o "state_dir=$s" "$m" &
	pid=$!
	pids+=("$pid")
	wait_for_mount "$m" "$pid"
	{
		echo
		"$@"
	} | tee -a "$out"
	fusermount3 -u "$m"
	wait "$pid" 2>/dev/null
}
# How long a name other tools change lags in the tree, with 20,000 names the
# kernel holds (2,000 for --quick).
on_own_daemon "$lmnt" "$lstate" /usr/bin/python3 "$here/name_lag.py" "$lmnt" "$lstate" \
	"$([ "$quick" = 1 ] && echo 2000 || echo 20000)"
# Its names go (one lazy umount of the state directory's subtree): all of
# them would be in the host-wide view.
umount -l "$lstate"
# The host-wide view: 500 namespaces of 4 processes (2,000; 100 of 4 for --quick).
on_own_daemon "$lmnt" "$lstate" /usr/bin/python3 "$here/allview.py" "$lmnt" \
	"$([ "$quick" = 1 ] && echo 100 || echo 500)" 4
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Which FUSE requests one operation costs, counted from `-d` output (a
# separate set of daemons: debug output slows everything it touches).
"$utsfs" -d -o "state_dir=$dbg_state" "$dbg_mnt" 2>"$work/utsfs.log" &
dbg_pid=$!
pids+=("$dbg_pid")
"$work/hello_ll" -d "$dbg_hello" 2>"$work/hello.log" &
dbg_hello_pid=$!
pids+=("$dbg_hello_pid")
"$work/nullfs" -d "$dbg_null" 2>"$work/null.log" &
dbg_null_pid=$!
pids+=("$dbg_null_pid")
wait_for_mount "$dbg_mnt" "$dbg_pid"
wait_for_mount "$dbg_hello" "$dbg_hello_pid"
wait_for_mount "$dbg_null" "$dbg_null_pid"
mkdir "$dbg_mnt/x"
mkdir "$dbg_null/x"

# The requests the log gains while cmd runs, counted and then in order with
# their node ids; release is asynchronous, so give it time to arrive.
count_requests() {
	local log=$1 what=$2 before reqs counts order
	shift 2
	before=$(wc -l <"$log")
	"$@" >/dev/null
	sleep 0.3
	reqs=$(tail -n "+$((before + 1))" "$log" |
		sed -n 's/.*opcode: \([A-Z_]*\) ([0-9]*), nodeid: \([0-9]*\).*/\1 \2/p')
	counts=$(cut -d' ' -f1 <<<"$reqs" | sort | uniq -c |
		awk '{ printf "%s%s %s", sep, $2, $1; sep = ", "; t += $1 }
			END { printf " (%d in all)", t }')
	order=$(awk '{ printf "%s%s(%s)", sep, $1, $2; sep = " " }' <<<"$reqs")
	printf -- '- %s: %s\n  in order (node id): %s\n' "$what" "$counts" "$order"
}
mkrm() { mkdir "$1" && rmdir "$1"; }
# shellcheck disable=SC2016 # the backquotes are Markdown, not command substitution
{
	echo
	echo "FUSE requests per operation (warm: the same command ran just before), from \`-d\`:"
	echo
	cat "$dbg_mnt/x/hostname" >/dev/null
	count_requests "$work/utsfs.log" 'utsfs `cat MOUNT/NAME/hostname`' cat "$dbg_mnt/x/hostname"
	# nullfs is the floor only while the kernel asks it what it asks utsfs.
	cat "$dbg_null/x/hostname" >/dev/null
	count_requests "$work/null.log" 'nullfs `cat MOUNT/NAME/hostname`' cat "$dbg_null/x/hostname"
	cat "$dbg_hello/hello" >/dev/null
	count_requests "$work/hello.log" 'hello_ll `cat MOUNT/hello`' cat "$dbg_hello/hello"
	sh -c "echo ub-a >$dbg_mnt/x/hostname"
	count_requests "$work/utsfs.log" 'utsfs `echo NAME >MOUNT/NAME/hostname`' \
		sh -c "echo ub-b >$dbg_mnt/x/hostname"
	sh -c "echo ub-a >$dbg_null/x/hostname"
	count_requests "$work/null.log" 'nullfs `echo NAME >MOUNT/NAME/hostname`' \
		sh -c "echo ub-b >$dbg_null/x/hostname"
	mkrm "$dbg_mnt/y"
	count_requests "$work/utsfs.log" 'utsfs `mkdir MOUNT/y && rmdir MOUNT/y`' mkrm "$dbg_mnt/y"
	mkrm "$dbg_null/y"
	count_requests "$work/null.log" 'nullfs `mkdir MOUNT/y && rmdir MOUNT/y`' mkrm "$dbg_null/y"
	# Our own rmdir must not make the kernel forget the names it holds, nor
	# mkdir's sethostname the sizes: only the root's attributes (its
	# directory changed) are asked again, besides what a warm cat asks.
	cat "$dbg_mnt/x/hostname" >/dev/null
	mkrm "$dbg_mnt/y"
	sleep 0.1
	count_requests "$work/utsfs.log" 'utsfs `cat MOUNT/NAME/hostname` after another name'"'"'s mkdir+rmdir' \
		cat "$dbg_mnt/x/hostname"
} | tee -a "$out"

if [ "$quick" = 1 ]; then
	echo "run.sh: --quick: $here/RESULTS.md keeps the last full run" >&2
	exit 0
fi

commit=$(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# What was timed is fs/ and nsops/: say when they differ from the commit.
if ! git -C "$repo" diff --quiet HEAD -- fs nsops meson.build 2>/dev/null; then
	commit="$commit (with uncommitted changes in fs/, nsops/ or meson.build)"
fi
[ -z "${UTSFS_BIN:-}" ] || commit="$commit; timed binary: $UTSFS_BIN"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
{
	echo "# utsfs benchmark results"
	echo
	echo "The latest full run of \`tests/bench/run.sh\` (as root). Informational: a MISS"
	echo "never fails anything."
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- machine: Linux $(uname -r), $cpu, $(nproc) CPUs, libfuse $(pkg-config --modversion fuse3)"
	echo "- utsfs commit: $commit"
	echo "- state directories on a tmpfs (as /run/utsfs is on a systemd host)"
	echo "- load average (1, 5, 15 min) before / after the timed part: $load_before / $load_after"
	echo "  (other work on the machine skews every figure, the parallel ones most)"
	echo
	cat "$out"
} >"$here/RESULTS.md"
echo "run.sh: wrote $here/RESULTS.md" >&2
