#!/bin/sh
# What the workbench costs a run: the same run (default model and world, one
# thread), headless and under the workbench in a 120x40 tmux, in ROUNDS
# interleaved pairs. For each pair it prints the mean step time of each
# (summary.json's mean_step_seconds) and, for the workbench, the CPU seconds
# of its worker thread, of its UI thread and of the tmux server.
#   bench/tui_overhead.sh [ROUNDS [STEPS]]        (from the top of the tree)
set -u
rounds=${1:-4}
steps=${2:-250}
wb=${UOE_WB:-./src/uoe-wb}
work=$(mktemp -d)
socket=uoe-wb-overhead-$$
trap 'tmux -L "$socket" kill-server >/dev/null 2>&1; rm -rf "$work"' EXIT
run="data/models/default --world data/world --steps $steps --eval-every 100000 \
--snapshot-every 10 --eval-questions 20 --attribution-sequences 50 --no-baseline"

# ticks FILE: user + system clock ticks of a /proc stat file
ticks() {
    awk '{ print $14 + $15 }' "$1"
}
step_seconds() {
    sed -n 's/.*"mean_step_seconds": \([0-9.e-]*\).*/\1/p' "$1"/*/summary.json
}
seconds() {
    echo "scale=2; $1 / $(getconf CLK_TCK)" | bc
}

echo "round  headless_step_s  tui_step_s  tui_worker_cpu_s  tui_ui_cpu_s  tmux_cpu_s"
for round in $(seq 1 "$rounds"); do
    OMP_NUM_THREADS=1 $wb tui $run --out "$work/headless-$round" -q >/dev/null 2>&1
    tmux -L "$socket" -f /dev/null new-session -d -x 120 -y 40 -s tui \
        "env LANG=C.UTF-8 OMP_NUM_THREADS=1 $wb tui $run --out $work/tui-$round; sleep 60"
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
    echo "$round  $(step_seconds "$work/headless-$round")  $(step_seconds "$work/tui-$round")  \
$(seconds $worker)  $(seconds $ui)  $(seconds $server_ticks)"
done
