#!/bin/sh
# Malformed input through the command line: bad numbers and keys in arguments, and model
# directories whose files are broken. Each must end with a message and exit status 1 or 2,
# never a crash (a status above 2, or 128 + a signal). Prints TAP.
set -u
top=${top_srcdir:-.}
data=${UOE_TEST_DATA:-$top/tests}
wb=${UOE_WB:-./src/uoe-wb}
model=$data/fixtures/mcq/model
forget=$data/fixtures/run-corpus/forget.jsonl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
count=0

# refused EXPECTED-STATUS MESSAGE-PATTERN DESCRIPTION ARGS...: uoe-wb ARGS must exit with the
# status, printing something matching the pattern on stderr
refused() {
    expected=$1 pattern=$2 what=$3
    shift 3
    "$wb" "$@" >"$work/stdout" 2>"$work/stderr"
    status=$?
    count=$((count + 1))
    if [ $status -eq "$expected" ] && grep -q -e "$pattern" "$work/stderr"; then
        echo "ok $count - $what"
    else
        echo "not ok $count - $what"
        echo "# status $status (expected $expected); stderr:"
        sed 's/^/#   /' "$work/stderr"
    fi
}

# Numbers that atoi took in part or wrapped around.
refused 2 "--top: expected a positive integer, got '5x'" "attribute --top 5x" \
    attribute "$model" --forget "$forget" --top 5x
refused 2 "--top: expected a positive integer" "attribute --top past the int range" \
    attribute "$model" --forget "$forget" --top 4294967297
refused 2 "--sequences: expected a non-negative integer" "attribute --sequences -1" \
    attribute "$model" --forget "$forget" --sequences -1
refused 2 "--seed: expected an integer, got '1e3'" "attribute --seed 1e3" \
    attribute "$model" --forget "$forget" --seed 1e3
refused 1 "expected comma-separated integers" "logits --ids past the long range" \
    logits "$model" --ids 99999999999999999999 --out "$work/logits.npy"
refused 1 "not a list of non-negative integer ids" "tokenize --decode with a word" \
    tokenize "$model" --decode "1,x"

# Keys of uoe-wb run, refused before the script loads.
refused 2 "expected KEY=VALUE" "run: an empty key" run "$top/lua/experiments/default.lua" =x
refused 2 "expected KEY=VALUE" "run: a key with a dash" run "$top/lua/experiments/default.lua" a-b=1
refused 2 "given twice" "run: a key given twice" run "$top/lua/experiments/default.lua" a=1 a=2

# A model directory whose files are broken, one at a time.
broken() {
    rm -rf "$work/model"
    cp -r "$model" "$work/model"
}
broken
printf '{"model_type": "mixtral", "rope_theta": 1e39' >"$work/model/config.json"
refused 1 "config.json" "info on a truncated config.json" info "$work/model"
broken
head -c 100 "$model/model.safetensors" >"$work/model/model.safetensors"
refused 1 "model.safetensors" "info on a truncated model.safetensors" info "$work/model"
broken
printf '\377\377\377\377\377\377\377\377{}' >"$work/model/model.safetensors"
refused 1 "header length" "info on a safetensors header length of 2^64 - 1" info "$work/model"
broken
printf '{"model": {"type": "BPE", "vocab": {}}}' >"$work/model/tokenizer.json"
refused 1 "vocab" "tokenize with an empty vocabulary" tokenize "$work/model" --text hi
broken
printf '{"text": "a"}\n{"text": ' >"$work/forget.jsonl"
refused 1 "forget.jsonl: line 2" "attribute on a JSON Lines file cut mid-line" \
    attribute "$model" --forget "$work/forget.jsonl"

echo "1..$count"
