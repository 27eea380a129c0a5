#!/bin/sh
# The interactive workbench (uoe-wb tui), driven through tmux: each session
# starts uoe-wb in a detached tmux session of a fixed size, sends keys,
# captures the pane and checks what is on screen: the header, a heatmap row
# for every layer, the help screen, pause and single steps moving the step
# counter, a cell's numbers under the cursor, retargeting, alpha and the
# learning rate, the views, resizing to 80x24 and 200x60, plot export, and q
# leaving the terminal as it found it. The run is the default model on a
# tiny world with small batches, so each step takes milliseconds. Prints TAP.
set -u
# absolute paths: the sessions run in the work folder
top=$(cd "${top_srcdir:-.}" && pwd)
data=$(cd "${UOE_TEST_DATA:-$top/tests}" && pwd)
wb=${UOE_WB:-$top/src/uoe-wb}
model=$top/data/models/default

if ! command -v tmux >/dev/null 2>&1; then
    echo "1..0 # SKIP tmux is not installed"
    exit 0
fi

work=$(mktemp -d)
socket=uoe-wb-test-$$
# a private tmux server with no configuration of the user's
tm() {
    tmux -L "$socket" -f /dev/null "$@"
}
trap 'tm kill-server >/dev/null 2>&1; rm -rf "$work"' EXIT
count=0
screen=$work/screen

world=$work/world
mkdir -p "$world/splits"
head -n 12 "$top/data/world/corpus/pathogens.jsonl" >"$world/splits/forget.jsonl"
head -n 12 "$top/data/world/corpus/cities.jsonl" >"$world/splits/retain.jsonl"
cp "$data/fixtures/mcq/tiny.jsonl" "$world/splits/forget_mcq.jsonl"
cp "$data/fixtures/mcq/tiny.jsonl" "$world/splits/utility_mcq.jsonl"
small="--world $world --steps 100000 --eval-every 100000 --snapshot-every 10 --forget-batch 2 \
--retain-batch 2 --probe-sequences 4 --max-seq-len 64 --eval-questions 9 --no-baseline --paused"

# start NAME COLS ROWS ENV...: uoe-wb tui in a new session; the shell records
# the terminal settings before and after, and the exit status
start() {
    name=$1 cols=$2 rows=$3
    shift 3
    tm new-session -d -x "$cols" -y "$rows" -s "$name" \
        "cd '$work' && stty -g >$name.stty-before; env OMP_NUM_THREADS=1 $* '$wb' tui '$model' $small --out '$work/$name'; echo \"exit status \$?\"; stty -g >$name.stty-after; sleep 600"
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

echo "1..$count"
