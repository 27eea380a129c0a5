#!/bin/sh
# What the workbench costs a run: the same experiment (default model and
# world, one thread), headless and under the workbench in a 120x40 tmux, in
# ROUNDS interleaved pairs (odd rounds run headless first, even rounds the
# workbench first). For each pair it prints the mean step time of
# each (summary.json's mean_step_seconds, one per run) and, for the
# workbench, the CPU seconds of its worker thread, of its UI thread and of
# the tmux server.
#   bench/tui_overhead.sh [--script] [ROUNDS [STEPS]]      (from the top of the tree)
# The experiment is one unlearning run from the options (uoe-wb tui MODEL_DIR
# against its headless mode), or with --script lua/experiments/default.lua,
# both its runs (uoe-wb tui SCRIPT.lua against uoe-wb run SCRIPT.lua).
set -u
script=
if [ "${1:-}" = "--script" ]; then
    script=lua/experiments/default.lua
    shift
fi
rounds=${1:-4}
steps=${2:-250}
wb=${UOE_WB:-./src/uoe-wb}
work=$(mktemp -d)
socket=uoe-wb-overhead-$$
trap 'tmux -L "$socket" kill-server >/dev/null 2>&1; rm -rf "$work"' EXIT
run="data/models/default --world data/world --steps $steps --eval-every 100000 \
--snapshot-every 10 --eval-questions 20 --attribution-sequences 50 --no-baseline"
keys="steps=$steps eval_every=50 eval_questions=20 attribution_sequences=50"

# headless OUT, workbench OUT: the two commands, writing into OUT
headless() {
    if [ -n "$script" ]; then
        echo "$wb run $script $keys out=$1"
    else
        echo "$wb tui $run --out $1 -q"
    fi
}
workbench() {
    if [ -n "$script" ]; then
        echo "$wb tui $script $keys out=$1"
    else
        echo "$wb tui $run --out $1"
    fi
}

# ticks FILE: user + system clock ticks of a /proc stat file
ticks() {
    awk '{ print $14 + $15 }' "$1"
}
# step_seconds DIR: each run's mean step time, joined by '/'
step_seconds() {
    sed -n 's/.*"mean_step_seconds": \([0-9.e-]*\).*/\1/p' "$1"/*/summary.json | paste -sd/
}
seconds() {
    echo "scale=2; $1 / $(getconf CLK_TCK)" | bc
}

run_headless() {
    OMP_NUM_THREADS=1 $(headless "$work/headless-$1") >/dev/null 2>&1
}

echo "round  headless_step_s  tui_step_s  tui_worker_cpu_s  tui_ui_cpu_s  tmux_cpu_s"
for round in $(seq 1 "$rounds"); do
    [ $((round % 2)) -eq 1 ] && run_headless "$round"
    tmux -L "$socket" -f /dev/null new-session -d -x 120 -y 40 -s tui \
        "env LANG=C.UTF-8 OMP_NUM_THREADS=1 $(workbench "$work/tui-$round"); sleep 60"
    server=$(tmux -L "$socket" display -p '#{pid}')
    server_start=$(ticks /proc/"$server"/stat)
    sleep 1
    pid=$(pgrep -P "$(tmux -L "$socket" list-panes -t tui -F '#{pane_pid}')" | head -n 1)
    until tmux -L "$socket" capture-pane -p -t tui | grep -q "▶ finished"; do
        sleep 0.5
    done
    ui=$(ticks /proc/"$pid"/task/"$pid"/stat)
    worker=0
    for task in /proc/"$pid"/task/*; do
        [ "${task##*/}" = "$pid" ] || worker=$((worker + $(ticks "$task"/stat)))
    done
    server_ticks=$(($(ticks /proc/"$server"/stat) - server_start))
    tmux -L "$socket" send-keys -t tui q
    sleep 1
    tmux -L "$socket" kill-server >/dev/null 2>&1
    [ $((round % 2)) -eq 0 ] && run_headless "$round"
    echo "$round  $(step_seconds "$work/headless-$round")  $(step_seconds "$work/tui-$round")  \
$(seconds $worker)  $(seconds $ui)  $(seconds $server_ticks)"
done
