#!/bin/sh
# The command-line contract: exit statuses, --help/--version, info and logits
# on the fixtures, and clear errors for bad input. Prints TAP.
set -u
top=${top_srcdir:-.}
data=${UOE_TEST_DATA:-$top/tests}
wb=${UOE_WB:-./src/uoe-wb}
fixture=$data/fixtures/hf/qwen2_moe
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
count=0

. "$top/tests/tap.sh"

run --help
check "--help exits 0 and lists the commands" \
    '[ $status -eq 0 ] && grep -q "^Usage: uoe-wb" "$work/stdout" && grep -q "info MODEL_DIR" "$work/stdout" && grep -q "logits MODEL_DIR" "$work/stdout" && grep -q "eval MODEL_DIR" "$work/stdout"'

run --version
check "--version exits 0 with the GNU first line" \
    '[ $status -eq 0 ] && head -n 1 "$work/stdout" | grep -Eq "^uoe-wb [0-9]+\.[0-9]+\.[0-9]+$"'

run frobnicate
check "an unknown command is a usage error naming it" \
    '[ $status -eq 2 ] && grep -q "unknown command .frobnicate." "$work/stderr"'

run info "$fixture"
check "info prints the family, layout and parameter count" \
    '[ $status -eq 0 ] && grep -q "^family *qwen2_moe" "$work/stdout" && grep -q "0:moe 1:dense 2:moe" "$work/stdout" && grep -Eq "^parameters +[0-9]+" "$work/stdout"'

run info "$fixture" --json
check "info --json prints one JSON object with the MoE layout" \
    '[ $status -eq 0 ] && head -c 1 "$work/stdout" | grep -q "{" && grep -q "\"num_moe_layers\": 2" "$work/stdout" && grep -q "\"uoe_fraction\"" "$work/stdout"'

run info "$work/no-such-model"
check "info on a missing directory fails naming the path" \
    '[ $status -eq 1 ] && grep -q "no-such-model" "$work/stderr"'

run logits "$fixture" --ids 1,2,3,4 --out "$work/logits.npy" --routing "$work/routing.npy"
check "logits writes both .npy files" \
    '[ $status -eq 0 ] && [ -s "$work/logits.npy" ] && [ -s "$work/routing.npy" ]'
check "the logits file has the NumPy magic and shape (4, 97)" \
    'head -c 6 "$work/logits.npy" | grep -q "NUMPY" && head -c 128 "$work/logits.npy" | grep -q "(4, 97)"'
check "the routing file holds int32 [M, T, K] = (2, 4, 2)" \
    'head -c 128 "$work/routing.npy" | grep -q "<i4" && head -c 128 "$work/routing.npy" | grep -q "(2, 4, 2)"'

run logits "$fixture" --ids 1,200 --out "$work/bad.npy"
check "an out-of-vocabulary id is rejected and no file is written" \
    '[ $status -eq 1 ] && grep -q "outside the vocabulary" "$work/stderr" && [ ! -e "$work/bad.npy" ]'

run logits "$fixture" --ids 1,x --out "$work/bad.npy"
check "malformed ids are rejected" '[ $status -eq 1 ] && grep -q "comma-separated" "$work/stderr"'

run logits "$fixture" --out "$work/bad.npy"
check "logits without --ids is a usage error" '[ $status -eq 2 ]'

run logits "$fixture" --ids 1,2 --out "$work/missing-dir/x.npy"
check "an unwritable output path fails naming it" \
    '[ $status -eq 1 ] && grep -q "missing-dir" "$work/stderr"'

# eval on the multiple-choice fixture; acc and acc_norm as its goldens give them
mcq=$data/fixtures/mcq
acc=$(sed -n 's/^ *"acc": \([0-9.]*\),$/\1/p' "$mcq/expected.json")
acc_norm=$(sed -n 's/^ *"acc_norm": \([0-9.]*\),$/\1/p' "$mcq/expected.json")
run eval "$mcq/model" --mcq "$mcq/tiny.jsonl"
check "eval prints the questions, acc and acc_norm of the goldens" \
    '[ $status -eq 0 ] && grep -q "^questions 9$" "$work/stdout" && grep -q "^acc  *$(printf %.4f "$acc")$" "$work/stdout" && grep -q "^acc_norm  *$(printf %.4f "$acc_norm")$" "$work/stdout"'

run eval "$mcq/model" --mcq "$mcq/tiny.jsonl" --json --tokenizer "$mcq/model"
check "eval --json prints one object with file, questions, acc and acc_norm" \
    '[ $status -eq 0 ] && head -c 1 "$work/stdout" | grep -q "{" && grep -q "\"file\": \".*tiny.jsonl\"" "$work/stdout" && grep -q "\"questions\": 9" "$work/stdout" && grep -q "\"acc\": " "$work/stdout" && grep -q "\"acc_norm\": " "$work/stdout"'

run eval "$mcq/model"
check "eval without --mcq is a usage error" '[ $status -eq 2 ] && grep -q "Usage: uoe-wb eval" "$work/stderr"'

printf '{"question": "q", "choices": ["a", "b"], "answer": 0}\n{"question": "q", "choices": ["a", "b"], "answer": 2}\n' >"$work/bad.jsonl"
run eval "$mcq/model" --mcq "$work/bad.jsonl"
check "eval on a bad question fails naming the file and the line" \
    '[ $status -eq 1 ] && grep -q "^uoe-wb: .*bad.jsonl: line 2: \"answer\" 2 is out of range for 2 choices$" "$work/stderr"'

run eval "$mcq/model" --mcq "$mcq/tiny.jsonl" --tokenizer "$work/no-such-tokenizer.json"
check "eval with a missing tokenizer fails naming it" \
    '[ $status -eq 1 ] && grep -q "no-such-tokenizer.json" "$work/stderr"'

# tokenize with the GPT-2-style fixture tokenizer; the ids are those HF's tokenizers gives
tokenizer=$data/fixtures/tokenizer/gpt2
run tokenize "$tokenizer" --text "Hello world<|endoftext|>"
check "tokenize --text prints HF's ids on one line, special tokens recognised" \
    '[ $status -eq 0 ] && [ "$(cat "$work/stdout")" = "481 76 76 79 751 76 68 0" ]'

run tokenize "$tokenizer/tokenizer.json" --decode "481 76 76 79,751 76 68 0"
check "tokenize --decode prints the text of ids separated by spaces or commas" \
    '[ $status -eq 0 ] && [ "$(cat "$work/stdout")" = "Hello world<|endoftext|>" ]'

run tokenize "$tokenizer" --decode "1 99999"
check "tokenize --decode of an id outside the vocabulary fails naming it" \
    '[ $status -eq 1 ] && grep -q "token id 99999 is not in the vocabulary" "$work/stderr"'

run tokenize "$tokenizer"
check "tokenize without --text or --decode is a usage error" \
    '[ $status -eq 2 ] && grep -q "Usage: uoe-wb tokenize" "$work/stderr"'

run tokenize "$work/no-such-dir" --text "x"
check "tokenize with a missing tokenizer fails naming it" \
    '[ $status -eq 1 ] && grep -q "no-such-dir" "$work/stderr"'

# training on the fixture corpus learns what HF's trainer learned for the gpt2 fixture
run tokenize --train --vocab-size 800 --special "<|endoftext|>" --out "$work/trained.json" \
    "$data/fixtures/tokenizer/corpus.jsonl"
check "tokenize --train writes a tokenizer.json and says what it holds" \
    '[ $status -eq 0 ] && grep -q "trained.json: 800 tokens, 543 merges, from 69 texts" "$work/stdout"'
run tokenize "$work/trained.json" --text "Hello world<|endoftext|>"
check "the trained tokenizer encodes as the HF-trained one" \
    '[ $status -eq 0 ] && [ "$(cat "$work/stdout")" = "481 76 76 79 751 76 68 0" ]'

run tokenize --train --vocab-size 800 "$data/fixtures/tokenizer/corpus.jsonl"
check "tokenize --train without --out is a usage error" '[ $status -eq 2 ]'

mcq_model=$data/fixtures/mcq/model
corpus=$top/data/world/corpus/pathogens.jsonl
run train --config "$mcq_model/config.json" --tokenizer "$mcq_model/tokenizer.json" \
    --corpus "$corpus" --out "$work/trained" --steps 2 --batch 2 --seq-len 32 --log-every 1
check "train runs two steps and saves a model directory that info reads" \
    '[ $status -eq 0 ] && grep -q "^step 2/2" "$work/stdout" && [ -s "$work/trained/model.safetensors" ] && [ -s "$work/trained/tokenizer.json" ] && "$wb" info "$work/trained" >/dev/null'

run train --config "$mcq_model/config.json" --tokenizer "$mcq_model/tokenizer.json" \
    --corpus "$corpus" --out "$work/no-such-parent/trained" --steps 2
check "train refuses an output folder it cannot create before training" \
    '[ $status -eq 1 ] && grep -q "no-such-parent" "$work/stderr" && ! grep -q "^step" "$work/stdout"'

run train --tokenizer "$mcq_model/tokenizer.json" --corpus "$corpus" --out "$work/x"
check "train without --config or --init is a usage error" '[ $status -eq 2 ]'

world=$work/world
mkdir -p "$world/splits"
head -n 12 "$top/data/world/corpus/pathogens.jsonl" >"$world/splits/forget.jsonl"
head -n 12 "$top/data/world/corpus/cities.jsonl" >"$world/splits/retain.jsonl"
cp "$data/fixtures/mcq/tiny.jsonl" "$world/splits/forget_mcq.jsonl"
cp "$data/fixtures/mcq/tiny.jsonl" "$world/splits/utility_mcq.jsonl"
run unlearn "$mcq_model" --world "$world" --out "$work/run" --steps 4 --eval-every 2 \
    --snapshot-every 2 --forget-batch 2 --retain-batch 2 --method graddiff --save-model
check "unlearn runs 4 steps, printing a line per evaluation" \
    '[ $status -eq 0 ] && [ "$(grep -c "^step " "$work/stdout")" -eq 3 ] && grep -q "^done: FE" "$work/stdout"'
check "the run directory holds config, metrics, routing snapshots, summary and the model" \
    '[ -s "$work/run/config.json" ] && [ -s "$work/run/summary.json" ] && [ -s "$work/run/routing/step_000000.json" ] && [ -s "$work/run/routing/step_000004.json" ] && "$wb" info "$work/run/model" >/dev/null'
check "metrics.jsonl has one whole object per step, evaluation and snapshot (4 + 3 + 3 lines)" \
    '[ "$(grep -c "^{.*}$" "$work/run/metrics.jsonl")" -eq 10 ] && [ "$(wc -l <"$work/run/metrics.jsonl")" -eq 10 ]'
check "summary.json holds FE, UT, the mean forget overlap and the tunable fraction" \
    'grep -q "\"fe\":" "$work/run/summary.json" && grep -q "\"ut\":" "$work/run/summary.json" && grep -q "\"mean_forget_token_overlap\":" "$work/run/summary.json" && grep -q "\"tunable_fraction\":" "$work/run/summary.json"'
check "config.json records the seed, the method's reduction and the trainable set" \
    'grep -q "\"seed\": 1" "$work/run/config.json" && grep -q "\"reduction\":" "$work/run/config.json" && grep -q "\"name\": \"uoe\"" "$work/run/config.json"'

run unlearn "$mcq_model" --world "$world" --out "$work/run" --steps 1
check "unlearn refuses a directory that already holds a run" \
    '[ $status -eq 1 ] && grep -q "already holds a run" "$work/stderr"'

run attribute "$mcq_model" --forget "$world/splits/forget.jsonl" --halves --top 4 --rank-by selection
check "attribute --halves prints the top-1, top-k and top-N overlap of two disjoint halves" \
    '[ $status -eq 0 ] && [ "$(grep -c "^overlap of the top [124] between two disjoint halves: [01]\.[0-9]*$" "$work/stdout")" -eq 3 ]'

"$wb" attribute "$mcq_model" --forget "$world/splits/forget.jsonl" --json >"$work/attribution.json"
run unlearn "$mcq_model" --world "$world" --out "$work/run-attr" --steps 1 --attribution "$work/attribution.json"
check "unlearn takes a saved attribution and picks the same target as computing it" \
    '[ $status -eq 0 ] && grep -q "\"attribution\":" "$work/run-attr/config.json" && [ "$(grep -A4 "\"anchor\"" "$work/run-attr/config.json" | tail -2)" = "$(grep -A4 "\"anchor\"" "$work/run/config.json" | tail -2)" ]'

sed 's/"gate_score": \[/"gate_score": [[0.5],/' "$work/attribution.json" >"$work/bad-attribution.json"
run unlearn "$mcq_model" --world "$world" --out "$work/run-bad-attr" --steps 1 --attribution "$work/bad-attribution.json"
check "a saved attribution of the wrong shape fails naming the file and the key" \
    '[ $status -eq 1 ] && grep -q "bad-attribution.json: \"gate_score\"" "$work/stderr"'

run unlearn "$mcq_model" --world "$world" --out "$work/run2" --method gradient-ascent
check "an unknown method fails naming it" \
    '[ $status -eq 1 ] && grep -q "gradient-ascent" "$work/stderr"'

run unlearn "$mcq_model" --world "$world" --out "$work/run3" --set top9-layer
check "a trainable set larger than the layer fails with a message" \
    '[ $status -eq 1 ] && grep -q "experts" "$work/stderr"'

run unlearn "$mcq_model" --world "$work/no-world" --out "$work/run4"
check "a missing forget file fails naming it" \
    '[ $status -eq 1 ] && grep -q "no-world/splits/forget.jsonl" "$work/stderr"'

run unlearn "$mcq_model" --world "$world"
check "unlearn without --out is a usage error" '[ $status -eq 2 ] && grep -q "Usage: uoe-wb unlearn" "$work/stderr"'

run tui "$mcq_model" --world "$world" --out "$work/workbench" --steps 4 --eval-every 2 \
    --snapshot-every 2 --forget-batch 2 --retain-batch 2 --eval-questions 4
check "tui with stdout not a terminal runs the run and its baseline headless, with progress lines" \
    '[ $status -eq 0 ] && [ "$(grep -c "^== " "$work/stdout")" -eq 2 ] && grep -q "^== 1-ga-uoe: ga, trainable set uoe, alpha 1, 4 steps -> $work/workbench/1-ga-uoe$" "$work/stdout" && grep -q "^== 2-ga-all: ga, trainable set all, alpha 0, 4 steps" "$work/stdout" && [ "$(grep -c "^step " "$work/stdout")" -eq 6 ] && [ "$(grep -c "^done: FE" "$work/stdout")" -eq 2 ]'
check "each run of the workbench writes its own run directory" \
    '[ -s "$work/workbench/1-ga-uoe/summary.json" ] && [ -s "$work/workbench/2-ga-all/summary.json" ] && grep -q "\"workbench_run\": \"ga-uoe\"" "$work/workbench/1-ga-uoe/config.json"'

run tui "$mcq_model" --world "$world" --out "$work/workbench-npo" --steps 2 --method npo --set top2-layer --no-baseline -q
check "tui takes the options of unlearn; --no-baseline runs only the one, -q prints nothing" \
    '[ $status -eq 0 ] && [ ! -s "$work/stdout" ] && [ -s "$work/workbench-npo/1-npo-top2-layer/summary.json" ] && [ ! -e "$work/workbench-npo/2-npo-all" ]'

run tui "$top/lua/experiments/default.lua" model="$mcq_model" world="$world" out="$work/tui-script" \
    steps=2 eval_every=1 forget_batch=2 retain_batch=2 probe_sequences=2 eval_questions=4
check "tui with a Lua script and stdout not a terminal runs it as uoe-wb run does" \
    '[ $status -eq 0 ] && grep -q "^== uoe$" "$work/stdout" && [ -s "$work/tui-script/uoe/summary.json" ] && [ -s "$work/tui-script/ga-all/summary.json" ]'

run tui "$mcq_model" "$mcq_model"
check "tui with two models is a usage error" '[ $status -eq 2 ] && grep -q "Usage: uoe-wb tui" "$work/stderr"'

run tui --help
check "tui --help describes the workbench and its defaults" \
    '[ $status -eq 0 ] && grep -q "^Usage: uoe-wb tui" "$work/stdout" && grep -q "no-baseline" "$work/stdout"'

run tui "$work/no-such-model" --world "$world"
check "tui on a missing model fails naming it, before anything runs" \
    '[ $status -eq 1 ] && grep -q "no-such-model" "$work/stderr"'

# bare uoe-wb, stdout not a terminal: the default experiment (experiments/default.lua),
# headless, in the current folder; SIGINT after its step-0 evaluation ends it after that step
mkdir "$work/bare"
: >"$work/stdout" # not the last run's lines: the loop below must see this run's
(cd "$work/bare" && exec "$wb" >"$work/stdout" 2>"$work/stderr") &
bare=$!
tries=0
while [ $tries -lt 600 ] && ! grep -q "^step    0  FE" "$work/stdout" && kill -0 $bare 2>/dev/null; do
    sleep 0.5
    tries=$((tries + 1))
done
kill -INT $bare 2>/dev/null
wait $bare
status=$?
check "bare uoe-wb, stdout not a terminal, runs the default experiment headless with progress lines" \
    'grep -q "^== uoe$" "$work/stdout" && grep -q "^step    0  FE 0\.[0-9]*  UT 0\.[0-9]*" "$work/stdout" && grep -q "^target layer" "$work/stderr"'
check "SIGINT stops it after the step in progress with status 130 and a summary saying so" \
    '[ $status -eq 130 ] && grep -q "interrupted (SIGINT) after step [0-9]* of 60" "$work/bare/runs/"tui-*/uoe/summary.json'

echo "1..$count"
