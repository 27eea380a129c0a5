#!/bin/sh
# Lua experiment scripting (man uoe-wb-lua) through `uoe-wb run` on the
# fixture model: the uoe module's functions in use and misuse (the scripts in
# tests/lua/ print one "ok"/"not ok" line per check, numbered here), the
# documented messages and exit statuses for scripts that fail, Ctrl-C during
# a run, and the shipped experiments in reduced form on the default model.
# Prints TAP.
set -u
top=${top_srcdir:-.}
data=${UOE_TEST_DATA:-$top/tests}
wb=${UOE_WB:-./src/uoe-wb}
lua=${LUA:-lua5.4}
model=$data/fixtures/mcq/model
scripts=$data/lua
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
count=0
status=0
UOE_LUA_PATH=$top/lua:$scripts
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export UOE_LUA_PATH OMP_NUM_THREADS

. "$top/tests/tap.sh"

# lua_checks SCRIPT ARGS...: runs a test script and numbers its check lines
lua_checks() {
    name=$1
    shift
    mkdir -p "$work/$name"
    run run "$scripts/$name.lua" model="$model" world="$world" mcq="$data/fixtures/mcq/tiny.jsonl" \
        work="$work/$name" "$@"
    while IFS= read -r line; do
        case $line in
        "ok - "*) count=$((count + 1)); echo "ok $count ${line#ok }" ;;
        "not ok - "*) count=$((count + 1)); echo "not ok $count ${line#not ok }" ;;
        "#"*) echo "$line" ;;
        esac
    done <"$work/stdout"
    check "$name.lua runs to its end (exit status 0, nothing on stderr)" \
        '[ $status -eq 0 ] && [ ! -s "$work/stderr" ]'
}

# wait_for PATTERN FILE: waits up to 30 s for a line of FILE to match
wait_for() {
    tries=0
    until grep -q "$1" "$2" 2>/dev/null || [ $tries -ge 300 ]; do
        sleep 0.1
        tries=$((tries + 1))
    done
}

# interrupt SCRIPT PATTERN ARGS...: runs a script in the background and sends
# SIGINT once a line of its stdout matches PATTERN
interrupt() {
    script=$1
    pattern=$2
    shift 2
    : >"$work/stdout" # not the last run's lines: wait_for must see this run's
    "$wb" run "$scripts/$script" "$@" >"$work/stdout" 2>"$work/stderr" &
    pid=$!
    wait_for "$pattern" "$work/stdout"
    kill -INT $pid
    wait $pid
    status=$?
}

# the tiny world of tests/test_cli.sh
world=$work/world
mkdir -p "$world/splits"
head -n 12 "$top/data/world/corpus/pathogens.jsonl" >"$world/splits/forget.jsonl"
head -n 12 "$top/data/world/corpus/cities.jsonl" >"$world/splits/retain.jsonl"
cp "$data/fixtures/mcq/tiny.jsonl" "$world/splits/forget_mcq.jsonl"
cp "$data/fixtures/mcq/tiny.jsonl" "$world/splits/utility_mcq.jsonl"

lua_checks api_model
lua_checks api_tensor
lua_checks api_data
lua_checks api_run
check "a run writes config.json, metrics.jsonl, routing snapshots and summary.json" \
    '[ -s "$work/api_run/full/config.json" ] && [ "$(wc -l <"$work/api_run/full/metrics.jsonl")" -eq 10 ] && [ -s "$work/api_run/full/routing/step_000004.json" ] && grep -q "\"steps\": 4" "$work/api_run/full/summary.json"'
check "config.json records the script and the explicit targets" \
    'grep -q "\"script\": \".*api_run.lua\"" "$work/api_run/full/config.json" && grep -q "\"name\": \"explicit-no-routers\"" "$work/api_run/explicit/config.json"'
check "a run stopped by the script says so in summary.json" \
    'grep -q "\"stopped\": \"stopped by the script after step 1 of 4\"" "$work/api_run/stopped/summary.json"'
lua_checks losses
check "config.json records a Lua loss by name" \
    'grep -q "\"name\": \"npo (lua)\"" "$work/losses/npo-lua/config.json"'
lua_checks policies
lua_checks api_train fixtures="$data/fixtures" top="$top" wb="$wb"

run run "$scripts/keys.lua" n=3 x=1.5 s=hello empty= neg=-2
check "keys reach the script as a table, numbers converted" \
    '[ $status -eq 0 ] && [ "$(grep -c "^n	integer	3$\|^x	float	1.5$\|^s	string	hello$\|^empty	string	$\|^neg	integer	-2$" "$work/stdout")" -eq 5 ]'
check "the script's definitions stay in its own environment, not in _G" \
    'grep -q "^global name	nil	own name	keys$" "$work/stdout"'
run run "$scripts/typed_keys.lua" steps=4 label=12 verbose=true
check "with defaults, each key takes its default's type" \
    '[ $status -eq 0 ] && grep -q "^steps	integer	4$" "$work/stdout" && grep -q "^label	string	12$" "$work/stdout" && grep -q "^verbose	boolean	true$" "$work/stdout"'
run run "$scripts/typed_keys.lua"
check "without keys, the defaults are the arguments" \
    '[ $status -eq 0 ] && grep -q "^steps	integer	10$" "$work/stdout" && grep -q "^verbose	boolean	false$" "$work/stdout"'
run run "$scripts/typed_keys.lua" stepz=4
check "a key the script does not take: exit 2, naming it and the script's keys" \
    '[ $status -eq 2 ] && grep -q "typed_keys.lua: unknown key '"'"'stepz'"'"'" "$work/stderr" && grep -q "the script'"'"'s keys are: label steps verbose" "$work/stderr"'
run run "$scripts/typed_keys.lua" steps=four
check "a key of the wrong type: exit 2, naming the key" \
    '[ $status -eq 2 ] && grep -q "key '"'"'steps'"'"': number expected, got '"'"'four'"'"'" "$work/stderr"'

run run "$scripts/syntax_error.lua"
check "a syntax error: exit 1, naming the file and line" \
    '[ $status -eq 1 ] && grep -q "^uoe-wb: .*syntax_error.lua:5: unexpected symbol near '"'"'='"'"'$" "$work/stderr"'
run run "$scripts/runtime_error.lua"
check "a runtime error: exit 1, with the file and line and a traceback" \
    '[ $status -eq 1 ] && grep -q "^uoe-wb: .*runtime_error.lua:6: something broke in inner$" "$work/stderr" && grep -q "^stack traceback:$" "$work/stderr" && grep -q "runtime_error.lua:10: in upvalue '"'"'outer'"'"'" "$work/stderr"'
run run "$scripts/missing_field.lua"
check "missing and mistyped fields: exit 1, each reported by field and type" \
    '[ $status -eq 1 ] && grep -q "missing_field.lua: field '"'"'name'"'"': string expected, got number$" "$work/stderr" && grep -q "missing_field.lua: field '"'"'experiment'"'"': function expected, got nil$" "$work/stderr"'
run run "$work/no-such-script.lua"
check "a missing script: exit 1, naming it" \
    '[ $status -eq 1 ] && grep -q "cannot open .*no-such-script.lua" "$work/stderr"'
run run
check "run without a script is a usage error" '[ $status -eq 2 ] && grep -q "^Usage: uoe-wb run" "$work/stderr"'
run run --help
check "run --help exits 0 and documents the exit statuses" \
    '[ $status -eq 0 ] && grep -q "^Usage: uoe-wb run SCRIPT.lua" "$work/stdout" && grep -q "130 when interrupted" "$work/stdout"'
run run "$scripts/keys.lua" 3=x
check "a malformed KEY=VALUE is a usage error" \
    '[ $status -eq 2 ] && grep -q "'"'"'3=x'"'"': expected KEY=VALUE" "$work/stderr"'
run run "$scripts/keys.lua" a=1 a=2
check "a key given twice is a usage error" '[ $status -eq 2 ] && grep -q "key '"'"'a'"'"' given twice" "$work/stderr"'
UOE_LUA_PATH=$top/lua:$scripts/extra run run "$scripts/module_path.lua"
check "require finds modules in the directories of UOE_LUA_PATH" \
    '[ $status -eq 0 ] && grep -q "^found through UOE_LUA_PATH$" "$work/stdout"'

interrupt loop.lua "^looping"
check "Ctrl-C stops a script in a Lua loop through the count hook: exit 130" \
    '[ $status -eq 130 ] && grep -q "loop.lua: interrupted$" "$work/stderr"'
interrupt long_run.lua "^step" model="$model" world="$world" out="$work/interrupted"
check "Ctrl-C stops a run after the first progress line: exit 130" \
    '[ $status -eq 130 ] && grep -q "long_run.lua: interrupted$" "$work/stderr" && grep -q "^step    0  FE" "$work/stdout"'
if command -v "$lua" >/dev/null 2>&1; then
    "$lua" "$scripts/read_run_dir.lua" "$top/lua" "$work/interrupted" >"$work/stdout" 2>"$work/stderr"
    status=$?
    check "the interrupted run directory reads: config.json parses, every metrics.jsonl line is whole" \
        '[ $status -eq 0 ] && grep -q "^lines [1-9]" "$work/stdout"'
    check "its summary.json says where the interrupt stopped it" \
        'grep -q "^stopped interrupted (SIGINT) after step [0-9]* of 100000$" "$work/stdout"'
else
    count=$((count + 1))
    echo "ok $count - the interrupted run directory reads # SKIP $lua is not installed"
    count=$((count + 1))
    echo "ok $count - its summary.json says where the interrupt stopped it # SKIP $lua is not installed"
fi

if command -v "${UOE_GNUPLOT:-gnuplot}" >/dev/null 2>&1; then
    lua_checks api_plot fixtures="$data/fixtures"
else
    count=$((count + 1))
    echo "ok $count - api_plot.lua # SKIP gnuplot is not installed"
fi

# the shipped experiments, reduced, on the default model
reduced="steps=1 eval_every=1 eval_questions=4 attribution_sequences=4 probe_sequences=2 forget_batch=2 retain_batch=2"
run run "$top/lua/experiments/default.lua" out="$work/default" $reduced
check "experiments/default.lua runs to completion, UOE against GA on all parameters" \
    '[ $status -eq 0 ] && grep -q "^  uoe  *[0-9.]*  *[0-9.]*  *1 " "$work/stdout" && grep -q "^  ga-all .* 1.000000$" "$work/stdout" && [ -s "$work/default/uoe/summary.json" ]'
run run "$top/lua/experiments/alpha_sweep.lua" out="$work/alpha" alphas=0,100 $reduced
check "experiments/alpha_sweep.lua runs a run per alpha" \
    '[ $status -eq 0 ] && [ -s "$work/alpha/alpha=0/summary.json" ] && [ -s "$work/alpha/alpha=100/summary.json" ] && grep -q "^  100  " "$work/stdout"'
run run "$top/lua/experiments/topm.lua" out="$work/topm" sizes=2 $reduced
check "experiments/topm.lua runs top-1 against top-2 in one layer and across layers" \
    '[ $status -eq 0 ] && grep -q "^  top2-layer  *2 " "$work/stdout" && grep -q "^  top2-global  *2 " "$work/stdout" && grep -q "\"name\": \"explicit\"" "$work/topm/top2-global/config.json"'
paper="steps=1 lrs=1e-3 eval_questions=4 full_questions=4 attribution_sequences=4 batch=2 probe_sequences=2 timing_steps=1"
run run "$top/lua/experiments/paper_table.lua" out="$work/paper" $paper
check "experiments/paper_table.lua runs the reduced matrix, sweeps and timings into OUT/results.md, not docs/" \
    '[ $status -eq 0 ] && [ ! -e docs/results.md.tmp ] && [ $(grep -c "^| [A-Za-z]* | [a-zA-Z ]* | [0-9.]* | 1e-3 | 1\*\{0,1\} |" "$work/paper/results.md") -eq 11 ] && grep -q "^| top | overlap |" "$work/paper/results.md" && [ $(grep -c "^| [A-Za-z, -]* | 0\.[0-9]* |$" "$work/paper/results.md") -ge 3 ] && [ "$(cat "$work/paper/wall-seconds" | wc -l)" -eq 1 ]'
run run "$top/lua/experiments/paper_table.lua" out="$work/paper" $paper
check "experiments/paper_table.lua resumes: a second run keeps the finished runs and adds its wall time" \
    '[ $status -eq 0 ] && ! grep -q "s\] [a-z-]*@lr=1e-3$" "$work/stdout" && grep -q "s\] time-all$" "$work/stdout" && [ "$(cat "$work/paper/wall-seconds" | wc -l)" -eq 2 ]'

echo "1..$count"
