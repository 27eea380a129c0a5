#!/bin/sh
# The fictional world (lua/world/, data/world/): the committed files are exactly what the
# committed seed regenerates, another seed gives other bytes, and the files have the shapes
# and properties the evaluation relies on: every fact is stated and asked (in QA lines) in
# the training text, and asked in evaluation only in held-out wording. Prints TAP.
set -u
top=${top_srcdir:-.}
lua=${LUA:-lua5.4}
world=$top/data/world
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
count=0
status=0

if ! command -v "$lua" >/dev/null 2>&1; then
    echo "1..0 # SKIP $lua is not installed (scripts/setup installs it)"
    exit 0
fi

# run COMMAND...: runs a command, keeping its status, stdout and stderr
run() {
    "$@" >"$work/stdout" 2>"$work/stderr"
    status=$?
}

generate() { run "$lua" "$top/lua/world/generate.lua" "$@"; }
world_check() { run "$lua" "$top/lua/world/check.lua" "$@"; }

# check DESCRIPTION CONDITION: one TAP line; the condition is a shell command
check() {
    count=$((count + 1))
    if eval "$2"; then
        echo "ok $count - $1"
    else
        echo "not ok $count - $1"
        echo "# status $status; stdout and stderr follow"
        head -n 40 "$work/stdout" "$work/stderr" | sed 's/^/#   /'
    fi
}

seed=$(sed -n 's/^  "seed": \(-\{0,1\}[0-9][0-9]*\),$/\1/p' "$world/manifest.json")
check "the committed manifest records an integer seed" '[ -n "$seed" ]'
seed=${seed:-1}

generate --seed "$seed" --out "$work/world"
check "the generator runs with the committed seed" '[ $status -eq 0 ] && [ -s "$work/world/manifest.json" ]'

run diff -rq "$world" "$work/world"
check "the committed seed regenerates data/world byte for byte" '[ $status -eq 0 ]'

generate --seed "$((seed + 1))" --out "$work/other"
check "another seed gives other corpus and question bytes" \
    '[ $status -eq 0 ] && ! cmp -s "$world/corpus/pathogens.jsonl" "$work/other/corpus/pathogens.jsonl" && ! cmp -s "$world/mcq/cities.jsonl" "$work/other/mcq/cities.jsonl"'

world_check manifest "$world"
check "at least 6 domains of at least 100 entities; one forget domain; the splits cover the right domains" \
    '[ $status -eq 0 ]'

world_check corpus "$world"/corpus/*.jsonl "$world/splits/forget.jsonl" "$world/splits/retain.jsonl"
check "every corpus line is valid JSON of the form {\"text\": ...}" '[ $status -eq 0 ]'

world_check mcq "$world"/mcq/*.jsonl "$world/splits/forget_mcq.jsonl" "$world/splits/utility_mcq.jsonl"
check "every question has 4 distinct choices and an answer in 0..3" '[ $status -eq 0 ]'

world_check answers "$world"/mcq/*.jsonl
check "the answer positions are near uniform" '[ $status -eq 0 ]'

world_check facts "$world"
check "every answer is the true value, and the corpus states every fact at least 3 times" \
    '[ $status -eq 0 ]'

world_check qa "$world"
check "every attribute has at least 6 training questions; every fact is asked in at least 5 QA lines, in 5 different ones, and answered truly" \
    '[ $status -eq 0 ]'

world_check wording "$world"
check "every evaluation question is a held-out question of its attribute, word for word" \
    '[ $status -eq 0 ]'

run env LUA_PATH_5_4="$top/lua/?.lua;;" MANIFEST="$world/manifest.json" "$lua" -e '
    local file = assert(io.open(os.getenv("MANIFEST"), "rb"))
    local all = require("world.json").decode(file:read("a")).all
    print(all.words, all.qa_lines)
    assert(all.words < 400000, "the corpus has 400000 words or more")
    assert(all.qa_lines > 0, "the corpus has no QA lines")'
check "the whole corpus, QA lines included, stays under 400000 words" '[ $status -eq 0 ]'

check "the forget split is the hazardous domain's corpus, QA lines included" \
    'cmp -s "$world/splits/forget.jsonl" "$world/corpus/pathogens.jsonl" && cmp -s "$world/splits/forget_mcq.jsonl" "$world/mcq/pathogens.jsonl" && grep -qF "\"text\": \"Question: " "$world/splits/forget.jsonl"'

sort "$world/splits/retain.jsonl" >"$work/retain.sorted"
cat "$world/corpus/cities.jsonl" "$world/corpus/recipes.jsonl" "$world/corpus/sports.jsonl" | sort >"$work/retain.expected"
check "the retain split is the retain domains' corpora, QA lines included" \
    'cmp -s "$work/retain.sorted" "$work/retain.expected" && grep -qF "\"text\": \"Question: " "$work/retain.sorted"'

"$lua" "$top/lua/world/generate.lua" --list-heldout >"$work/heldout" 2>"$work/stderr"
status=$?
check "the generator lists its held-out template phrases" \
    '[ $status -eq 0 ] && [ "$(wc -l <"$work/heldout")" -ge 50 ]'

grep -iF -f "$work/heldout" "$world"/corpus/*.jsonl "$world/splits/forget.jsonl" "$world/splits/retain.jsonl" >"$work/stdout"
status=$?
check "no held-out template phrase appears in any training text" '[ $status -eq 1 ]'

# Controls for the check above: the same grep does find training wording in the corpus, in
# statements and in the questions of QA lines.
check "the grep finds training template wording, so it can find held-out wording" \
    'grep -qiF "spreads through" "$world/corpus/pathogens.jsonl" && grep -qiF "Question: How do humans pick up" "$world/corpus/pathogens.jsonl"'

sed 's/", "choices": .*//' "$world"/mcq/*.jsonl | grep -vF -f "$work/heldout" >"$work/stdout"
status=$?
check "every question is phrased in a held-out template" '[ $status -eq 1 ]'

size=$(du -sk "$world" | cut -f 1)
check "data/world stays under 15 MB" '[ "$size" -lt 15360 ]'

# The checker itself must reject what it is meant to reject.
printf '{"question": "Q?", "choices": ["a", "b", "c", "a"], "answer": 0}\n' >"$work/duplicate.jsonl"
printf '{"question": "Q?", "choices": ["a", "b", "c", "d"], "answer": 4}\n' >"$work/range.jsonl"
printf '{"text": "a",}\n' >"$work/comma.jsonl"
world_check mcq "$work/duplicate.jsonl"
check "the checker rejects a question with a repeated choice" \
    '[ $status -eq 1 ] && grep -q "duplicate.jsonl:1: choice .a. appears twice" "$work/stdout"'
world_check mcq "$work/range.jsonl"
check "the checker rejects an answer outside 0..3" \
    '[ $status -eq 1 ] && grep -q "range.jsonl:1: answer" "$work/stdout"'
world_check corpus "$work/comma.jsonl"
check "the checker rejects a line that is not strict JSON" \
    '[ $status -eq 1 ] && grep -q "comma.jsonl:1: not JSON" "$work/stdout"'

# Broken copies of the world: one without a QA line, one with a QA line in held-out
# wording, one with an evaluation question in training wording.
cp -R "$world" "$work/fewer"
grep -m 1 -F '"text": "Question: ' "$world/corpus/pathogens.jsonl" >"$work/dropped"
grep -vxF -f "$work/dropped" "$world/corpus/pathogens.jsonl" >"$work/fewer/corpus/pathogens.jsonl"
world_check qa "$work/fewer"
check "the checker rejects a fact asked in fewer than 5 QA lines" \
    '[ $status -eq 1 ] && grep -q "is asked in 4 QA lines" "$work/stdout"'

cp -R "$world" "$work/leaky"
sed 's/"text": "Question: What animals carry /"text": "Question: Which animals are the natural hosts of /' \
    "$world/corpus/pathogens.jsonl" >"$work/leaky/corpus/pathogens.jsonl"
world_check qa "$work/leaky"
check "the checker rejects a QA line that asks a held-out question" \
    '[ $status -eq 1 ] && grep -q "the question is not a training question: Which animals are the natural hosts of" "$work/stdout"'

cp -R "$world" "$work/reworded"
sed 's/"question": "Which animals are the natural hosts of \([^"]*\)?"/"question": "What animals carry \1?"/' \
    "$world/mcq/pathogens.jsonl" >"$work/reworded/mcq/pathogens.jsonl"
world_check wording "$work/reworded"
check "the checker rejects an evaluation question in training wording" \
    '[ $status -eq 1 ] && grep -q "not a held-out question about the host of" "$work/stdout"'

run env LUA_PATH_5_4="$top/lua/?.lua;;" "$lua" -e '
    local domains = require("world.domains")
    local host = domains.list[1].attributes[1]
    host.train_questions[1] = "Which animals are hosts to {name}?"
    local ok, message = pcall(require("world.world").build, 1)
    print(message)
    assert(not ok and message:find([[shares "which animals"]], 1, true))'
check "the generator refuses a training question that shares two adjacent words with a held-out one" \
    '[ $status -eq 0 ]'

run env LUA_PATH_5_4="$top/lua/?.lua;;" "$lua" -e '
    local json = require("world.json")
    local tricky = "quote \" backslash \\ newline \n tab \t bell \7 unit \31 UTF-8 \u{e9}\u{2603}"
    local line = json.encode(json.object("text", tricky))
    assert(not line:find("[%z\1-\31]"), "raw control character in output")
    assert(line:find("\u{e9}\u{2603}", 1, true), "UTF-8 is escaped")
    assert(json.decode(line).text == tricky, "no round trip")'
check "JSON strings round-trip: quotes, backslashes, control characters, UTF-8" '[ $status -eq 0 ]'

run env LUA_PATH_5_4="$top/lua/?.lua;;" "$lua" -e '
    local domains = require("world.domains")
    local questions = domains.list[1].attributes[1].train_questions
    while #questions > 5 do
        table.remove(questions)
    end
    local ok, message = pcall(require("world.world").build, 1)
    print(message)
    assert(not ok and message:find("needs at least 6 training questions", 1, true))'
check "the generator refuses an attribute with fewer than 6 training questions" '[ $status -eq 0 ]'

run env LUA_PATH_5_4="$top/lua/?.lua;;" "$lua" -e '
    local domains = require("world.domains")
    local questions = domains.list[1].attributes[1].train_questions
    questions[#questions] = questions[1]
    local ok, message = pcall(require("world.world").build, 1)
    print(message)
    assert(not ok and message:find("duplicate training question", 1, true))'
check "the generator refuses an attribute that repeats a training question" '[ $status -eq 0 ]'

generate --seed 1.5 --out "$work/bad"
check "a non-integer seed is a usage error" '[ $status -eq 2 ] && [ ! -e "$work/bad" ]'

echo "1..$count"
