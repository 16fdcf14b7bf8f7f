#!/usr/bin/env bash
# Guest tests of the ckpt tool against the real module (TAP output).
# Runs as root in the guest with rust_ckpt loaded; see tests/run-guest.
set -u
cd "$(dirname "$0")/.." || exit 1
CKPT=${CKPT:-tools/ckpt/target/release/ckpt}
BENCH=${BENCH:-tools/ckpt/target/release/ckpt-bench}
TMP=$(mktemp -d /tmp/ckpt-tool.XXXXXX)
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { # check NAME CMD... (and its time, as a TAP comment)
	local name=$1 out s=${EPOCHREALTIME/./}
	shift
	local rc=0
	out=$("$@" 2>&1) || rc=$?
	if [ $rc = 0 ]; then ok "$name"; else not_ok "$name" "$out" "exit status $rc"; fi
	echo "# $name: $(((${EPOCHREALTIME/./} - s) / 1000)) ms"
}

# Starting a program costs 0.1 to 1 s in the TCG guest (an exec through 9p):
# the helpers below poll /proc with bash builtins only, and wait with
# deadlines, never a fixed sleep.
exec {NAP_FD}<> <(:)
nap() { read -rt "$1" -u "$NAP_FD" _; } # sleep without a process
# ST: the state letter of process $1 (empty if it is gone)
state_of() {
	local l=""
	ST=""
	read -r l 2>/dev/null <"/proc/$1/stat" || [ -n "$l" ] || return 0
	l=${l##*) }
	ST=${l%% *}
}
state() { state_of "$1"; echo "$ST"; }
# TREE: $1 and its descendants in DFS order, via /proc's children lists
tree_of() { TREE=(); _tree "$1"; }
_tree() {
	local p=$1 f c kids
	TREE+=("$p")
	for f in /proc/"$p"/task/*/children; do
		kids=()
		read -r -a kids 2>/dev/null <"$f"
		for c in "${kids[@]}"; do _tree "$c"; done
	done
}
tree_pids() { tree_of "$1"; printf '%s\n' "${TREE[@]}"; }
all_in_state() { # PIDS... must all be in state $WANT
	local p
	for p in "$@"; do
		state_of "$p"
		[ "$ST" = "$WANT" ] || { echo "pid $p is ${ST:-gone}, want $WANT"; return 1; }
	done
}
# wait_state WANT SECS PIDS...: until all are in state WANT, at most SECS
wait_state() {
	local want=$1 secs=$2 end=$((SECONDS + $2)) t0=$EPOCHREALTIME
	shift 2
	until WANT=$want all_in_state "$@" >/dev/null; do
		if [ $SECONDS -ge $end ]; then
			# a last look: reaching the state at the deadline is success
			WANT=$want all_in_state "$@" && return 0
			echo "not all $want after ${secs} s (EPOCHREALTIME $t0 to $EPOCHREALTIME)"
			return 1
		fi
		nap 0.05
	done
	# (not the loop's status: that is its body's last, nap's timeout, 142)
	return 0
}
# wait_tree ROOT N: until ROOT has N processes (itself included), at most 60 s
wait_tree() {
	local end=$((SECONDS + 60))
	tree_of "$1"
	while [ ${#TREE[@]} -lt "$2" ] && [ $SECONDS -lt $end ]; do nap 0.05; tree_of "$1"; done
}
# A sample tree: root with two children, one with two of its own.
start_tree() {
	# (no inherited stdout: the caller reads ours through $(...))
	setsid bash -c 'sleep 1000 & bash -c "sleep 1000 & sleep 1000 & wait" & wait' </dev/null >/dev/null 2>&1 &
	local root=$!
	wait_tree "$root" 5
	echo "$root"
}
kill_tree() { kill -KILL $(tree_pids "$1") 2>/dev/null; wait 2>/dev/null; }

echo "TAP version 13"

# --- signal freeze: the tree runs again afterwards
root=$(start_tree)
pids=$(tree_pids "$root")
check "freeze_signal_checkpoints_live_tree" $CKPT checkpoint "$root" -o "$TMP/sig.img" --freeze signal
check "freeze_signal_image_verifies" $CKPT verify "$TMP/sig.img"
check "freeze_signal_tree_runs_again" wait_state S 60 $pids
# the image holds exactly the tree, in /proc's DFS order
# (the JSON's "vpid" keys in order, read with sed: python3 takes some 20 s to
# start in the TCG guest; perl, which scripts/setup installs, a fraction of that)
image_vpids() { $CKPT decode --json "$1" | sed -nE 's/^ *"vpid": ([0-9]+),?$/\1/p'; }
image_pids_match() { diff <(echo "$pids") <(image_vpids "$TMP/sig.img"); }
check "image_pids_match_proc_dfs_order" image_pids_match

# --- --timings: one line with the three phases, the tree resumed after
timings_line() {
	$CKPT checkpoint "$root" -o "$TMP/t.img" --freeze signal --timings 2>&1 >/dev/null |
		grep -Ex 'ckpt: timings: freeze_ms=[0-9]+\.[0-9]{3} ioctl_ms=[0-9]+\.[0-9]{3} thaw_ms=[0-9]+\.[0-9]{3}'
}
check "timings_prints_the_three_phases" timings_line
check "timings_tree_runs_again" wait_state S 60 $pids
kill_tree "$root"

# --- ckpt-bench in small: trees of every shape (a chain of 70 crosses the
# re-exec every 64 levels), the ioctl and the /proc collector on each, the
# two images compared field by field, the CSV written
bench_small() {
	$BENCH run --sizes 10,70 --shapes flat,chain,random --reps 1 --e2e-reps 1 \
		--ckpt "$CKPT" --scratch "$TMP/bench" --csv "$TMP/bench/b.csv" >"$TMP/bench.out" 2>&1 ||
		{ cat "$TMP/bench.out"; return 1; }
	[ "$(tail -n1 "$TMP/bench.out")" = "$TMP/bench/b.csv" ] || { echo "last line: $(tail -n1 "$TMP/bench.out")"; return 1; }
	head -n1 "$TMP/bench/b.csv" | grep -qx 'n,shape,ioctl_ms,proc_ms,ratio,e2e_ms,freeze_ms,thaw_ms' || return 1
	[ "$(grep -cE '^(10|70),(flat|chain|random),[0-9.]+,' "$TMP/bench/b.csv")" = 6 ] || { cat "$TMP/bench/b.csv"; return 1; }
	# no process of the trees is left behind
	! pgrep -x ckpt-bench >/dev/null || { echo "ckpt-bench processes left: $(pgrep -x ckpt-bench)"; return 1; }
}
check "bench_small_trees_module_matches_proc" bench_small
root=$(start_tree)
pids=$(tree_pids "$root")

# --- a process stopped before stays stopped
victim=$(echo "$pids" | sed -n 3p)
kill -STOP "$victim"
check "prestopped_process_is_stopped" wait_state T 60 "$victim"
check "freeze_signal_with_prestopped_process" $CKPT checkpoint "$root" -o "$TMP/sig2.img" --freeze signal
check "other_processes_run_again" wait_state S 60 $(echo "$pids" | grep -vx "$victim")
WANT=T check "prestopped_process_stays_stopped" all_in_state "$victim"
kill_tree "$root"

# --- decode --json and show agree with /proc
root=$(start_tree)
pids=$(tree_pids "$root")
kill -STOP $pids
check "tree_stopped_by_hand" wait_state T 60 $pids
check "freeze_none_on_stopped_tree" $CKPT checkpoint "$root" -o "$TMP/none.img" --freeze none
check "decode_json_agrees_with_proc" python3 - "$TMP/none.img" "$CKPT" <<'PY'
import json, subprocess, sys
img = json.loads(subprocess.check_output([sys.argv[2], "decode", "--json", sys.argv[1]]))
assert img["tasks_nr"] == len(img["tasks"]), "tasks_nr"
for t in img["tasks"]:
    stat = open(f"/proc/{t['vpid']}/stat").read()
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    f = stat[stat.rindex(")") + 2:].split()
    ppid, pgrp, sid = int(f[1]), int(f[2]), int(f[3])
    assert t["comm"] == comm, (t["comm"], comm)
    assert t["vppid"] == ppid, (t["vpid"], t["vppid"], ppid)
    assert t["vpgid"] == pgrp and t["vsid"] == sid, (t, pgrp, sid)
    assert f[0] == "T" and t["state"] & 4, (t["vpid"], f[0], t["state"])
    uids = [l.split()[1:4] for l in open(f"/proc/{t['vpid']}/status") if l.startswith("Uid:")][0]
    assert [t["uid"], t["euid"], t["suid"]] == [int(u) for u in uids]
PY
show_lists_every_pid() { # IMAGE PIDS...
	local img=$1 out p
	shift
	out=$($CKPT show "$img") || { echo "$out"; return 1; }
	for p in "$@"; do grep -q "($p)" <<<"$out" || { echo "pid $p missing:"; echo "$out"; return 1; }; done
	grep -q "$# tasks" <<<"$out" || { echo "no '$# tasks' summary:"; echo "$out"; return 1; }
}
check "show_lists_every_pid" show_lists_every_pid "$TMP/none.img" $pids
kill -CONT $pids
kill_tree "$root"

# --- freeze none on a running tree fails with a clear EBUSY line
root=$(start_tree)
out=$($CKPT checkpoint "$root" -o "$TMP/busy.img" --freeze none 2>&1)
rc=$?
if [ $rc -ne 0 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -qi 'busy\|not stopped\|frozen'; then
	ok "freeze_none_running_tree_is_one_line_ebusy"
else
	not_ok "freeze_none_running_tree_is_one_line_ebusy" "rc=$rc" "$out"
fi
kill_tree "$root"

# --- cgroup freeze
cg=/sys/fs/cgroup/ckpt-tool-test
mkdir -p "$cg"
(echo $BASHPID >"$cg/cgroup.procs"; exec setsid bash -c 'sleep 1000 & bash -c "sleep 1000 & wait" & wait') &
root=$!
wait_tree "$root" 4
pids=$(tree_pids "$root")
check "freeze_cgroup_checkpoints_tree" $CKPT checkpoint "$root" -o "$TMP/cg.img" --freeze cgroup
check "freeze_cgroup_image_verifies" $CKPT verify "$TMP/cg.img"
check "freeze_cgroup_thawed_afterwards" grep -qx 'frozen 0' "$cg/cgroup.events"
check "freeze_cgroup_tree_runs_again" wait_state S 60 $pids
kill_tree "$root"
rmdir "$cg" 2>/dev/null

# --- --kill: the tree is gone when ckpt returns (the root, whose parent is
# this shell, a zombie or reaped; the others reaped by init), the image holds it
root=$(start_tree)
pids=$(tree_pids "$root")
killed_tree_is_gone() {
	local out p
	out=$($CKPT checkpoint "$root" -o "$TMP/kill.img" --kill 2>&1) || { echo "$out"; return 1; }
	echo "$out" | grep -qx "checkpointed 5 tasks of $root into $TMP/kill.img ([0-9]* bytes); killed the tree" ||
		{ echo "unexpected output: $out"; return 1; }
	for p in $pids; do
		state_of "$p"
		if [ "$p" = "$root" ]; then
			case "$ST" in Z | "") ;; *) echo "root $p is $ST after --kill"; return 1 ;; esac
		elif [ -n "$ST" ]; then
			echo "process $p is still there ($ST) after --kill"
			return 1
		fi
	done
}
check "kill_leaves_no_process_of_the_tree" killed_tree_is_gone
wait "$root" 2>/dev/null
check "kill_image_verifies" $CKPT verify "$TMP/kill.img"
# a failed checkpoint (no space: a 16 KiB tmpfs, smaller than the image of
# a held tree) resumes the tree, kills nothing
root=$(start_tree)
pids=$(tree_pids "$root")
mkdir -p "$TMP/small"
kill_failure_resumes() {
	local out
	mount -t tmpfs -o size=16k ckpt-small "$TMP/small" || return 1
	if out=$($CKPT checkpoint "$root" -o "$TMP/small/kill.img" --kill 2>&1); then
		echo "ckpt succeeded writing to a 16 KiB tmpfs: $out"
		return 1
	fi
	echo "$out" | grep -q 'no space left' || { echo "not the ENOSPC line: $out"; return 1; }
	wait_state S 60 $pids
}
check "kill_failed_checkpoint_resumes_tree" kill_failure_resumes
umount "$TMP/small" 2>/dev/null
kill_tree "$root"
kill_with_running_is_refused() {
	local out rc
	out=$($CKPT checkpoint 1 -o "$TMP/x.img" --kill --freeze running 2>&1)
	rc=$?
	[ $rc -eq 2 ] && echo "$out" | grep -q -- '--kill needs the tree held' || { echo "rc=$rc: $out"; return 1; }
}
check "kill_with_freeze_running_is_refused" kill_with_running_is_refused

# --- a vfork() parent (tests/vfork_holder.c) waits in the kernel until its
# child execs or exits, and SIGSTOP does not stop it; the kernel counts it as
# frozen (cgroup_enter_frozen()), and so does the module: with its child
# stopped it cannot move. --freeze signal checkpoints the tree.
setsid bash -c 'sleep 1000 & tests/build/vfork_holder & wait' </dev/null >/dev/null 2>&1 &
root=$!
wait_tree "$root" 4
check "freeze_signal_vfork_parent_counts_as_held" bash -c \
	"$CKPT checkpoint $root -o $TMP/vfork.img --freeze signal --timeout 60 | grep -q 'checkpointed 4 tasks'"
kill_tree "$root"

# --- SIGINT while the tree is held leaves nothing stopped: the image goes
# to a FIFO whose reader shrinks it to one page and never reads, so the
# module blocks writing (a tree of 40 processes: an image over 4 KiB) until
# the tool is interrupted
setsid bash -c 'for i in $(seq 39); do sleep 1000 & done; wait' </dev/null >/dev/null 2>&1 &
root=$!
wait_tree "$root" 40
pids=$(tree_pids "$root")
mkfifo "$TMP/fifo"
perl -e 'sysopen(my $f, $ARGV[0], 0) or die "open: $!";
fcntl($f, 1031, 4096) or die "F_SETPIPE_SZ: $!";
sleep 1000' "$TMP/fifo" &
reader=$!
$CKPT checkpoint "$root" -o "$TMP/fifo" --freeze signal --timeout 60 >"$TMP/int.out" 2>&1 &
tool=$!
# a tool that does not end is a failure of this test, not a hang of the suite
( sleep 300; kill -0 "$tool" 2>/dev/null || exit 0
  echo "# watchdog: ckpt still running after 300 s; its kernel stack:"
  sed 's/^/#   /' /proc/"$tool"/stack 2>/dev/null; kill -KILL "$tool" ) &
watchdog=$!
# wait until the tree is stopped and the tool sleeps inside the ioctl
# (system call 16 in /proc/PID/syscall), writing into the full FIFO
in_ioctl() {
	local nr=""
	state_of "$tool"
	read -r nr _ 2>/dev/null </proc/"$tool"/syscall
	[ "$ST" = S ] && [ "$nr" = 16 ]
}
end=$((SECONDS + 120))
until WANT=T all_in_state $pids >/dev/null && in_ioctl; do
	[ $SECONDS -lt $end ] || break
	nap 0.05
done
kill -INT "$tool"
wait "$tool"
rc=$?
if [ $rc -eq 130 ]; then ok "sigint_exits_130"; else not_ok "sigint_exits_130" "rc=$rc" "$(cat "$TMP/int.out")"; fi
stopped=""
for p in $pids; do state_of "$p"; [ "$ST" = T ] && stopped="$stopped $p"; done
if [ -z "$stopped" ]; then ok "sigint_leaves_nothing_stopped"; else not_ok "sigint_leaves_nothing_stopped" "still stopped:$stopped"; fi
kill "$reader" "$watchdog" 2>/dev/null
kill_tree "$root"

# --- ckpt info: the module's ABI version equals the tool's. Both numbers
# are read from `ckpt info`'s line "ABI version:   M (ckpt: T, they ...)" and
# each is checked against an independent source: M against CKPT_IOC_VERSION
# asked directly (_IO(0xc3, 0)), T against CKPT_ABI_VERSION in the uapi
# header the tool is built from; and ckpt info must exit 0.
info_reports_module_and_abi() {
	local out rc module tool ioctl header
	out=$($CKPT info 2>&1)
	rc=$?
	module=$(sed -nE 's/^ABI version: +([0-9]+) \(ckpt: ([0-9]+), .*/\1/p' <<<"$out")
	tool=$(sed -nE 's/^ABI version: +([0-9]+) \(ckpt: ([0-9]+), .*/\2/p' <<<"$out")
	if [ -z "$module" ] || [ -z "$tool" ]; then
		echo "no 'ABI version: M (ckpt: T, ...)' line in:"
		echo "$out"
		return 1
	fi
	# CKPT_IOC_VERSION: perl's ioctl() passes a numeric argument as it is and
	# returns the call's result ("0 but true" for 0)
	ioctl=$(perl -e 'sysopen(my $f, "/dev/checkpoint", 2) or die "open: $!";
my $r = ioctl($f, 0xc300, 0); defined $r or die "ioctl: $!"; print $r + 0') || return 1
	header=$(awk '$1 == "#define" && $2 == "CKPT_ABI_VERSION" {print $3}' include/uapi/linux/checkpoint.h)
	[ "$module" = "$ioctl" ] || { echo "ckpt info says the module speaks $module, CKPT_IOC_VERSION says $ioctl"; return 1; }
	[ "$tool" = "$header" ] || { echo "ckpt info says ckpt speaks $tool, the header says $header"; return 1; }
	[ "$module" = "$tool" ] || { echo "module ABI $module, ckpt ABI $tool: $out"; return 1; }
	[ $rc -eq 0 ] || { echo "ckpt info exited $rc:"; echo "$out"; return 1; }
}
check "info_reports_module_and_abi" info_reports_module_and_abi

rm -rf "$TMP"
echo "1..$n"
[ $failed -eq 0 ]
