-- Writes the fictional world of the embedded default: training text, multiple-choice
-- questions and the forget/retain/utility splits, all as JSON Lines, plus a manifest and a
-- README. The same seed always gives the same bytes.
--
--   lua5.4 lua/world/generate.lua --seed 1 --out data/world
--   lua5.4 lua/world/generate.lua --list-heldout     (held-out template phrases, one a line)

-- Find the sibling modules from the script's own location, wherever it is run from.
local script_dir = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
package.path = script_dir .. "/../?.lua;" .. package.path

local json = require("world.json")
local text = require("world.text")
local world = require("world.world")
local readme = require("world.readme")

local USAGE = [[
Usage: lua5.4 lua/world/generate.lua --seed N --out DIR
       lua5.4 lua/world/generate.lua --list-heldout
Writes the fictional world (corpus, questions, splits, manifest, README) into DIR.
  --seed N          the seed, an integer (the committed world uses 1)
  --out DIR         the output folder, created if missing
  --list-heldout    print the phrases of the held-out question templates, one a line,
                    which must never appear in training text, and exit
  --help            print this help and exit]]

local function usage_error(message)
    io.stderr:write("generate.lua: ", message, "\n", USAGE, "\n")
    os.exit(2)
end

local function parse_arguments(argv)
    local options = {}
    local i = 1
    while i <= #argv do
        local argument = argv[i]
        if argument == "--help" then
            print(USAGE)
            os.exit(0)
        elseif argument == "--list-heldout" then
            options.list_heldout = true
        elseif argument == "--seed" or argument == "--out" then
            local value = argv[i + 1] or usage_error(argument .. " needs a value")
            if argument == "--seed" then
                options.seed = math.tointeger(tonumber(value))
                    or usage_error("--seed needs an integer, not '" .. value .. "'")
            else
                options.out = value
            end
            i = i + 1
        else
            usage_error("unknown argument '" .. argument .. "'")
        end
        i = i + 1
    end
    if not options.list_heldout and not (options.seed and options.out) then
        usage_error("--seed and --out are required")
    end
    return options
end

local function shell_quote(path)
    return "'" .. path:gsub("'", "'\\''") .. "'"
end

local function make_directory(path)
    if not os.execute("mkdir -p " .. shell_quote(path)) then
        error("cannot create the folder " .. path, 0)
    end
end

-- Whole files or nothing: write a temporary file beside the target, then rename it.
local function write_file(path, content)
    local temporary = path .. ".tmp"
    local file, message = io.open(temporary, "wb")
    if not file then
        error("cannot write " .. message, 0)
    end
    local ok, write_message = file:write(content)
    local closed, close_message = file:close()
    if not ok or not closed then
        os.remove(temporary)
        error("cannot write " .. path .. ": " .. tostring(write_message or close_message), 0)
    end
    local renamed, rename_message = os.rename(temporary, path)
    if not renamed then
        os.remove(temporary)
        error("cannot rename onto " .. path .. ": " .. rename_message, 0)
    end
end

-- One line of a text corpus and one line of a multiple-choice set, in the shapes that
-- lm-evaluation-harness gives WMDP and MMLU.
local function text_json(passage)
    return json.encode(json.object("text", passage))
end

local function mcq_json(item)
    return json.encode(json.object("question", item.question, "choices", item.choices,
        "answer", item.answer))
end

local function jsonl(items, encode_one)
    local out = {}
    for i, item in ipairs(items) do
        out[i] = encode_one(item) .. "\n"
    end
    return table.concat(out)
end

local function text_lines(texts)
    return jsonl(texts, text_json)
end

local function mcq_lines(items)
    return jsonl(items, mcq_json)
end

-- The ground truth: one object per entity, its name then its attributes in definition order.
local function fact_lines(record)
    local out = {}
    for i, entity in ipairs(record.entities) do
        local fields = { "name", entity.name }
        for _, attribute in ipairs(record.definition.attributes) do
            fields[#fields + 1] = attribute.key
            fields[#fields + 1] = entity.values[attribute.key]
        end
        out[i] = json.encode(json.object(table.unpack(fields))) .. "\n"
    end
    return table.concat(out)
end

local function words_in(texts)
    local count = 0
    for _, passage in ipairs(texts) do
        count = count + text.count_words(passage)
    end
    return count
end

-- How many of the lines are QA pairs ("Question: ...\nAnswer: ..."); the rest are statements.
local function qa_lines_in(texts)
    local count = 0
    for _, passage in ipairs(texts) do
        if text.parse_qa_pair(passage) then
            count = count + 1
        end
    end
    return count
end

-- The first QA line of a corpus, or (qa false) its first statement line.
local function first_line(texts, qa)
    for _, passage in ipairs(texts) do
        if (text.parse_qa_pair(passage) ~= nil) == qa then
            return passage
        end
    end
    error("the corpus has no " .. (qa and "QA" or "statement") .. " line", 0)
end

-- The command that regenerates the committed world; recorded with the canonical output
-- folder, so that a world written elsewhere (as the tests do) has the same bytes.
local function regenerate_command(seed)
    return string.format("lua5.4 lua/world/generate.lua --seed %d --out data/world", seed)
end

local function build_manifest(built, retain_domains, utility_domains)
    local domain_entries = {}
    for _, record in ipairs(built.domains) do
        local attribute_keys, train_templates, train_questions, heldout_templates = {}, 0, 0, 0
        for _, attribute in ipairs(record.definition.attributes) do
            attribute_keys[#attribute_keys + 1] = attribute.key
            train_templates = train_templates + #attribute.train
            train_questions = train_questions + #attribute.train_questions
            heldout_templates = heldout_templates + #attribute.heldout
        end
        domain_entries[#domain_entries + 1] = json.object(
            "name", record.key,
            "title", record.definition.title,
            "forget", record.forget,
            "retain", record.retain,
            "utility", record.utility,
            "entities", #record.entities,
            "attributes", attribute_keys,
            "facts", #record.entities * #attribute_keys,
            "train_templates", train_templates,
            "train_question_templates", train_questions,
            "heldout_templates", heldout_templates,
            "corpus_file", "corpus/" .. record.key .. ".jsonl",
            "corpus_lines", #record.corpus,
            "statement_lines", record.statement_lines,
            "qa_lines", record.qa_lines,
            "corpus_words", words_in(record.corpus),
            "mcq_file", "mcq/" .. record.key .. ".jsonl",
            "questions", #record.mcq,
            "facts_file", "facts/" .. record.key .. ".jsonl")
    end
    local splits = built.splits
    return json.object(
        "generator", "lua/world/generate.lua",
        "version", built.version,
        "seed", built.seed,
        "command", regenerate_command(built.seed),
        "entities_per_domain", world.ENTITIES_PER_DOMAIN,
        "mentions_per_fact", world.MENTIONS_PER_FACT,
        "qa_per_fact", world.QA_PER_FACT,
        "choices", world.CHOICES,
        "domains", domain_entries,
        "splits", {
            json.object("name", "forget", "file", "splits/forget.jsonl", "kind", "text",
                "domains", { built.forget_key }, "lines", #splits.forget,
                "qa_lines", qa_lines_in(splits.forget), "words", words_in(splits.forget)),
            json.object("name", "retain", "file", "splits/retain.jsonl", "kind", "text",
                "domains", retain_domains, "lines", #splits.retain,
                "qa_lines", qa_lines_in(splits.retain), "words", words_in(splits.retain)),
            json.object("name", "forget_mcq", "file", "splits/forget_mcq.jsonl", "kind", "mcq",
                "domains", { built.forget_key }, "questions", #splits.forget_mcq),
            json.object("name", "utility_mcq", "file", "splits/utility_mcq.jsonl", "kind", "mcq",
                "domains", utility_domains, "questions", #splits.utility_mcq),
        },
        "all", json.object("file", "corpus/all.jsonl", "lines", #built.all,
            "qa_lines", qa_lines_in(built.all), "words", words_in(built.all)))
end

local function generate(seed, out)
    local built = world.build(seed)
    local retain_domains, utility_domains, words = {}, {}, {}
    for _, record in ipairs(built.domains) do
        words[record.key] = words_in(record.corpus)
        if record.retain then
            retain_domains[#retain_domains + 1] = record.key
        end
        if record.utility then
            utility_domains[#utility_domains + 1] = record.key
        end
    end

    for _, folder in ipairs({ "", "/corpus", "/mcq", "/facts", "/splits" }) do
        make_directory(out .. folder)
    end
    for _, record in ipairs(built.domains) do
        write_file(out .. "/corpus/" .. record.key .. ".jsonl", text_lines(record.corpus))
        write_file(out .. "/mcq/" .. record.key .. ".jsonl", mcq_lines(record.mcq))
        write_file(out .. "/facts/" .. record.key .. ".jsonl", fact_lines(record))
    end
    write_file(out .. "/corpus/all.jsonl", text_lines(built.all))
    write_file(out .. "/splits/forget.jsonl", text_lines(built.splits.forget))
    write_file(out .. "/splits/retain.jsonl", text_lines(built.splits.retain))
    write_file(out .. "/splits/forget_mcq.jsonl", mcq_lines(built.splits.forget_mcq))
    write_file(out .. "/splits/utility_mcq.jsonl", mcq_lines(built.splits.utility_mcq))

    local manifest = build_manifest(built, retain_domains, utility_domains)
    write_file(out .. "/manifest.json", json.encode(manifest, "  ") .. "\n")
    write_file(out .. "/README.md", readme.render(built, {
        command = regenerate_command(seed),
        retain_domains = retain_domains,
        utility_domains = utility_domains,
        words = words,
        all_words = words_in(built.all),
        example_statement_line = text_json(first_line(built.domains[1].corpus, false)),
        example_qa_line = text_json(first_line(built.domains[1].corpus, true)),
        example_mcq_line = mcq_json(built.domains[1].mcq[1]),
    }))
end

local options = parse_arguments(arg)
if options.list_heldout then
    for _, fragment in ipairs(world.heldout_fragments()) do
        print(fragment.text)
    end
    os.exit(0)
end
local ok, message = pcall(generate, options.seed, options.out)
if not ok then
    io.stderr:write("generate.lua: ", tostring(message), "\n")
    os.exit(1)
end
