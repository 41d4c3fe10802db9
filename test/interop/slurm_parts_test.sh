#!/usr/bin/env bash
# scripts/slurm/ on a real Slurm cluster: brings up a one-node cluster on this machine
# (Debian's slurm-wlm and munge, installed here when missing), checks it with a 4-task array
# and a job that depends on it, then for each case submits a 4-part quantization with
# scripts/slurm/submit.sh, waits for the array and the merge, and checks that the merged .qbin
# is byte-identical to one `sutra quantize` with the same options:
#   - a generated checkpoint (sutra-make-example --shape 1b --dtype f16), RTN 4-bit g128;
#   - stories260K-hf, RTN 4-bit g32, and AWQ 4-bit g32 calibrated on
#     shared/text/tinystories_calib.txt (each part calibrates as the single run does).
# Also checks that `sutra merge` refuses a missing part (exit 2, naming it). Prints the wall
# times of array + merge and of the single run (on one node the parts share its cores, so the
# array is not faster here: the times show Slurm's overhead). The CTest entry
# `interop_slurm_parts`; about 35 s on 2 cores with the 1b shape (of which 15 s write it).
#
# The cluster lives in a temporary folder and leaves a Slurm installed on the machine alone:
# its own slurm.conf (SLURM_CONF), munge key and socket, state, spool, logs and free ports.
# Its daemons run in the foreground as children of this script and are stopped on exit.
#
# Usage: test/interop/slurm_parts_test.sh SUTRA_BINARY [SHARED_DIR]
# Environment:
#   SUTRA_SLURM_SHAPE  shape of the generated checkpoint (default 1b; tiny and the tiny-<family>
#                      shapes are quicker, in 2 parts: they have 2 decoder blocks)
#   SUTRA_SLURM_KEEP   if set, keep the temporary folder (configuration, logs, outputs)
# Exit status: 0 passed, 1 a check failed, 77 skipped (not root, slurm-wlm or munge could not
# be installed, the daemons did not start, or no shared fixtures), 2 a usage error.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 SUTRA_BINARY [SHARED_DIR]" >&2
  exit 2
fi
sutra=$(realpath "$1")
shared=$(realpath -m "${2:-$root/../shared}")
if [ ! -x "$sutra" ]; then
  echo "slurm_parts_test: error: $sutra is not an executable" >&2
  exit 2
fi
make_example=$(dirname "$sutra")/sutra-make-example
shape=${SUTRA_SLURM_SHAPE:-1b}
stories=$shared/models/stories260K-hf
calib=$shared/text/tinystories_calib.txt
if [ ! -f "$stories/model.safetensors" ] || [ ! -f "$calib" ]; then
  echo "skipped: no shared fixtures at $shared"
  exit 77
fi
# Slurm's daemons run as root here (slurmd starts the jobs).
if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: slurmd needs root"
  exit 77
fi
tools=(munged slurmctld slurmd sbatch squeue sinfo scontrol scancel)
have_tools() {
  local t
  for t in "${tools[@]}"; do command -v "$t" >/dev/null || return 1; done
}
if ! have_tools; then
  echo "slurm_parts_test: installing slurm-wlm and munge" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends slurm-wlm munge; } >&2 || true
  if ! have_tools; then
    echo "skipped: slurm-wlm and munge could not be installed"
    exit 77
  fi
fi

# The caller's Slurm settings (say, inside a job of a real cluster) are not this cluster's.
while read -r v; do
  unset "$v"
done < <(compgen -e | grep -E '^(SLURM|SBATCH|SALLOC|SRUN|SQUEUE|SINFO|SCONTROL|SCANCEL)_' || true)

# munged wants every folder above its socket searchable by all.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sutra-slurm-test.XXXXXX")
chmod 755 "$tmp"
pids=()  # daemons, in start order
ctld_up=""
export SLURM_CONF=$tmp/etc/slurm.conf
cleanup() {
  local status=$? p i
  trap - EXIT
  if [ -n "$ctld_up" ]; then  # cancel what is left, and let slurmd end it
    scancel --quiet --user=root 2>/dev/null || true
    for i in $(seq 50); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do  # slurmd, slurmctld, munged
    p=${pids[i]}
    kill "$p" 2>/dev/null || continue
    for _ in $(seq 50); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ] && [ "$status" -ne 77 ] && [ -d "$tmp/log" ]; then
    for f in "$tmp"/log/*; do
      echo "--- last lines of $f" >&2
      tail -n 15 "$f" >&2
    done
  fi
  if [ -n "${SUTRA_SLURM_KEEP:-}" ]; then
    echo "slurm_parts_test: files kept in $tmp" >&2
  else
    rm -rf "$tmp"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {  # a TCP port no one listens on, not one of the arguments
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    [[ " $* " == *" $p "* ]] && continue
    if command -v ss >/dev/null; then
      [ -z "$(ss -Htln "sport = :$p")" ] && { echo "$p"; return; }
    elif ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}
ctld_port=$(free_port)
slurmd_port=$(free_port "$ctld_port")
mkdir -p "$tmp"/{etc,munge,state,spool,log,run,jobs}
chmod 755 "$tmp/munge"
# The node as slurmd sees it (CPUs, sockets, cores, RealMemory), named localhost.
node=$(slurmd -C | head -n 1 | sed 's/^NodeName=[^ ]*//')
cat >"$SLURM_CONF" <<EOF
ClusterName=sutratest
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge/munge.socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/run/slurmctld.pid
SlurmdPidFile=$tmp/run/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=3600
NodeName=localhost NodeAddr=127.0.0.1 $node State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chmod 600 "$tmp/munge/munge.key"
munged -F --key-file="$tmp/munge/munge.key" --socket="$tmp/munge/munge.socket" \
  --pid-file="$tmp/munge/munged.pid" --log-file="$tmp/log/munged.log" \
  --seed-file="$tmp/munge/munged.seed" 2>>"$tmp/log/munged.log" &
pids+=($!)
wait_for() {  # SECONDS WHAT COMMAND...: run COMMAND until it succeeds, or skip
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      for f in "$tmp"/log/*; do
        echo "--- last lines of $f" >&2
        tail -n 15 "$f" >&2
      done
      echo "skipped: $what"
      exit 77
    fi
    sleep 0.2
  done
}
wait_for 10 "munged did not start" test -S "$tmp/munge/munge.socket"
slurmctld -D -f "$SLURM_CONF" >>"$tmp/log/slurmctld.out" 2>&1 &
pids+=($!)
wait_for 30 "slurmctld did not start" scontrol ping
ctld_up=1
slurmd -D -f "$SLURM_CONF" -N localhost >>"$tmp/log/slurmd.out" 2>&1 &
pids+=($!)
node_idle() { [ "$(sinfo -h -n localhost -o %T)" = idle ]; }
wait_for 60 "the node did not come up idle" node_idle
echo "slurm_parts_test: one-node cluster up (slurmctld port $ctld_port, slurmd port $slurmd_port," \
  "$(sinfo -h -o '%c CPUs, %m MB')): $(sinfo -V)" >&2

fail=0
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }  # T0: seconds since
# JOB_ID SECONDS: wait until every task of the job has ended; prints their states, one a line.
wait_job() {
  local deadline=$((SECONDS + $2)) states
  while :; do
    states=$(scontrol show job -o "$1" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
    if ! grep -qvE '^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED|'\
'BOOT_FAIL|DEADLINE)$' <<<"$states"; then
      echo "$states"
      return
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "slurm_parts_test: job $1 still not done after $2 s: $(tr '\n' ' ' <<<"$states")" >&2
      echo "$states"
      return
    fi
    sleep 0.5
  done
}
all_completed() { [ -n "$1" ] && ! grep -qv '^COMPLETED$' <<<"$1"; }

# The cluster itself: 4 array tasks, then a job that needs all of them.
t0=$(now)
arr=$(sbatch --parsable --array=1-4 --output="$tmp/jobs/hostname-%a.out" --wrap hostname)
dep=$(sbatch --parsable --dependency="afterok:$arr" --output="$tmp/jobs/after.out" \
  --wrap "cat $tmp/jobs/hostname-*.out | wc -l")
arr_states=$(wait_job "$arr" 60)
dep_states=$(wait_job "$dep" 60)
if all_completed "$arr_states" && all_completed "$dep_states" &&
  [ "$(cat "$tmp/jobs/after.out")" = 4 ]; then
  echo "ok   cluster: 4-task array of hostname ($(sort -u "$tmp"/jobs/hostname-*.out)) and a" \
    "dependent job, $(since "$t0") s"
else
  echo "FAIL cluster: array $arr: $(tr '\n' ' ' <<<"$arr_states"); dependent $dep: $dep_states"
  exit 1
fi

if ! "$sutra" merge --help >/dev/null 2>&1; then
  echo "FAIL $sutra has no merge command"
  exit 1
fi
summary=()
# NAME MODEL PARTS QUANTIZE_OPTIONS...: submit.sh's array + merge against one direct run.
slurm_case() {
  local name=$1 model=$2 n=$3 dir=$tmp/$1 ids array merge t0 t1 tp ts as ms
  shift 3
  mkdir -p "$dir"
  t0=$(now)
  # One CPU a task, so two tasks run at once on 2 cores (quantize_array.sbatch: --threads 1).
  if ! ids=$(SUTRA=$sutra SUTRA_SBATCH_ARGS=--cpus-per-task=1 \
    bash "$root/scripts/slurm/submit.sh" "$model" "$dir/out.qbin" "$n" -- "$@" \
    2>"$dir/submit.log"); then
    cat "$dir/submit.log" >&2
    echo "FAIL $name: submit.sh failed"
    fail=1
    return
  fi
  read -r array merge <<<"$ids"
  as=$(wait_job "$array" 240)
  ms=$(wait_job "$merge" 60)
  tp=$(since "$t0")
  if ! all_completed "$as" || ! all_completed "$ms"; then
    for f in "$dir"/*.log; do
      echo "--- $f" >&2
      tail -n 20 "$f" >&2
    done
    echo "FAIL $name: array $array: $(tr '\n' ' ' <<<"$as"); merge $merge: $ms"
    fail=1
    return
  fi
  t1=$(now)
  if ! "$sutra" -q quantize "$model" -o "$dir/single.qbin" "$@" >"$dir/single.out"; then
    echo "FAIL $name: sutra quantize $* failed"
    fail=1
    return
  fi
  ts=$(since "$t1")
  if ! cmp "$dir/out.qbin" "$dir/single.qbin"; then
    echo "FAIL $name: the merged .qbin differs from the single run's"
    fail=1
    return
  fi
  printf 'ok   %s: %d parts (%s) merged = one run, %s bytes\n' "$name" "$n" "$*" \
    "$(stat -c %s "$dir/out.qbin")"
  summary+=("$(printf '%-16s array of %d + merge %6s s, single run %6s s' "$name" "$n" "$tp" \
    "$ts")")
}
# DIR N: without its part 3, the parts in DIR must not merge (exit 2, naming the part).
missing_part_case() {
  local dir=$tmp/$1 n=$2 status=0
  if [ ! -f "$dir/out.qbin.part-3-of-$n" ]; then
    echo "FAIL merge without part 3 of $n: not run ($1 has no parts)"
    fail=1
    return
  fi
  rm "$dir/out.qbin.part-3-of-$n"
  "$sutra" merge "$dir"/out.qbin.part-*-of-"$n" -o "$dir/missing.qbin" 2>"$dir/missing.err" ||
    status=$?
  if [ "$status" = 2 ] && [ ! -e "$dir/missing.qbin" ] &&
    grep -qE "3.{0,6}of.{0,6}$n" "$dir/missing.err"; then
    echo "ok   merge without part 3 of $n: exit 2, \"$(tail -n 1 "$dir/missing.err")\""
  else
    echo "FAIL merge without part 3 of $n: exit $status, stderr: $(cat "$dir/missing.err")"
    fail=1
  fi
}

if [ ! -x "$make_example" ]; then
  echo "slurm_parts_test: FAIL: no $make_example" >&2
  exit 1
fi
if ! "$make_example" --shape "$shape" --dtype f16 "$tmp/model-$shape" >/dev/null \
  2>"$tmp/make.log"; then
  cat "$tmp/make.log" >&2
  echo "FAIL sutra-make-example --shape $shape"
  exit 1
fi
parts=4
[ "$shape" = 1b ] || parts=2  # the small shapes have 2 decoder blocks
slurm_case "example-$shape" "$tmp/model-$shape" "$parts" --method rtn --bits 4 --group-size 128
rm -rf "$tmp/model-$shape"  # its space back (2.2 GB for 1b)
slurm_case stories260K "$stories" 4 --method rtn --bits 4 --group-size 32
slurm_case stories260K-awq "$stories" 4 --method awq --calib-text "$calib" --bits 4 --group-size 32
missing_part_case stories260K 4
[ ${#summary[@]} -eq 0 ] || printf '%s\n' "${summary[@]}"
exit $fail
