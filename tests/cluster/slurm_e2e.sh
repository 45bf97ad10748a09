#!/usr/bin/env bash
# End to end on a real SLURM: a one-node cluster on this host (munged, slurmctld, slurmd as
# processes this script owns, all state under one temporary folder), the tiny synthetic config
# run through profiles/slurm with tests/cluster/profile layered on it, then checks that the jobs
# went through SLURM and that the metric CSVs equal a local run's, byte for byte.
#
#   bash tests/cluster/slurm_e2e.sh            # .ci/run calls it with VADFLOW_REQUIRE_SLURM=1
#
# PYTHON: the interpreter with vadflow, Snakemake and the SLURM executor plugin
# (default: .venv/bin/python, as the README installs it). A host that cannot run the daemons
# (not root, fewer than 2 CPUs, no apt) is skipped with the reason, or fails when
# VADFLOW_REQUIRE_SLURM=1. About 3-4 minutes on 2 cores.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
WORK=$(mktemp -d /tmp/vadflow-slurm.XXXXXX)
PIDS=()

skip() {
    if [ "${VADFLOW_REQUIRE_SLURM:-0}" = 1 ]; then
        echo "slurm_e2e: FAILED: cannot run SLURM here: $*" >&2
        exit 1
    fi
    echo "slurm_e2e: SKIPPED: $*"
    exit 0
}

cleanup() {
    local rc=$?
    # Stop exactly the daemons started here, newest first, and wait for each.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        kill "${PIDS[i]}" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "$rc" -ne 0 ]; then
        echo "slurm_e2e: failed (exit $rc); daemon and job logs:" >&2
        tail -n 30 "$WORK"/log/*.log "$WORK"/slurm/.snakemake/slurm_logs/*/*/*.log 2>/dev/null >&2 || true
    fi
    [ -n "${VADFLOW_KEEP:-}" ] && echo "slurm_e2e: kept $WORK" >&2 || rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || skip "the daemons need root (run as root, or on CI)"
[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs (jobs ask for 2)"
[ -x "$PY" ] || skip "no interpreter at $PY (install as the README says, or set PYTHON)"
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    command -v apt-get >/dev/null || skip "slurm-wlm and munge are not installed and there is no apt-get"
    echo "slurm_e2e: installing slurm-wlm and munge"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge) >"$WORK/apt.log" 2>&1 ||
        skip "apt-get install slurm-wlm munge failed: $(tail -n 3 "$WORK/apt.log")"
fi

HOST=$(hostname -s)
mkdir -p "$WORK"/{log,state,spool,munge} && chmod 711 "$WORK/munge"
read -r CTLD_PORT SLURMD_PORT < <("$PY" -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')

# munge: its own key and socket, so a munged already on the host is left alone.
dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1024 count=1 status=none && chmod 400 "$WORK/munge/munge.key"
munged -F --force --key-file="$WORK/munge/munge.key" --socket="$WORK/munge/munge.sock" \
    --pid-file="$WORK/munge/munged.pid" --seed-file="$WORK/munge/seed" --log-file="$WORK/log/munged.log" >"$WORK/log/munged.out" 2>&1 &
PIDS+=($!)

export SLURM_CONF="$WORK/slurm.conf"
cat >"$SLURM_CONF" <<EOF
ClusterName=vadflowtest
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$WORK/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$WORK/jobcomp.txt
MpiDefault=none
ReturnToService=2
MinJobAge=600
# the node is taken as configured: memory requests are bookkeeping here, not limits
SlurmdParameters=config_overrides
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1000000 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF

# Inside a job, the executor's jobstep runs the rule through a nested srun with every SLURM_*
# variable removed (SLURM_CONF too); on a real cluster srun then reads /etc/slurm/slurm.conf.
# This cluster's config lives in $WORK, so the jobs' srun (PATH is exported) names it.
mkdir -p "$WORK/bin"
printf '#!/bin/sh\nSLURM_CONF=%s exec %s "$@"\n' "$SLURM_CONF" "$(command -v srun)" >"$WORK/bin/srun"
chmod +x "$WORK/bin/srun"
export PATH="$WORK/bin:$PATH"

slurmctld -D -i -f "$SLURM_CONF" >"$WORK/log/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" -N "$HOST" >"$WORK/log/slurmd.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 60); do
    state=$(sinfo -h -N -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 1
done
[ "${state:-}" = idle ] || skip "the node did not come up idle within 60 s (sinfo: '${state:-no answer}'); slurmd: $(tail -n 3 "$WORK/log/slurmd.log" 2>/dev/null)"
echo "slurm_e2e: one-node SLURM up ($HOST, ports $CTLD_PORT/$SLURMD_PORT)"

# The tiny synthetic config, once locally and once through SLURM.
for run in local slurm; do
    mkdir -p "$WORK/$run/config"
    cp "$ROOT/tests/cluster/config.yaml" "$WORK/$run/config/config.yaml"
done
target=results/synthetic/summary.csv
smk=("$PY" -m snakemake -s "$ROOT/Snakefile" --workflow-profile none)
timeout 900 "${smk[@]}" -d "$WORK/local" --cores 2 "$target" >"$WORK/log/local.log" 2>&1 ||
    { tail -n 40 "$WORK/log/local.log"; exit 1; }
echo "slurm_e2e: local reference run done"
timeout 900 "${smk[@]}" -d "$WORK/slurm" --profile "$ROOT/profiles/slurm" --profile "$ROOT/tests/cluster/profile" \
    "$target" >"$WORK/log/slurm.log" 2>&1 || { tail -n 60 "$WORK/log/slurm.log"; exit 1; }

# Through SLURM: every submission Snakemake logged is a job SLURM completed, there are fewer
# submissions than jobs (grouped extraction shards and evaluate jobs), and the metrics match.
"$PY" - "$WORK" <<'EOF'
import filecmp, re, sys
from pathlib import Path

work = Path(sys.argv[1])
log = (work / "log/slurm.log").read_text()
submitted = set(re.findall(r"has been submitted with SLURM jobid (\d+)", log))
done = {m.group(1): m.group(2) for m in re.finditer(r"JobId=(\d+) .*?JobState=(\w+)", (work / "jobcomp.txt").read_text())}
jobs = int(re.search(r"(\d+) of \1 steps \(100%\) done", log).group(1))
assert submitted, f"no SLURM job id in Snakemake's log:\n{log[-3000:]}"
assert submitted <= set(done), f"submitted {sorted(submitted)} but SLURM completed {sorted(done)}"
assert all(done[j] == "COMPLETED" for j in submitted), {j: done[j] for j in submitted}
assert len(submitted) < jobs, f"{len(submitted)} submissions for {jobs} jobs: nothing was grouped"
for group in ("extract", "evaluate"):  # profiles/slurm's groups, each submitted as one job
    assert f"slurm_logs/group_{group}_" in log, f"group {group} was not submitted as a group"
csvs = sorted(p.relative_to(work / "local") for p in (work / "local/results/synthetic").glob("*_*.csv"))
assert len(csvs) >= 4, csvs
_, mismatch, errors = filecmp.cmpfiles(work / "local", work / "slurm", [str(p) for p in csvs], shallow=False)
assert not mismatch and not errors, f"metric CSVs differ from the local run: {mismatch} {errors}"
print(f"slurm_e2e: OK: {jobs} jobs in {len(submitted)} SLURM submissions, all COMPLETED; "
      f"{len(csvs)} metric CSVs equal the local run's")
EOF
