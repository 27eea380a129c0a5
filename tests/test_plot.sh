#!/bin/sh
# uoe-wb plot: every plot in every format from the fixture run directories
# (scripts/make-run-fixtures), the data in the scripts against the run's own
# files, --compare, and the failure paths (gnuplot missing or failing, a
# corrupt run directory), which must leave no file behind. Prints TAP.
set -u
top=${top_srcdir:-.}
data=${UOE_TEST_DATA:-$top/tests}
wb=${UOE_WB:-./src/uoe-wb}
run_dir=$data/fixtures/run
compare_dir=$data/fixtures/run-compare
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
count=0
status=0
: >"$work/stdout"
: >"$work/stderr"

. "$top/tests/tap.sh"

# The rendering checks need gnuplot with its cairo terminals; without it they
# are skipped and only the failure paths run.
if gnuplot -e 'set terminal pngcairo; set terminal pdfcairo; set terminal svg' >/dev/null 2>&1; then
    have_gnuplot=yes
else
    have_gnuplot=no
fi
# rendered DESCRIPTION CONDITION: a check that needs gnuplot
rendered() {
    if [ "$have_gnuplot" = yes ]; then
        check "$1" "$2"
    else
        count=$((count + 1))
        echo "ok $count - $1 # SKIP gnuplot with the pngcairo, pdfcairo and svg terminals not found"
    fi
}

# valid_png FILE, valid_svg FILE, valid_pdf FILE: the file is whole and of its type
valid_png() {
    [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
}
valid_svg() {
    if command -v xmllint >/dev/null 2>&1; then
        xmllint --noout "$1" 2>/dev/null || return 1
    fi
    head -c 512 "$1" | grep -q '^<?xml\|^<svg' && tail -c 64 "$1" | grep -q '</svg>'
}
valid_pdf() {
    [ "$(head -c 5 "$1")" = "%PDF-" ] && tail -c 64 "$1" | grep -q '%%EOF'
}

# datablock SCRIPT NAME: the lines of one inline datablock of a kept script
datablock() {
    awk -v name="$2" '$0 == name " << EOD" { inside = 1; next } inside && $0 == "EOD" { exit }
                      inside { print }' "$1"
}

# fingerprint DIR: every file of a folder with its checksum
fingerprint() {
    (cd "$1" && find . -type f -exec cksum {} + | sort)
}

# files_in DIR: how many files a folder holds (0 if it does not exist)
files_in() {
    if [ -d "$1" ]; then find "$1" -type f | wc -l | tr -d ' '; else echo 0; fi
}

run plot --help
check "plot --help exits 0 and names every plot" \
    '[ $status -eq 0 ] && grep -q "^Usage: uoe-wb plot RUN_DIR" "$work/stdout" && grep -q "routing-heatmap-forget" "$work/stdout" && grep -q "compare-scatter" "$work/stdout"'

run --help
check "the command list names plot" '[ $status -eq 0 ] && grep -q "^  plot RUN_DIR" "$work/stdout"'

# ---- every plot in every format ----
target_layer=$(awk '/"anchor": \{/ { a = 1 } a && /"layer":/ { gsub(/[^0-9]/, ""); print; exit }' "$run_dir/config.json")
plots="routing-heatmap-forget routing-heatmap-retain token-overlap loss fe-ut expert-share-layer$target_layer"
before=$(fingerprint "$run_dir")
for format in png svg pdf; do
    run plot "$run_dir" --format "$format" --out "$work/$format"
    rendered "plot --format $format renders the six plots and lists them" \
        '[ $status -eq 0 ] && [ "$(wc -l <"$work/stdout")" -eq 6 ] && [ "$(files_in "$work/$format")" -eq 6 ]'
    for plot in $plots; do
        rendered "$plot.$format is a whole $format file" "valid_$format \"\$work/$format/$plot.$format\""
    done
done
check "the run directory is left as it was" '[ "$(fingerprint "$run_dir")" = "$before" ]'

run plot "$run_dir" --format png,pdf --out "$work/both"
rendered "--format png,pdf renders each plot in both formats" \
    '[ $status -eq 0 ] && [ "$(files_in "$work/both")" -eq 12 ] && valid_pdf "$work/both/loss.pdf" && valid_png "$work/both/loss.png"'

# ---- the data in the scripts is the run's ----
kept=$work/kept
run plot "$run_dir" --keep-script --out "$kept"
rendered "--keep-script writes a script beside each plot" \
    '[ $status -eq 0 ] && [ "$(ls "$kept"/*.png.gp | wc -l)" -eq 6 ]'

# The forget probe's share (%) of each expert in each MoE layer at step 0, from
# routing/step_000000.json: selections / (tokens * experts_per_token).
awk '/"forget": \{/ { p = 1 } /"retain": \{/ { p = 0 }
     p && /"tokens":/ { gsub(/[^0-9]/, ""); tokens = $0 }
     p && /"experts_per_token":/ { gsub(/[^0-9]/, ""); k = $0 }
     p && /"selections": \[/ { inside = 1; rows++; cols = 0; next }
     inside && /\]/ { inside = 0; next }
     inside { gsub(/[ ,]/, ""); value[rows, ++cols] = $0; width = cols }
     END { for (r = 1; r <= rows; r++) { line = "";
               for (c = 1; c <= width; c++) line = line (c > 1 ? " " : "") 100 * value[r, c] / (tokens * k);
               print line } }' "$run_dir/routing/step_000000.json" >"$work/expected_share"
datablock "$kept/routing-heatmap-forget.png.gp" '$share_step0' >"$work/share_step0"
moe_layers=$(wc -l <"$work/expected_share" | tr -d ' ')
experts=$(head -n 1 "$work/expected_share" | wc -w | tr -d ' ')
rendered "the step-0 heatmap holds one row per MoE layer ($moe_layers) of one value per expert ($experts)" \
    '[ "$(wc -l <"$work/share_step0")" -eq "$moe_layers" ] && [ "$(awk -v e="$experts" "NF != e" "$work/share_step0" | wc -l)" -eq 0 ] && [ "$moe_layers" -gt 0 ]'
rendered "the step-0 heatmap values are the selection shares of routing/step_000000.json" \
    'paste -d " " "$work/expected_share" "$work/share_step0" | awk -v e="$experts" "{ for (i = 1; i <= e; i++) if (\$i - \$(i + e) > 1e-4 || \$(i + e) - \$i > 1e-4) bad = 1 } END { exit bad }"'
rendered "the target expert is boxed in the heatmap" \
    'grep -q "boxed: the target expert (layer $target_layer" "$kept/routing-heatmap-forget.png.gp" && grep -q "^set object 2 rectangle" "$kept/routing-heatmap-forget.png.gp"'

snapshots=$(grep -c '"type":"snapshot"' "$run_dir/metrics.jsonl")
steps=$(grep -c '"type":"step"' "$run_dir/metrics.jsonl")
evals=$(grep -c '"type":"eval"' "$run_dir/metrics.jsonl")
rendered "the token-overlap data has one row per snapshot ($snapshots) with a column per MoE layer" \
    '[ "$(datablock "$kept/token-overlap.png.gp" "\$overlap_forget" | wc -l)" -eq "$snapshots" ] && [ "$(datablock "$kept/token-overlap.png.gp" "\$overlap_retain" | awk "{ print NF }" | sort -u)" = "$((moe_layers + 1))" ]'
rendered "the loss data has one row per step line ($steps) and the FE/UT data one per eval line ($evals)" \
    '[ "$(datablock "$kept/loss.png.gp" "\$steps" | wc -l)" -eq "$steps" ] && [ "$(datablock "$kept/fe-ut.png.gp" "\$evals" | wc -l)" -eq "$evals" ]'
first_fe=$(grep -m 1 '"type":"eval"' "$run_dir/metrics.jsonl" | sed 's/.*"fe":\([0-9.e-]*\).*/\1/')
rendered "the FE/UT data starts with the first evaluation's FE" \
    'datablock "$kept/fe-ut.png.gp" "\$evals" | head -n 1 | awk -v fe="$first_fe" "{ exit !(\$2 - fe < 1e-5 && fe - \$2 < 1e-5) }"'
rendered "every plot has a title and labelled axes" \
    'for f in "$kept"/*.gp; do grep -q "title \"" "$f" && grep -q "^set xlabel \"" "$f" && grep -q "^set ylabel \"" "$f" || exit 1; done'
rendered "the heatmaps use a viridis scale and a diverging one for the change" \
    'grep -q "0 .#440154.*1 .#fde725." "$kept/routing-heatmap-retain.png.gp" && grep -q "0.5 .#f7f7f7." "$kept/routing-heatmap-retain.png.gp"'

rm -f "$kept/loss.png"
rendered "a kept script re-renders its plot alone, from its folder" \
    '(cd "$kept" && gnuplot loss.png.gp) >/dev/null 2>&1 && valid_png "$kept/loss.png"'

run plot "$run_dir" --layer 0 --out "$work/layer0"
rendered "--layer picks the layer of the expert-share bars" \
    '[ $status -eq 0 ] && valid_png "$work/layer0/expert-share-layer0.png"'
run plot "$run_dir" --layer 99 --out "$work/layer99"
check "--layer of a layer that is not an MoE layer fails naming it, writing nothing" \
    '[ $status -eq 1 ] && grep -q "layer 99.*not an MoE layer" "$work/stderr" && [ ! -e "$work/layer99" ]'
run plot "$run_dir" --layer x
check "--layer that is not a number is a usage error" '[ $status -eq 2 ]'
run plot "$run_dir" --format gif
check "an unknown format is a usage error naming it" '[ $status -eq 2 ] && grep -q "gif" "$work/stderr"'

# ---- --compare ----
for format in png svg pdf; do
    run plot "$run_dir" "$compare_dir" --compare --format "$format" --out "$work/compare-$format"
    rendered "--compare --format $format renders a whole scatter and bar chart" \
        '[ $status -eq 0 ] && [ "$(files_in "$work/compare-$format")" -eq 2 ] && valid_$format "$work/compare-$format/compare-scatter.$format" && valid_$format "$work/compare-$format/compare-bars.$format"'
done
run plot "$run_dir" "$compare_dir" --compare --keep-script --out "$work/compare-kept"
compare_method=$(sed -n 's/^ *"method": "\(.*\)",$/\1/p' "$compare_dir/summary.json")
rendered "the comparison holds one point per run, labelled by method and set" \
    '[ "$(datablock "$work/compare-kept/compare-scatter.png.gp" "\$runs" | wc -l)" -eq 2 ] && grep -q "\"graddiff + uoe\"" "$work/compare-kept/compare-scatter.png.gp" && grep -q "\"$compare_method + uoe\"" "$work/compare-kept/compare-bars.png.gp"'
run plot "$run_dir" "$compare_dir"
check "several run directories without --compare is a usage error" \
    '[ $status -eq 2 ] && grep -q "need --compare" "$work/stderr"'

# ---- gnuplot missing or failing ----
mkdir -p "$work/bin" "$work/old"
run_without_gnuplot() {
    env -u UOE_GNUPLOT PATH="$work/bin" "$wb" "$@" >"$work/stdout" 2>"$work/stderr"
    status=$?
}
run_without_gnuplot plot "$run_dir" --out "$work/no-gnuplot"
check "without gnuplot on PATH: status 1, a message saying so, no files" \
    '[ $status -eq 1 ] && grep -q "cannot run gnuplot .gnuplot. (not found)" "$work/stderr" && grep -q "not found" "$work/stderr" && [ ! -e "$work/no-gnuplot" ]'

UOE_GNUPLOT=/nonexistent/gnuplot run plot "$run_dir" --out "$work/nonexistent"
check "UOE_GNUPLOT naming a missing program: status 1, its name and the shell's message, no files" \
    '[ $status -eq 1 ] && grep -q "/nonexistent/gnuplot" "$work/stderr" && grep -q "UOE_GNUPLOT" "$work/stderr" && [ ! -e "$work/nonexistent" ]'

printf 'old plot\n' >"$work/old/routing-heatmap-forget.png"
UOE_GNUPLOT=false run plot "$run_dir" --out "$work/old"
check "a gnuplot that fails: status 1, the exit status, and the old plot left whole" \
    '[ $status -eq 1 ] && grep -q "failed (exit status 1)" "$work/stderr" && [ "$(cat "$work/old/routing-heatmap-forget.png")" = "old plot" ] && [ "$(files_in "$work/old")" -eq 1 ]'

cat >"$work/bin/failing-gnuplot" <<'EOF'
#!/bin/sh
cat >/dev/null
echo "line 7: unknown or ambiguous terminal type; type just 'set terminal' for a list" >&2
exit 3
EOF
chmod +x "$work/bin/failing-gnuplot"
UOE_GNUPLOT=$work/bin/failing-gnuplot run plot "$run_dir" --out "$work/failing"
check "gnuplot's own stderr is in the message" \
    '[ $status -eq 1 ] && grep -q "exit status 3" "$work/stderr" && grep -q "unknown or ambiguous terminal type" "$work/stderr" && [ ! -e "$work/failing" ]'

UOE_GNUPLOT=true run plot "$run_dir" --out "$work/silent"
check "a gnuplot that exits 0 without writing the plot is an error, leaving nothing" \
    '[ $status -eq 1 ] && grep -q "without writing the plot" "$work/stderr" && [ ! -e "$work/silent" ]'

# ---- corrupt run directories ----
# corrupt NAME: a copy of the fixture run to break
corrupt() {
    rm -rf "$work/$1"
    cp -R "$run_dir" "$work/$1"
    echo "$work/$1"
}

broken=$(corrupt truncated-metrics)
lines=$(wc -l <"$broken/metrics.jsonl" | tr -d ' ')
head -c $(($(wc -c <"$run_dir/metrics.jsonl") - 25)) "$run_dir/metrics.jsonl" >"$broken/metrics.jsonl"
run plot "$broken" --out "$work/out-truncated"
check "a truncated metrics.jsonl line fails naming the file and line, drawing nothing" \
    '[ $status -eq 1 ] && grep -q "metrics.jsonl: line $lines: invalid JSON" "$work/stderr" && [ ! -e "$work/out-truncated" ]'

broken=$(corrupt missing-routing)
rm "$broken/routing/step_000002.json"
run plot "$broken" --out "$work/out-routing"
check "a missing routing snapshot fails naming the file, drawing nothing" \
    '[ $status -eq 1 ] && grep -q "routing/step_000002.json: cannot open" "$work/stderr" && [ ! -e "$work/out-routing" ]'

broken=$(corrupt invalid-summary)
printf '{"method": "graddiff", "fe": \n' >"$broken/summary.json"
run plot "$broken" --out "$work/out-summary"
check "an invalid summary.json fails naming the file, drawing nothing" \
    '[ $status -eq 1 ] && grep -q "summary.json: line [0-9]*, column [0-9]*: invalid JSON" "$work/stderr" && [ ! -e "$work/out-summary" ]'

broken=$(corrupt missing-config)
rm "$broken/config.json"
run plot "$broken" --out "$work/out-config"
check "a missing config.json fails naming the file" \
    '[ $status -eq 1 ] && grep -q "config.json: cannot open" "$work/stderr" && [ ! -e "$work/out-config" ]'

broken=$(corrupt short-selections)
awk '/"selections": \[/ && !done { print; getline; done = 1; next } { print }' \
    "$run_dir/routing/step_000004.json" >"$broken/routing/step_000004.json"
run plot "$broken" --out "$work/out-selections"
check "a routing snapshot with an expert missing fails naming the file and key" \
    '[ $status -eq 1 ] && grep -q "step_000004.json: forget: layers\[0\]: key \"selections\"" "$work/stderr" && [ ! -e "$work/out-selections" ]'

run plot "$run_dir" "$work/missing-config" --compare --out "$work/out-compare"
check "--compare checks every run before drawing" \
    '[ $status -eq 1 ] && grep -q "missing-config/config.json" "$work/stderr" && [ ! -e "$work/out-compare" ]'

run plot "$work/no-such-run"
check "a missing run directory fails naming it" \
    '[ $status -eq 1 ] && grep -q "no-such-run" "$work/stderr"'

echo "1..$count"
