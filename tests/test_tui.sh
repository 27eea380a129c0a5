#!/bin/sh
# The interactive workbench (uoe-wb tui), driven through tmux: each session
# starts uoe-wb in a detached tmux session of a fixed size, sends keys,
# captures the pane and checks what is on screen: the header, a heatmap row
# for every layer, the help screen, pause and single steps moving the step
# counter, a cell's numbers under the cursor, retargeting, alpha and the
# learning rate, the views, resizing to 80x24 and 200x60, plot export, and q
# leaving the terminal as it found it. Then the same for a Lua script
# (lua/experiments/default.lua, its print lines in the log pane), a script
# that fails, and bare uoe-wb. The run is the default model on a tiny world
# with small batches, so each step takes milliseconds. First, without a
# terminal: SIGTERM and SIGINT stopping `uoe-wb run`, and `uoe-wb tui
# SCRIPT.lua` running headless as `uoe-wb run` does. Prints TAP.
set -u
# absolute paths: the sessions run in the work folder
top=$(cd "${top_srcdir:-.}" && pwd)
data=$(cd "${UOE_TEST_DATA:-$top/tests}" && pwd)
wb=${UOE_WB:-$top/src/uoe-wb}
model=$top/data/models/default

work=$(mktemp -d)
socket=uoe-wb-test-$$
# a private tmux server with no configuration of the user's
tm() {
    tmux -L "$socket" -f /dev/null "$@"
}
trap 'tm kill-server >/dev/null 2>&1; rm -rf "$work"' EXIT
count=0
screen=$work/screen

# check DESCRIPTION CONDITION: one TAP line; on failure, the screen follows
check() {
    count=$((count + 1))
    if eval "$2"; then
        echo "ok $count - $1"
    else
        echo "not ok $count - $1"
        sed 's/^/#   /' "$screen"
    fi
}

has() {
    grep -Eq "$1" "$screen"
}

world=$work/world
mkdir -p "$world/splits"
head -n 12 "$top/data/world/corpus/pathogens.jsonl" >"$world/splits/forget.jsonl"
head -n 12 "$top/data/world/corpus/cities.jsonl" >"$world/splits/retain.jsonl"
cp "$data/fixtures/mcq/tiny.jsonl" "$world/splits/forget_mcq.jsonl"
cp "$data/fixtures/mcq/tiny.jsonl" "$world/splits/utility_mcq.jsonl"
small="--world $world --steps 100000 --eval-every 100000 --snapshot-every 10 --forget-batch 2 \
--retain-batch 2 --probe-sequences 4 --max-seq-len 64 --eval-questions 9 --no-baseline --paused"
# the same, as keys of lua/experiments/default.lua (an evaluation and a snapshot every 25 steps)
script=$top/lua/experiments/default.lua
small_keys="world=$world steps=100000 eval_every=25 forget_batch=2 retain_batch=2 probe_sequences=4 \
eval_questions=9"

# a script that prints, warns, then fails
cat >"$work/broken.lua" <<'EOF'
name = "broken"
function experiment(args)
    print("before the error")
    warn("@on")
    warn("a ", "warning")
    local missing = nil
    return missing.field
end
EOF

# ---- without a terminal ----

# signal_run SIGNAL: uoe-wb run default.lua, sent SIGNAL once its first
# progress line is out; sets status
signal_run() {
    out=$work/signal-run-$1
    env OMP_NUM_THREADS=1 "$wb" run "$script" $small_keys model="$model" out="$out" \
        >"$out.stdout" 2>"$out.stderr" &
    pid=$!
    tries=0
    until grep -q "^step" "$out.stdout" 2>/dev/null || [ $tries -ge 150 ]; do
        sleep 0.2
        tries=$((tries + 1))
    done
    kill -"$1" $pid
    wait $pid
    status=$?
}
screen=$work/signal-run-TERM.stderr
signal_run TERM
check "uoe-wb run: SIGTERM stops the script after its step: exit 143, the summary names SIGTERM" \
    '[ $status -eq 143 ] && has "default.lua: interrupted \(SIGTERM\)$" && grep -q "\"stopped\": \"interrupted (SIGTERM) after step [0-9]* of 100000\"" "$work/signal-run-TERM/uoe/summary.json"'
screen=$work/signal-run-INT.stderr
signal_run INT
check "uoe-wb run: SIGINT likewise, with exit 130 and SIGINT in the summary" \
    '[ $status -eq 130 ] && has "default.lua: interrupted$" && grep -q "\"stopped\": \"interrupted (SIGINT) after step [0-9]* of 100000\"" "$work/signal-run-INT/uoe/summary.json"'

screen=$work/headless.stdout
"$wb" tui "$work/broken.lua" >"$screen" 2>"$work/headless.stderr"
status=$?
check "uoe-wb tui SCRIPT.lua without a terminal runs it as uoe-wb run: print on stdout, the error on stderr" \
    '[ $status -eq 1 ] && has "^before the error$" && grep -q "broken.lua:7: attempt to index a nil value" "$work/headless.stderr"'

if ! command -v tmux >/dev/null 2>&1; then
    echo "1..$count # SKIP the workbench's tests: tmux is not installed"
    exit 0
fi

# ---- in a terminal ----

# launch NAME COLS ROWS COMMAND: a new session running COMMAND in the work
# folder on one thread; the shell records the terminal settings before and
# after, and the exit status
launch() {
    name=$1
    tm new-session -d -x "$2" -y "$3" -s "$name" \
        "cd '$work' && stty -g >$name.stty-before; env OMP_NUM_THREADS=1 $4; echo \"exit status \$?\"; stty -g >$name.stty-after; sleep 600"
}

# start NAME COLS ROWS ENV...: uoe-wb tui on the model with small settings
start() {
    name=$1 cols=$2 rows=$3
    shift 3
    launch "$name" "$cols" "$rows" "$* '$wb' tui '$model' $small --out '$work/$name'"
}

capture() {
    tm capture-pane -p -t "$1" >"$screen" 2>/dev/null
}

# wait_for SESSION PATTERN: until the pane matches the extended regex (15 s at
# most); gives up at once when uoe-wb has exited
wait_for() {
    tries=0
    while [ $tries -lt 75 ]; do
        capture "$1" || return 1
        grep -Eq "$2" "$screen" && return 0
        grep -q "^exit status" "$screen" && return 1
        sleep 0.2
        tries=$((tries + 1))
    done
    return 1
}

keys() {
    session=$1
    shift
    tm send-keys -t "$session" "$@"
}

# clean_layout ROWS COLS: the pane holds one frame of that size and nothing else
clean_layout() {
    [ "$(wc -l <"$screen")" -eq "$1" ] &&
        [ "$(LC_ALL=C tr -d '\200-\277' <"$screen" | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')" -le "$2" ] &&
        head -n 1 "$screen" | grep -q "^ uoe-wb" && tail -n 1 "$screen" | grep -q "^ space pause" &&
        [ "$(grep -c "Routing:" "$screen")" -eq 1 ] && [ "$(grep -c "Router shift" "$screen")" -eq 1 ] &&
        [ "$(grep -c "Loss terms" "$screen")" -eq 1 ] && [ "$(grep -c "FE and UT over" "$screen")" -eq 1 ] &&
        [ "$(grep -c " Log " "$screen")" -eq 1 ] && has "^ *L0/1" && has "^ *L2/3"
}

start wb 120 40 LANG=C.UTF-8
wait_for wb "⏸ paused.*step 0/100000" && wait_for wb "UT 0\.[0-9]{4}"
check "the header names the run, its method, set, tunable fraction, target, lr, alpha, FE and UT" \
    'has "run 1-ga-uoe" && has "paused" && has "step 0/100000" && has "method ga" && has "set uoe \([0-9.]+% tunable\)" && has "target L[0-9]+ E[0-9]+" && has "lr 1\.0e-03" && has "α 1 " && has "FE 0\.[0-9]{4}" && has "UT 0\.[0-9]{4}"'
check "the heatmap has a row for each pair of the 4 layers, 16 experts of half blocks each" \
    '[ "$(grep -Ec "^ *L0/1.{2}([▀◆+]{4}){16}" "$screen")" -eq 1 ] && [ "$(grep -Ec "^ *L2/3.{2}([▀◆+]{4}){16}" "$screen")" -eq 1 ]'
check "the heatmap has a ruler of expert numbers and a legend" \
    'has "^ +0 +1 +2 .* 15 " && has "◆ target  \+ cursor"'

keys wb '?'
wait_for wb "workbench: keys"
check "? opens the help, which lists every key" \
    'has "space +pause or resume" && has "arrow keys" && has "mouse click" && has "^.*│ t +unlearn the expert" && has "│ v +heatmap" && has "│ f +heatmap probe" && has "│ a, A +router anchor" && has "│ l, L +peak learning rate" && has "│ e +export" && has "│ \?, F1 +this help" && has "│ q, F10 +quit"'
keys wb Escape
sleep 0.3
capture wb
check "any key closes the help" '! has "workbench: keys"'

# click COLUMN ROW: a press and a release of button 1 in X10 mouse encoding
# (ESC [ M, then bytes of 32 + the button (0, 3 = release), 33 + the column
# and 33 + the row)
click() {
    column=$(printf '\\%03o' $((33 + $1))) row=$(printf '\\%03o' $((33 + $2)))
    tm send-keys -t wb -l "$(printf "\\033[M $column$row\\033[M#$column$row")"
}
# expert 5 in the row of layers 2 and 3: labels take 6 columns, cells 4
click 26 6
wait_for wb "L2 E5 forget: count"
check "a mouse click puts the cursor on the cell" 'has "L2 E5 forget: count"'
click 26 6
wait_for wb "L3 E5 forget: count"
check "a second click on the packed cell takes its other layer" 'has "L3 E5 forget: count"'

keys wb Home Up Up Up Up Right Right Right Down
wait_for wb "L1 E3 forget: count"
check "the cursor's cell shows its count, share and change, rank, mean probability and gate score" \
    'has "L1 E3 forget: count [0-9]+  share 0\.[0-9]{4} \(Δ[-+]0\.[0-9]{4}\)  rank [0-9]+ of 16" && has "mean router prob 0\.[0-9]{4}  Eq\. 2 gate score 0\.[0-9]{4}"'

keys wb t
wait_for wb "run 2-ga-L1E3.*⏸ paused"
check "t before the first step starts the run again on the cursor's expert, still paused" \
    'has "run 2-ga-L1E3" && has "target L1 E3" && has "set explicit" && has "step 0/100000" && [ -s "$work/wb/1-ga-uoe/summary.json" ] && grep -q "retargeted to layer 1 expert 3 after step 0" "$work/wb/1-ga-uoe/summary.json"'

keys wb s
wait_for wb "paused.*step 1/100000"
check "s takes one step and pauses" 'has "paused.*step 1/100000"'
keys wb s
wait_for wb "paused.*step 2/100000"
check "s again takes the next" 'has "paused.*step 2/100000"'

keys wb Space
wait_for wb "running.*step [0-9]{2,}/100000"
check "space resumes: the step counter runs" 'has "running.*step [0-9]{2,}/100000"'
keys wb Space
wait_for wb "paused.*step"
before=$(grep -Eo "step [0-9]+/100000" "$screen")
sleep 1
capture wb
check "space pauses: the step counter stands still" \
    'has "paused" && [ "$(grep -Eo "step [0-9]+/100000" "$screen")" = "$before" ]'

keys wb A
wait_for wb "α 2 "
keys wb l
wait_for wb "lr 5\.0e-04"
check "A raises alpha and l lowers the learning rate, between steps" \
    'has "α 2 " && has "lr 5\.0e-04" && has "router anchor alpha 2 \(was 1\)"'

keys wb v
wait_for wb "change in share since step 0"
check "v shows the change since step 0" 'has "Routing: forget change in share since step 0"'
keys wb v
wait_for wb "Eq. 2 gate score"
check "v again shows the attribution" 'has "Routing: attribution: Eq. 2 gate score"'
keys wb v f
wait_for wb "Routing: retain selection share"
check "f switches to the retain probe" 'has "L1 E3 retain: count"'

tm resize-window -t wb -x 80 -y 24
sleep 1
capture wb
check "at 80x24 the frame is redrawn to fit, with nothing left over" 'clean_layout 24 80'
tm resize-window -t wb -x 200 -y 60
sleep 1
capture wb
check "at 200x60 likewise" 'clean_layout 60 200'
tm resize-window -t wb -x 120 -y 40

if command -v gnuplot >/dev/null 2>&1; then
    keys wb e
    wait_for wb "exported [0-9]+ plots to"
    check "e exports the run's plots through gnuplot into its directory" \
        'has "exported [0-9]+ plots to" && ls "$work/wb/2-ga-L1E3/plots/"*.png >/dev/null 2>&1'
else
    count=$((count + 1))
    echo "ok $count - e exports the run's plots # SKIP gnuplot is not installed"
fi

keys wb q
wait_for wb "Quit\?"
keys wb n
wait_for wb "cancelled"
check "q asks first while the run is going; n keeps it" 'has "cancelled" && has "paused"'
keys wb q y
wait_for wb "exit status"
check "q then y quits with status 0, back on the shell's screen, the results printed" \
    'has "exit status 0" && has "^2-ga-L1E3: FE" && ! has "Routing:" && ! has "uoe-wb │"'
check "the terminal settings are as before" \
    'cmp -s "$work/wb.stty-before" "$work/wb.stty-after"'
check "the run stopped after its step and wrote its summary" \
    'grep -q "stopped from the workbench after step" "$work/wb/2-ga-L1E3/summary.json"'

start mono 80 24 LANG=C.UTF-8 NO_COLOR=1
wait_for mono "⏸ paused.*step 0/100000" && wait_for mono "UT 0\.[0-9]{4}"
check "NO_COLOR: one layer per row, levels drawn as glyphs" \
    '[ "$(grep -Ec "^ *L[0-3][^E/]*[.:=+*#%@-]{4}" "$screen")" -eq 4 ] && ! has "▀"'
keys mono q y
wait_for mono "exit status"
check "NO_COLOR: q quits cleanly" 'has "exit status 0" && cmp -s "$work/mono.stty-before" "$work/mono.stty-after"'

start ascii 80 24 LANG=C
wait_for ascii "= paused.*step 0/100000" && wait_for ascii "UT 0\.[0-9]{4}"
check "without UTF-8: ASCII only, one layer per row" \
    'has "^ *L0> " && has "^ *L3( |$)" && ! grep -q "[^ -~]" "$screen"'
keys ascii q y
wait_for ascii "exit status"
check "without UTF-8: q quits cleanly" 'has "exit status 0"'

tm kill-session -t wb
start signal 80 24 LANG=C.UTF-8
wait_for signal "⏸ paused.*step 0/100000"
tm send-keys -t signal C-c
wait_for signal "exit status"
check "Ctrl-C stops the run, restores the terminal and exits 130" \
    'has "exit status 130" && cmp -s "$work/signal.stty-before" "$work/signal.stty-after" && grep -q "stopped from the workbench" "$work/signal/1-ga-uoe/summary.json"'

# ---- a Lua script in the workbench ----

launch lua 120 40 "LANG=C.UTF-8 '$wb' tui --paused '$script' model='$model' $small_keys out='$work/lua'"
wait_for lua "⏸ paused.*step 0/100000" && wait_for lua "UT 0\.[0-9]{4}"
check "a script: the header names the script, its run, method, set, target, lr, alpha, FE and UT" \
    'has "^ uoe-wb │ default\.lua │ run 1-uoe │" && has "step 0/100000" && has "method ga" && has "set uoe \([0-9.]+% tunable\)" && has "target L[0-9]+ E[0-9]+" && has "lr 1\.0e-03" && has "α 1 " && has "FE 0\.[0-9]{4}" && has "UT 0\.[0-9]{4}"'
check "a script: the heatmap has a row for each pair of the 4 layers, 16 experts each" \
    '[ "$(grep -Ec "^ *L0/1.{2}([▀◆+]{4}){16}" "$screen")" -eq 1 ] && [ "$(grep -Ec "^ *L2/3.{2}([▀◆+]{4}){16}" "$screen")" -eq 1 ]'
check "a script: its print lines go to the log pane" 'has "│== uoe$" && ! has "^== uoe"'
keys lua s
wait_for lua "paused.*step 1/100000"
check "a script: s takes one step and pauses" 'has "paused.*step 1/100000"'
keys lua s
wait_for lua "paused.*step 2/100000"
check "a script: s again takes the next" 'has "paused.*step 2/100000"'
keys lua Space
wait_for lua "running.*step [0-9]{2,}/100000"
check "a script: space resumes, the step counter runs" 'has "running.*step [0-9]{2,}/100000"'
keys lua Space
wait_for lua "paused.*step"
before=$(grep -Eo "step [0-9]+/100000" "$screen")
sleep 1
capture lua
check "a script: space pauses, the step counter stands still" \
    'has "paused" && [ "$(grep -Eo "step [0-9]+/100000" "$screen")" = "$before" ]'
keys lua A
wait_for lua "α 2 "
check "a script: A raises alpha between its run's steps" 'has "α 2 " && has "router anchor alpha 2 \(was 1\)"'
keys lua Right t
wait_for lua "retarget is not available"
check "a script: t says in the log that its runs cannot be retargeted" \
    'has "│retarget is not available for Lua scripts" && has "run 1-uoe"'
keys lua v
wait_for lua "change in share since step 0"
check "a script: v switches the heatmap view" 'has "Routing: forget change in share since step 0"'
keys lua q y
wait_for lua "exit status"
check "a script: q then y quits with status 0, the results printed, the terminal as before" \
    'has "exit status 0" && has "^1-uoe: FE" && ! has "Routing:" && cmp -s "$work/lua.stty-before" "$work/lua.stty-after"'
check "a script: its run stopped after its step and wrote its summary; the script went no further" \
    'grep -q "\"stopped\": \"stopped from the workbench after step [0-9]* of 100000\"" "$work/lua/uoe/summary.json" && [ ! -e "$work/lua/ga-all" ]'

launch broken 120 40 "LANG=C.UTF-8 '$wb' tui '$work/broken.lua'"
wait_for broken "failed"
check "a failing script: the error (file:line) and its traceback show, after its print and warn lines" \
    'has "^ uoe-wb │ broken\.lua +│.*failed" && has "│before the error$" && has "│Lua warning: a warning$" && has "│error: .*broken\.lua:7: attempt to index a nil value" && has "│stack traceback:$" && has "│ +.*broken\.lua:7: in function"'
keys broken q
wait_for broken "exit status"
check "a failing script: q exits 1 with the error on the terminal, restored" \
    'has "exit status 1" && has "^uoe-wb: .*broken\.lua:7: attempt to index a nil value" && cmp -s "$work/broken.stty-before" "$work/broken.stty-after"'

# bare uoe-wb: experiments/default.lua, found first on UOE_LUA_PATH, is the
# shipped one on the tiny world
mkdir -p "$work/lua-path/experiments"
cat >"$work/lua-path/experiments/default.lua" <<EOF
local shipped = setmetatable({}, {__index = _G})
assert(loadfile("$script", "t", shipped))()
name, description, defaults = shipped.name, shipped.description, shipped.defaults
function experiment(args)
    print("the default experiment, small")
    for key, value in string.gmatch("$small_keys", "([%w_]+)=(%S+)") do
        args[key] = tonumber(value) or value
    end
    return shipped.experiment(args)
end
EOF
launch bare 120 40 "LANG=C.UTF-8 UOE_LUA_PATH='$work/lua-path:$top/lua' '$wb'"
wait_for bare "running.*step [0-9]{2,}/100000"
check "bare uoe-wb runs experiments/default.lua in the workbench, into runs/tui-*" \
    'has "^ uoe-wb │ default\.lua │ run 1-uoe │" && has "│the default experiment, small$" && has "│== uoe$" && has "│== 1-uoe: runs/tui-[0-9]{8}-[0-9]{6}/uoe$"'
keys bare q y
wait_for bare "exit status"
check "bare uoe-wb: q then y quits with status 0, its run directory written" \
    'has "exit status 0" && grep -q "stopped from the workbench" "$work"/runs/tui-*/uoe/summary.json'

# SIGTERM to the workbench running a script: exec keeps the pid the shell wrote
launch term 80 24 "LANG=C.UTF-8 sh -c 'echo \$\$ >term.pid; exec \"\$@\"' sh '$wb' tui --paused '$script' model='$model' $small_keys out='$work/term'"
wait_for term "⏸ paused.*step 0/100000"
kill -TERM "$(cat "$work/term.pid")"
wait_for term "exit status"
check "SIGTERM stops a script in the workbench: exit 143, the terminal restored, the summary written" \
    'has "exit status 143" && cmp -s "$work/term.stty-before" "$work/term.stty-after" && grep -q "stopped from the workbench" "$work/term/uoe/summary.json"'

echo "1..$count"
