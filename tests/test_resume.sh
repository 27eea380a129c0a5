#!/bin/sh
# Resuming interrupted runs (`uoe-wb unlearn --resume`, `uoe-wb run SCRIPT --resume RUN_DIR`):
# a run stopped by SIGTERM, and a run SIGKILLed at random moments and resumed each time, end
# with the model or state, the metrics (step times aside) and the routing snapshots of the
# same run left alone, bit for bit; so does the default experiment, two runs in one script.
# A state saved by another run is refused. Prints TAP.
set -u
top=${top_srcdir:-.}
data=${UOE_TEST_DATA:-$top/tests}
wb=${UOE_WB:-./src/uoe-wb}
model=$data/fixtures/mcq/model
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
count=0
status=0
OMP_NUM_THREADS=1
export OMP_NUM_THREADS

. "$top/tests/tap.sh"

# the tiny world of tests/test_cli.sh
world=$work/world
mkdir -p "$world/splits"
head -n 12 "$top/data/world/corpus/pathogens.jsonl" >"$world/splits/forget.jsonl"
head -n 12 "$top/data/world/corpus/cities.jsonl" >"$world/splits/retain.jsonl"
cp "$data/fixtures/mcq/tiny.jsonl" "$world/splits/forget_mcq.jsonl"
cp "$data/fixtures/mcq/tiny.jsonl" "$world/splits/utility_mcq.jsonl"

# NPO on the UOE set through the prefix cache: the reference memo, the cache and both epoch
# orders all carry over a resume. (The paths come from mktemp: no spaces to quote.)
options="$model --world $world --method npo --set uoe --steps 120 --eval-every 4 \
    --snapshot-every 4 --eval-questions 0 --probe-sequences 3 --forget-batch 3 --retain-batch 2 \
    --lr 1e-2 --select best-ut --fe-target 1 --save-model"
unlearn() {
    "$wb" unlearn $options "$@"
}
# start_unlearn ARGS...: in the background, pid in $pid (uoe-wb itself, so signals reach it)
start_unlearn() {
    "$wb" unlearn $options "$@" >"$work/stdout" 2>"$work/stderr" &
    pid=$!
}

# same_run DIR: DIR ended as the uninterrupted run did
same_run() {
    cmp -s "$work/whole/model/model.safetensors" "$1/model/model.safetensors" &&
        sed 's/,"seconds":[^,}]*//' "$work/whole/metrics.jsonl" >"$work/expected.jsonl" &&
        sed 's/,"seconds":[^,}]*//' "$1/metrics.jsonl" >"$work/got.jsonl" &&
        cmp -s "$work/expected.jsonl" "$work/got.jsonl" &&
        diff -r "$work/whole/routing" "$1/routing" >/dev/null
}

# wait_for_step DIR N: waits up to 60 s for DIR's metrics to record step N
wait_for_step() {
    tries=0
    while [ $tries -lt 600 ] && ! grep -q "\"type\":\"step\",\"step\":$2," "$1/metrics.jsonl" 2>/dev/null; do
        sleep 0.1
        tries=$((tries + 1))
    done
}

unlearn --out "$work/whole" >"$work/stdout" 2>"$work/stderr"
status=$?
check "the uninterrupted run ends" '[ $status -eq 0 ] && [ -s "$work/whole/model/model.safetensors" ]'

# SIGTERM after step 6: the state of the step it stopped at is saved
start_unlearn --out "$work/term"
wait_for_step "$work/term" 6
kill -TERM $pid
wait $pid
status=$?
stopped=$(ls "$work/term/state" 2>/dev/null | sed -n 's/^step_0*\([0-9][0-9]*\)\.json$/\1/p')
check "SIGTERM stops the run with status 143 and its state saved where it stopped" \
    '[ $status -eq 143 ] && [ -n "$stopped" ] && [ "$stopped" -ge 6 ] && [ "$stopped" -lt 120 ]'
unlearn --out "$work/term" --resume >"$work/stdout" 2>"$work/stderr"
status=$?
check "--resume goes on from step $stopped to the end" \
    '[ $status -eq 0 ] && grep -q "resumed after step $stopped of 120" "$work/stderr" "$work/stdout"'
check "the resumed run ends bit for bit as the uninterrupted one (model, metrics, routing)" \
    'same_run "$work/term"'

# SIGKILL at five random moments, resuming each time
kills=0
start_unlearn --out "$work/killed"
for delay in $(awk 'BEGIN { srand(); for (i = 0; i < 5; i++) printf "%.2f ", 0.1 + rand() * 0.6 }'); do
    sleep "$delay"
    kill -KILL $pid 2>/dev/null && kills=$((kills + 1))
    wait $pid 2>/dev/null
    start_unlearn --out "$work/killed" --resume
done
wait $pid
status=$?
check "after $kills kills (SIGKILL) and as many resumes, the run ends" '[ $status -eq 0 ] && [ $kills -ge 1 ]'
check "it ends bit for bit as the uninterrupted run (model, metrics, routing)" 'same_run "$work/killed"'
check "only the last state is kept, and no temporary file" \
    '[ "$(ls "$work/killed/state")" = "$(printf "step_000120.json\nstep_000120.safetensors")" ] && [ -z "$(find "$work/killed" -name "*.tmp.*")" ]'

# a state saved by another run is refused, naming the file and what differs
unlearn --out "$work/term" --resume --seed 2 >"$work/stdout" 2>"$work/stderr"
status=$?
check "--resume with another seed is refused, naming the state and the seed" \
    '[ $status -eq 1 ] && grep -q "state/step_000120.json: saved by a run with seed \"1\", and this run has seed \"2\"" "$work/stderr"'
# without --resume a directory holding a run is still refused
unlearn --out "$work/term" >"$work/stdout" 2>"$work/stderr"
status=$?
check "without --resume a directory that holds a run is refused" \
    '[ $status -eq 1 ] && grep -q "already holds a run" "$work/stderr"'

# ---- the default experiment through uoe-wb run ----

experiment="$top/lua/experiments/default.lua"
keys="model=$model world=$world steps=40 eval_every=4 forget_batch=3 retain_batch=2 probe_sequences=3 eval_questions=0"
# same_experiment DIR: both runs of DIR ended as those of the experiment left alone
same_experiment() {
    for run in uoe ga-all; do
        sed 's/,"seconds":[^,}]*//' "$work/default/$run/metrics.jsonl" >"$work/expected.jsonl" &&
            sed 's/,"seconds":[^,}]*//' "$1/$run/metrics.jsonl" >"$work/got.jsonl" &&
            cmp -s "$work/expected.jsonl" "$work/got.jsonl" &&
            diff -r "$work/default/$run/routing" "$1/$run/routing" >/dev/null &&
            cmp -s "$work/default/$run/state/step_000040.safetensors" "$1/$run/state/step_000040.safetensors" ||
            return 1
    done
}
"$wb" run "$experiment" $keys out="$work/default" >"$work/stdout" 2>"$work/stderr"
status=$?
check "the default experiment runs to its end" '[ $status -eq 0 ] && [ -s "$work/default/ga-all/summary.json" ]'

"$wb" run "$experiment" $keys out="$work/default-term" >"$work/stdout" 2>"$work/stderr" &
pid=$!
wait_for_step "$work/default-term/uoe" 6
kill -TERM $pid
wait $pid
status=$?
check "SIGTERM stops the experiment with status 143" '[ $status -eq 143 ] && [ ! -e "$work/default-term/ga-all" ]'
"$wb" run "$experiment" $keys --resume "$work/default-term" >"$work/stdout" 2>"$work/stderr"
status=$?
check "run --resume finishes it, both runs bit for bit as the experiment left alone" \
    '[ $status -eq 0 ] && grep -q "resumed after step" "$work/stderr" && same_experiment "$work/default-term"'

kills=0
"$wb" run "$experiment" $keys out="$work/default-killed" >"$work/stdout" 2>"$work/stderr" &
pid=$!
for delay in $(awk 'BEGIN { srand(); for (i = 0; i < 5; i++) printf "%.2f ", 0.1 + rand() * 0.9 }'); do
    sleep "$delay"
    kill -KILL $pid 2>/dev/null && kills=$((kills + 1))
    wait $pid 2>/dev/null
    "$wb" run "$experiment" $keys --resume "$work/default-killed" >"$work/stdout" 2>"$work/stderr" &
    pid=$!
done
wait $pid
status=$?
check "after $kills kills of the experiment and as many run --resume, it ends bit for bit as left alone" \
    '[ $status -eq 0 ] && [ $kills -ge 1 ] && same_experiment "$work/default-killed"'
"$wb" run "$experiment" $keys out="$work/elsewhere" --resume "$work/default-killed" >"$work/stdout" 2>"$work/stderr"
status=$?
check "--resume and another out= are refused" '[ $status -eq 2 ] && grep -q "name different folders" "$work/stderr"'

# ---- the workbench on a model (uoe-wb tui MODEL, headless) ----

tui_options="$model --world $world --method npo --steps 40 --eval-every 4 --snapshot-every 4 \
    --eval-questions 0 --probe-sequences 3 --forget-batch 3 --retain-batch 2 --lr 1e-2"
"$wb" tui $tui_options --out "$work/bench" >"$work/stdout" 2>"$work/stderr"
status=$?
check "the workbench runs its two runs headless" '[ $status -eq 0 ] && [ -s "$work/bench/2-npo-all/summary.json" ]'
"$wb" tui $tui_options --out "$work/bench-term" >"$work/stdout" 2>"$work/stderr" &
pid=$!
wait_for_step "$work/bench-term/1-npo-uoe" 6
kill -TERM $pid
wait $pid
status=$?
"$wb" tui $tui_options --out "$work/bench-term" --resume >"$work/stdout" 2>"$work/stderr"
resumed=$?
same_bench=true
for run in 1-npo-uoe 2-npo-all; do
    sed 's/,"seconds":[^,}]*//' "$work/bench/$run/metrics.jsonl" >"$work/expected.jsonl"
    sed 's/,"seconds":[^,}]*//' "$work/bench-term/$run/metrics.jsonl" >"$work/got.jsonl"
    cmp -s "$work/expected.jsonl" "$work/got.jsonl" && diff -r "$work/bench/$run/routing" "$work/bench-term/$run/routing" >/dev/null || same_bench=false
done
check "the workbench stopped by SIGTERM (143) and resumed with --resume ends as the one left alone" \
    '[ $status -eq 143 ] && [ $resumed -eq 0 ] && $same_bench'

echo "1..$count"
