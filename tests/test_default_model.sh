#!/bin/sh
# The shipped default model: its architecture is the one the project promises,
# `uoe-wb eval` reproduces the accuracies its model card records, and it answers
# held-out questions with acc >= 0.85 in every domain. Prints TAP.
set -u
top=${top_srcdir:-.}
wb=${UOE_WB:-./src/uoe-wb}
model=$top/data/models/default
card=$model/README.md
min_acc=0.85
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
count=0

ok() { # ok DESCRIPTION STATUS
    count=$((count + 1))
    if [ "$2" -eq 0 ]; then echo "ok $count - $1"; else echo "not ok $count - $1"; fi
}

"$wb" info "$model" --json >"$work/info.json" 2>"$work/err"
grep -q '"family": "qwen2_moe"' "$work/info.json" &&
    grep -Eq '"num_layers": ([4-9]|[1-9][0-9])' "$work/info.json" &&
    grep -Eq '"num_experts": (1[6-9]|[2-9][0-9])' "$work/info.json" &&
    grep -q '"experts_per_token": 4' "$work/info.json" &&
    grep -q '"shared_expert_gate": true' "$work/info.json" &&
    grep -q '"norm_topk_prob": false' "$work/info.json"
ok "the default model is a qwen2_moe with >= 4 layers, >= 16 experts top-4, a gated shared expert, no top-k renormalisation" $?

# | domain | role | questions | acc | acc_norm | rows of the card's accuracy table
grep -E '^\| [a-z]+ \| [a-z +()]+ \| [0-9]+ \| [0-9.]+ \| [0-9.]+ \|$' "$card" >"$work/table"
[ "$(wc -l <"$work/table")" -ge 6 ]
ok "the model card records the accuracy of at least 6 domains" $?

while IFS='|' read -r _ domain _ questions acc _; do
    domain=$(echo $domain)
    "$wb" eval "$model" --mcq "$top/data/world/mcq/$domain.jsonl" >"$work/eval" 2>&1
    measured=$(sed -n 's/^acc  *\([0-9.][0-9.]*\)$/\1/p' "$work/eval")
    recorded=$(echo $acc)
    awk -v a="$measured" -v b="$recorded" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 0.01) }'
    status=$?
    ok "$domain: eval gives acc $measured, the card records $recorded (within 0.01)" $status
    # Held-out wording must not cost the model its knowledge: at least 0.85 in every domain.
    awk -v a="$measured" -v bar="$min_acc" 'BEGIN { exit !(a != "" && a + 0 >= bar + 0) }'
    ok "$domain: acc $measured on held-out wording is at least $min_acc" $?
done <"$work/table"

echo "1..$count"
