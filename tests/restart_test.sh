#!/usr/bin/env bash
# Guest tests of `ckpt restart` (TAP output), the zdtm way: each test
# program runs twice, once through for the reference output, once
# checkpointed with --kill at a random step, restarted, and run to its end;
# its output and the files it wrote must be the same, and each program
# checks its own state at every step (a BAD line is a failure).
# Runs as root in the guest with rust_ckpt loaded; see tests/run-guest.
set -u
cd "$(dirname "$0")/.." || exit 1
top=$PWD
CKPT=${CKPT:-$top/tools/ckpt/target/release/ckpt}
TMP=$(mktemp -d /tmp/ckpt-restart.XXXXXX)
chmod 755 "$TMP" # (a case runs as another user)
trap 'rm -rf "$TMP"' EXIT
# Programs run from tmpfs (exec through 9p is slow under TCG).
for p in counter memory files signals sleeper tree zombie holdpid threads; do
	cp "tests/build/rs_$p" "$TMP/" || exit 1
done
cp "$CKPT" "$TMP/ckpt" || exit 1
CKPT=$TMP/ckpt
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n $1"; shift; for l in "$@"; do echo "# $l"; done; }
exec {NAP_FD}<> <(:)
nap() { read -rt "$1" -u "$NAP_FD" _; } # sleep without a process
# lines FILE: LINES = its number of lines (bash builtins only)
lines() { local a=(); mapfile -t a 2>/dev/null <"$1"; LINES=${#a[@]}; }
# wait_lines FILE N SECS: until FILE has N lines (or ends with "done")
wait_lines() {
	local end=$((SECONDS + $3))
	while :; do
		lines "$1"
		[ "$LINES" -ge "$2" ] && return 0
		grep -q '^done' "$1" 2>/dev/null && return 0
		[ $SECONDS -ge $end ] && return 1
		nap 0.05
	done
}
# wait_done FILE SECS: until FILE has its "done" line
wait_done() {
	local end=$((SECONDS + $2))
	until grep -q '^done' "$1" 2>/dev/null; do
		[ $SECONDS -ge $end ] && return 1
		nap 0.1
	done
	return 0 # (the loop's status is its body's last: nap's timeout)
}

# The inputs of each run, made afresh in directory $1.
setup() {
	local d=$1
	mkdir -p "$d"
	head -c 65536 /dev/zero >"$d/shared.dat"
	awk 'BEGIN { for (i = 0; i < 8192; i++) printf "%08d", i * 37 }' >"$d/priv.dat"
	printf '%08d' $(seq 1 400) >"$d/read.dat"
}

# Files compared between the reference run and the restarted one.
OUTPUTS="out.txt append.txt seek.txt shared.dat"

# restart_case NAME STEPS PROG ARGS...: reference run, then a run
# checkpointed with --kill after a random number of steps and restarted
# (with the options in RFLAGS), run through the command in RUNAS (to run
# as another user).
# The programs end only once the file "go" exists (tests/restart/gate.h):
# the checkpointed run gets it after its checkpoint.
restart_case() {
	local name=$1 steps=$2 prog=$3 at pid rc msg f
	shift 3
	local ref=$TMP/$name.ref run=$TMP/$name.run
	setup "$ref"
	setup "$run"
	touch "$ref/go"
	(cd "$ref" && exec ${RUNAS:-} "$TMP/$prog" "$steps" "$@" {NAP_FD}<&- >out.txt 2>&1)
	# Any step will do (the program waits for "go" after its last one); the
	# first half, where the checkpoint lands before the end more often.
	at=$((RANDOM % (steps / 2) + 1))
	(cd "$run" && exec ${RUNAS:-} "$TMP/$prog" "$steps" "$@" {NAP_FD}<&- >out.txt 2>&1) &
	pid=$!
	if ! wait_lines "$run/out.txt" "$at" 300; then
		not_ok "$name" "did not reach step $at"
		kill -9 $pid 2>/dev/null
		return
	fi
	msg=$("$CKPT" checkpoint $pid -o "$run/img" --kill 2>&1)
	rc=$?
	touch "$run/go"
	if [ $rc != 0 ]; then
		wait $pid
		not_ok "$name" "checkpoint at step $at failed" "$msg" "program exit status $?" \
			"$(tail -3 "$run/out.txt")"
		return
	fi
	wait $pid 2>/dev/null
	# THREADS: the image must hold a process of that many threads.
	if [ -n "${THREADS:-}" ] && ! "$CKPT" show "$run/img" | grep -q "^ *$THREADS threads:"; then
		not_ok "$name" "the image has no process of $THREADS threads" "$("$CKPT" show "$run/img" | head -4)"
		return
	fi
	lines "$run/out.txt"
	local before=$LINES
	rc=0
	msg=$(cd "$run" && timeout --foreground 120 "$CKPT" restart ${RFLAGS:-} img 2>&1) || rc=$?
	if [ $rc = 124 ]; then
		not_ok "$name" "restarted process did not end within 120 s (checkpoint after $before lines)" \
			"$(tail -2 "$run/out.txt")" \
			"$("$CKPT" decode "$run/img" | grep -i -E 'itimer|pending|blocked|held|restart|rip' | head -12)"
		kill -9 $pid 2>/dev/null
		return
	fi
	if [ $rc != 0 ] || ! grep -q '^done' "$run/out.txt"; then
		not_ok "$name" "restart exited $rc (checkpoint after $before lines)" "$msg" \
			"$(tail -3 "$run/out.txt")"
		return
	fi
	for f in $OUTPUTS; do
		[ -e "$ref/$f" ] || continue
		if ! cmp -s "$ref/$f" "$run/$f"; then
			not_ok "$name" "$f differs after a restart at step $before" \
				"$(diff "$ref/$f" "$run/$f" | head -5)"
			return
		fi
	done
	if grep -q BAD "$run/out.txt"; then
		not_ok "$name" "$(grep BAD "$run/out.txt" | head -3)"
		return
	fi
	ok "$name (checkpointed after $before lines)"
}

# RESTART_CASES: a subset to run (names separated by spaces), for debugging.
want() { [ -z "${RESTART_CASES:-}" ] || [[ " $RESTART_CASES " == *" $1 "* ]]; }
want counter && restart_case counter 200 rs_counter
want files && restart_case files 120 rs_files append.txt seek.txt read.dat
want signals && restart_case signals 120 rs_signals
want memory && restart_case memory 24 rs_memory priv.dat shared.dat
want tree && restart_case tree 120 rs_tree
want zombie && restart_case zombie 60 rs_zombie
# The counter as user and group nobody without supplementary groups:
# ckpt restart (root) gives it back its credentials, not root's.
want counter-nobody && RUNAS="setpriv --reuid=65534 --regid=65534 --clear-groups" \
	restart_case counter-nobody 200 rs_counter
# 5 threads (4 taking turns under a mutex, the main one in pthread_join):
# each comes back with its tid, registers, rounding modes, TLS, blocked
# mask and robust list. Without rseq (restart refuses a registration).
want threads && THREADS=5 RUNAS="env GLIBC_TUNABLES=glibc.pthread.rseq=0" \
	restart_case threads 120 rs_threads
# The tree again, inside a new pid namespace whose init is ckpt.
want tree-newpidns && RFLAGS=--new-pidns restart_case tree-newpidns 120 rs_tree

# /proc/PID/maps after a restart equals the one before, line by line (the
# vDSO, [heap] and [stack] at their addresses too).
maps_case() {
	local d=$TMP/maps pid rpid exe t0 rc
	setup "$d"
	(cd "$d" && exec "$TMP/rs_memory" 40 priv.dat shared.dat {NAP_FD}<&- >out.txt 2>&1) &
	pid=$!
	wait_lines "$d/out.txt" 2 60 || { not_ok "maps: after a restart equal those before" "no progress"; return; }
	cat /proc/$pid/maps >"$d/maps.before"
	"$CKPT" checkpoint $pid -o "$d/img" --kill >/dev/null 2>&1
	rc=$?
	touch "$d/go"
	[ $rc = 0 ] || { not_ok "maps: after a restart equal those before" "checkpoint failed"; wait $pid; return; }
	wait $pid 2>/dev/null
	# --detach returns once the restore is complete
	rpid=$(cd "$d" && "$CKPT" restart --detach img 2>"$d/restart.log")
	cat /proc/$pid/maps >"$d/maps.after" 2>/dev/null
	exe=$(readlink /proc/$pid/exe 2>/dev/null)
	if [ "$rpid" != "$pid" ]; then
		not_ok "maps: after a restart equal those before" "restart --detach printed '$rpid', want $pid" "$(cat "$d/restart.log")"
	elif [ "$exe" != "$TMP/rs_memory" ]; then
		not_ok "maps: after a restart equal those before" "/proc/$pid/exe is '$exe'"
	elif ! cmp -s "$d/maps.before" "$d/maps.after"; then
		not_ok "maps: after a restart equal those before" "$(diff "$d/maps.before" "$d/maps.after" | head -8)"
	else
		ok "maps: after a restart equal those before (and /proc/PID/exe)"
	fi
	t0=$SECONDS
	if ! wait_done "$d/out.txt" 300 || grep -q BAD "$d/out.txt"; then
		not_ok "maps: the restarted process ran to its end" "$(tail -3 "$d/out.txt")" \
			"after $((SECONDS - t0)) s: $(cat /proc/$pid/stat 2>&1)" "$(dmesg | tail -5)"
		kill -9 $pid 2>/dev/null
	else
		ok "maps: the restarted process ran to its end"
	fi
}
want maps && maps_case

# A checkpoint of the restarted process equals the first image but for
# the times: the restore left nothing out that the image records.
again_case() {
	local d=$TMP/again pid
	mkdir -p "$d"
	(cd "$d" && exec "$TMP/rs_sleeper" {NAP_FD}<&- >out.txt 2>&1) &
	pid=$!
	wait_lines "$d/out.txt" 1 60 || { not_ok "again: the image of a restarted process equals the first" "no progress"; return; }
	"$CKPT" checkpoint $pid -o "$d/img1" --kill >/dev/null 2>&1 || { not_ok "again: the image of a restarted process equals the first" "first checkpoint failed"; return; }
	wait $pid 2>/dev/null
	(cd "$d" && "$CKPT" restart --detach img1 >/dev/null 2>&1) || { not_ok "again: the image of a restarted process equals the first" "restart failed"; return; }
	"$CKPT" checkpoint $pid -o "$d/img2" --kill >/dev/null 2>&1 || { not_ok "again: the image of a restarted process equals the first" "second checkpoint failed"; return; }
	# Expected to differ: the times, the sums over them, the parent
	# (ckpt restart, gone), PF_FORKNOEXEC (forked by ckpt, no exec since)
	# and PF_SUPERPRIV (it used root's privileges while it restored itself),
	# set_child_tid (written once at fork: not a state a restart recreates).
	local j1 j2 norm='
import json, sys
j = json.load(sys.stdin)
j["head"]["time_ns"] = 0
j["tail"] = None
for t in j["tasks"]:
    t["start_time_ns"] = 0
    t["vppid"] = 0
    t["flags"] &= ~0x140
    for th in t.get("threads", []):
        th["flags"] &= ~0x140
        th["set_child_tid"] = 0
json.dump(j, sys.stdout, indent=1, sort_keys=True)'
	j1=$("$CKPT" decode --json "$d/img1" | python3 -c "$norm")
	j2=$("$CKPT" decode --json "$d/img2" | python3 -c "$norm")
	if [ "$j1" != "$j2" ]; then
		not_ok "again: the image of a restarted process equals the first" "$(diff -U4 <(echo "$j1") <(echo "$j2") | head -60)"
	else
		ok "again: the image of a restarted process equals the first"
	fi
}
want again && again_case

# A pid of the tree in use (its last process in DFS order): refused with a
# message naming it; the processes made before it are killed and reaped
# (their pids free again) before ckpt returns.
busy_case() {
	local d=$TMP/busy pid msg rc=0 b a c t="busy: a pid in use is named, the rest undone"
	mkdir -p "$d"
	(cd "$d" && exec "$TMP/rs_tree" 400 {NAP_FD}<&- </dev/null >out.txt 2>&1) &
	pid=$!
	wait_lines "$d/out.txt" 2 60 || { not_ok "$t" "no progress"; kill -9 $pid; return; }
	# R's children in order: B (with its child C), then A
	set -- $(cat /proc/$pid/task/$pid/children)
	b=$1 a=$2
	c=$(cat /proc/$b/task/$b/children)
	c=${c% }
	"$CKPT" checkpoint $pid -o "$d/img" --kill >/dev/null 2>&1
	rc=$?
	touch "$d/go"
	wait $pid 2>/dev/null
	[ $rc = 0 ] || { not_ok "$t" "checkpoint failed"; return; }
	"$TMP/rs_holdpid" "$a" || { not_ok "$t" "cannot take pid $a"; return; }
	msg=$("$CKPT" restart "$d/img" 2>&1) && rc=0 || rc=$?
	local left=""
	for p in $pid $b $c; do [ -e /proc/$p ] && left="$left $p"; done
	kill -9 "$a"
	if [ $rc = 0 ] || [[ "$msg" != *"pid $a is in use"* ]] || [ "$(echo "$msg" | wc -l)" != 1 ]; then
		not_ok "$t" "exit $rc: $msg"
	elif [ -n "$left" ]; then
		not_ok "$t" "processes left:$left"
	else
		ok "$t"
	fi
}
want busy && busy_case

echo "1..$n"
[ $failed = 0 ]
