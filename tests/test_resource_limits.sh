#!/bin/sh
# Resource limits through the command line. A model larger than the memory left (ulimit -v,
# ulimit -d) is refused before loading, saying how much it needs and how much there is. A save
# that fills the disk (a small tmpfs, when this machine lets us mount one) or passes the file
# size limit (ulimit -f) fails naming the file, leaves the previous file byte for byte and no
# temporary file. SIGTERM and SIGINT stop uoe-wb unlearn after the step in progress, with
# status 143 and 130 and a summary that says so. Prints TAP.
set -u
top=${top_srcdir:-.}
data=${UOE_TEST_DATA:-$top/tests}
wb=${UOE_WB:-./src/uoe-wb}
model=$data/fixtures/mcq/model
work=$(mktemp -d)
trap 'umount "$work/disk" 2>/dev/null; rm -rf "$work"' EXIT
count=0
# one thread: OpenBLAS takes a large buffer per thread, which the limits below must leave room for
OMP_NUM_THREADS=1
export OMP_NUM_THREADS

. "$top/tests/tap.sh"

# run_limited ULIMIT-OPTION VALUE ARGS...: run under one ulimit. A process that cannot start
# in it spins in OpenBLAS's initialisation, so a timeout (status 124) ends it.
run_limited() {
    option=$1 value=$2
    shift 2
    (ulimit "$option" "$value" && exec timeout 60 "$wb" "$@") >"$work/stdout" 2>"$work/stderr"
    status=$?
}

# json_field FILE KEY: the value of a top-level key of a JSON object; fails when FILE does
# not parse (perl's JSON::PP, a core module, is there wherever autoconf is)
json_field() {
    perl -MJSON::PP -0777 -e 'my $o = decode_json(<STDIN>); print $o->{$ARGV[0]} // ""' "$2" <"$1"
}

# ---- a model larger than the memory left ----

# le64 N: N as 8 little-endian bytes, the length prefix of a safetensors file
le64() {
    n=$1 i=0
    while [ $i -lt 8 ]; do
        printf "\\$(printf %03o $((n % 256)))"
        n=$((n / 256)) i=$((i + 1))
    done
}

# write_big_model DIR VOCAB: a valid one-layer Mixtral checkpoint (fused experts, BF16) whose
# two VOCAB x 32 embeddings make it large; its data is a hole in a sparse file, so it takes
# no disk and reading its headers touches none of it
write_big_model() {
    dir=$1 vocab=$2
    mkdir -p "$dir"
    sed -e 's/"num_hidden_layers": 2/"num_hidden_layers": 1/' \
        -e "s/\"vocab_size\": 97/\"vocab_size\": $vocab/" \
        "$data/fixtures/hf/mixtral_fused/config.json" >"$dir/config.json"
    header='' offset=0
    while read -r name shape; do
        bytes=$(($(echo "$shape" | tr , '*') * 2))
        header="$header\"$name\":{\"dtype\":\"BF16\",\"shape\":[$shape],\"data_offsets\":[$offset,$((offset + bytes))]},"
        offset=$((offset + bytes))
    done <<EOF
model.embed_tokens.weight $vocab,32
lm_head.weight $vocab,32
model.norm.weight 32
model.layers.0.input_layernorm.weight 32
model.layers.0.post_attention_layernorm.weight 32
model.layers.0.self_attn.q_proj.weight 32,32
model.layers.0.self_attn.k_proj.weight 16,32
model.layers.0.self_attn.v_proj.weight 16,32
model.layers.0.self_attn.o_proj.weight 32,32
model.layers.0.mlp.gate.weight 4,32
model.layers.0.mlp.experts.gate_up_proj 4,32,32
model.layers.0.mlp.experts.down_proj 4,32,16
EOF
    header="{${header%,}}"
    while [ $((${#header} % 8)) -ne 0 ]; do
        header="$header "
    done
    { le64 ${#header}; printf '%s' "$header"; } >"$dir/model.safetensors"
    truncate -s $((8 + ${#header} + offset)) "$dir/model.safetensors"
}

# 3,276,800 x 32 x 2 tensors: 400 MiB of BF16 on disk, 800 MiB of float32 loaded. uoe-wb
# itself takes about 190 MiB of address space before it loads anything (most of it
# OpenBLAS's buffer) and 320 MiB while it evaluates the fixture model; under 780 MiB the big
# model's headers can be read (mapped: 400 MiB) but it cannot be loaded (1.2 GiB with the
# mapping), and the fixture model still runs.
big=$work/big
write_big_model "$big" 3276800
cp "$model/tokenizer.json" "$big/"
address_limit=800000 # kB
data_limit=600000    # kB

run info "$big"
check "the big model is a valid checkpoint: info reads its headers" \
    '[ $status -eq 0 ] && grep -q "^parameters *209724640$" "$work/stdout"'

run_limited -v $address_limit info "$big"
check "under ulimit -v, info still reads the big model's headers" \
    '[ $status -eq 0 ] && grep -q "^family *mixtral" "$work/stdout"'

run_limited -v $address_limit eval "$big" --mcq "$data/fixtures/mcq/tiny.jsonl"
check "under ulimit -v, eval refuses the big model before loading, with need and headroom" \
    '[ $status -eq 1 ] && grep -Eq "^uoe-wb: $big: loading needs 1\.[0-9]+ GiB \(float32 parameters 800\.0 MiB \+ checkpoint files mapped 400\.0 MiB \+ loader 16\.0 MiB\) but only [0-9.]+ MiB is available \(RLIMIT_AS 781\.2 MiB, [0-9.]+ MiB in use\)$" "$work/stderr"'

world=$work/world
mkdir -p "$world/splits"
head -n 12 "$top/data/world/corpus/pathogens.jsonl" >"$world/splits/forget.jsonl"
head -n 12 "$top/data/world/corpus/cities.jsonl" >"$world/splits/retain.jsonl"
cp "$data/fixtures/mcq/tiny.jsonl" "$world/splits/forget_mcq.jsonl"
cp "$data/fixtures/mcq/tiny.jsonl" "$world/splits/utility_mcq.jsonl"

run_limited -v $address_limit unlearn "$big" --world "$world" --out "$work/big-run" --set all
check "under ulimit -v, unlearn --set all counts the training state too, and starts nothing" \
    '[ $status -eq 1 ] && grep -q "loading needs .*float32 parameters 800\.0 MiB + training state 3\.91 GiB + .* but only .* is available (RLIMIT_AS" "$work/stderr" && [ ! -e "$work/big-run" ]'

run_limited -d $data_limit unlearn "$big" --world "$world" --out "$work/big-run"
check "under ulimit -d, unlearn refuses it on RLIMIT_DATA, where the mapping does not count" \
    '[ $status -eq 1 ] && grep -q "loading needs .*(float32 parameters 800\.0 MiB + training state [0-9.]* KiB + loader 16\.0 MiB) but only .* is available (RLIMIT_DATA [0-9.]* MiB, .* in use)" "$work/stderr" && [ ! -e "$work/big-run" ]'

run_limited -d $data_limit info "$big"
check "under ulimit -d, info still reads the big model's headers" '[ $status -eq 0 ]'

run_limited -v $address_limit eval "$model" --mcq "$data/fixtures/mcq/tiny.jsonl"
check "under the same ulimit -v, the fixture model still loads and evaluates" \
    '[ $status -eq 0 ] && grep -q "^acc " "$work/stdout"'

# ---- a full disk, and a file size limit, during a save ----

corpus=$data/fixtures/run-corpus/forget.jsonl
# train_into DIR RUNNER...: one training step from the fixture model, saved to DIR, run by
# RUNNER (run, or run_limited with its limit)
train_into() {
    dir=$1
    shift
    "$@" train --init "$model" --tokenizer "$model/tokenizer.json" --corpus "$corpus" \
        --out "$dir" --steps 1 --batch 1 --seq-len 16
}
# temp_files DIR: how many temporary files of atomic writes DIR holds
temp_files() {
    find "$1" -name '*.tmp.*' | wc -l
}

# The fixture model is 148 KiB: a 256 KiB tmpfs holds one save but not a second one beside it.
mkdir "$work/disk"
if mount -t tmpfs -o size=256k tmpfs "$work/disk" 2>/dev/null; then
    train_into "$work/disk/model" run
    cp "$work/disk/model/model.safetensors" "$work/previous.safetensors"
    previous_status=$status
    train_into "$work/disk/model" run
    check "a save onto a full tmpfs fails naming the file and the reason, not by a signal" \
        '[ $previous_status -eq 0 ] && [ $status -eq 1 ] && grep -q "^uoe-wb: $work/disk/model/model.safetensors: write failed: No space left on device; the previous file is left as it was$" "$work/stderr"'
    check "the previous model.safetensors is byte-identical, and no temporary file remains" \
        'cmp -s "$work/previous.safetensors" "$work/disk/model/model.safetensors" && [ "$(temp_files "$work/disk")" -eq 0 ]'
    umount "$work/disk"
else
    count=$((count + 1))
    echo "ok $count # SKIP mount -t tmpfs is not permitted here; the file size limit below still runs"
fi

# ulimit -f counts 512- or 1024-byte blocks by shell: 50 is 25 or 50 KiB, below the model's size
train_into "$work/fsize" run
cp "$work/fsize/model.safetensors" "$work/previous.safetensors"
previous_status=$status
train_into "$work/fsize" run_limited -f 50
check "past ulimit -f a save fails with EFBIG naming the file, instead of SIGXFSZ killing it" \
    '[ $previous_status -eq 0 ] && [ $status -eq 1 ] && grep -q "^uoe-wb: $work/fsize/model.safetensors: write failed: File too large; the previous file is left as it was$" "$work/stderr"'
check "the previous model.safetensors is byte-identical, and no temporary file remains" \
    'cmp -s "$work/previous.safetensors" "$work/fsize/model.safetensors" && [ "$(temp_files "$work/fsize")" -eq 0 ]'

train_into "$work/fsize-new" run_limited -f 50
check "with no previous file, the message says nothing was written, and none is left" \
    '[ $status -eq 1 ] && grep -q "^uoe-wb: $work/fsize-new/model.safetensors: write failed: File too large; nothing was written$" "$work/stderr" && [ ! -e "$work/fsize-new/model.safetensors" ] && [ "$(temp_files "$work/fsize-new")" -eq 0 ]'

# ---- SIGTERM and SIGINT stop uoe-wb unlearn cleanly ----

# stop_unlearn SIGNAL NAME: starts a 200-step run with a progress line per step and sends
# SIGNAL once the line of step 1 is out
stop_unlearn() {
    out=$work/$2
    : >"$work/stdout" # not the last run's lines: the loop below must see this run's
    "$wb" unlearn "$model" --world "$world" --out "$out" --steps 200 --eval-every 1 \
        --snapshot-every 5 --forget-batch 2 --retain-batch 2 --save-model \
        >"$work/stdout" 2>"$work/stderr" &
    pid=$!
    tries=0
    while [ $tries -lt 600 ] && ! grep -q "^step    1 " "$work/stdout" && kill -0 $pid 2>/dev/null; do
        sleep 0.1
        tries=$((tries + 1))
    done
    kill -"$1" $pid
    wait $pid
    status=$?
}

for signal in TERM INT; do
    if [ $signal = TERM ]; then expected=143; else expected=130; fi
    stop_unlearn $signal "stopped-$signal"
    # A death by the signal gives the same status from wait, but writes no summary and no
    # "done:" line: together they say the process exited by itself.
    stopped=$(json_field "$out/summary.json" stopped 2>/dev/null)
    steps=$(json_field "$out/summary.json" steps 2>/dev/null)
    check "SIG$signal stops unlearn after the step in progress with status $expected" \
        '[ $status -eq $expected ] && grep -q "^done: FE" "$work/stdout" && grep -q "^uoe-wb: interrupted (SIG$signal) after step [0-9]* of 200$" "$work/stderr"'
    check "SIG$signal: summary.json parses and records the signal and the step" \
        'echo "$stopped" | grep -Eq "^interrupted \(SIG$signal\) after step $steps of 200$" && [ "$steps" -ge 1 ] && [ "$steps" -lt 200 ]'
    check "SIG$signal: the metrics end at that step, and the model is saved whole" \
        '[ "$steps" -lt 200 ] && grep -q "\"type\":\"step\",\"step\":$steps[,}]" "$out/metrics.jsonl" && ! grep -q "\"type\":\"step\",\"step\":$((steps + 1))[,}]" "$out/metrics.jsonl" && "$wb" info "$out/model" >/dev/null && [ "$(temp_files "$out")" -eq 0 ]'
done

echo "1..$count"
