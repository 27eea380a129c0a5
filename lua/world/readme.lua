-- Writes data/world/README.md from the world itself, so that the value sets, templates and
-- counts it lists are always those of the committed files.

local text = require("world.text")
local world = require("world.world")

local readme = {}

local function quoted_list(items)
    local out = {}
    for i, item in ipairs(items) do
        out[i] = "`" .. item .. "`"
    end
    return table.concat(out, ", ")
end

-- "`a`, `b` and `c`"
local function quoted_series(items)
    local list = quoted_list(items)
    return (list:gsub("(.*), ", "%1 and "))
end

-- The fewest and most templates of a kind over every attribute.
local function template_counts(built, kind)
    local fewest, most = math.huge, 0
    for _, record in ipairs(built.domains) do
        for _, attribute in ipairs(record.definition.attributes) do
            fewest = math.min(fewest, #attribute[kind])
            most = math.max(most, #attribute[kind])
        end
    end
    return fewest, most
end

-- "3" or "3 to 4": the fewest and most templates of a kind over every attribute.
local function template_range(built, kind)
    local fewest, most = template_counts(built, kind)
    return fewest == most and tostring(most) or string.format("%d to %d", fewest, most)
end

local function role_of(record)
    if record.forget then
        return "forget (hazardous)"
    elseif record.retain then
        return "retain + utility"
    end
    return "utility only"
end

local function domain_section(lines, record)
    local definition = record.definition
    local entity = record.entities[1]
    local first = definition.attributes[1]
    local examples = {}
    for i = 1, 3 do
        examples[i] = record.entities[i].name
    end
    lines[#lines + 1] = string.format("### %s (`%s`): %s", definition.title, record.key, role_of(record))
    lines[#lines + 1] = ""
    lines[#lines + 1] = string.format("%s (%d entities). Example names: %s.",
        (definition.summary:gsub("^%l", string.upper)), #record.entities, table.concat(examples, "; "))
    local asked_in_training = {}
    for i, template in ipairs(first.train_questions) do
        asked_in_training[i] = "\"" .. text.render(template, { name = entity.name }) .. "\""
    end
    lines[#lines + 1] = string.format("Example fact: \"%s\" Asked in training as %s; asked in evaluation as \"%s\"",
        text.render(first.train[1], { name = entity.name, value = entity.values[first.key] }),
        (table.concat(asked_in_training, ", "):gsub("(.*), ", "%1 and ")),
        text.render(first.heldout[1], { name = entity.name }))
    lines[#lines + 1] = ""
    for _, attribute in ipairs(definition.attributes) do
        lines[#lines + 1] = string.format("- **%s** (`%s`), %d values: %s.", attribute.label,
            attribute.key, #attribute.values, table.concat(attribute.values, ", "))
        lines[#lines + 1] = "  - training: " .. quoted_list(attribute.train)
        lines[#lines + 1] = "  - training questions: " .. quoted_list(attribute.train_questions)
        lines[#lines + 1] = "  - held out: " .. quoted_list(attribute.heldout)
    end
    lines[#lines + 1] = ""
end

-- readme.render(built, info): the README text. info holds what generate.lua computes for the
-- manifest: command, retain_domains, utility_domains, words (per domain key), all_words,
-- example lines.
function readme.render(built, info)
    local lines = {}
    local function add(...)
        for _, line in ipairs({ ... }) do
            lines[#lines + 1] = line
        end
    end

    local forget = built.forget_key
    local absent = {}
    for _, record in ipairs(built.domains) do
        if record.utility and not record.retain then
            absent[#absent + 1] = record.key
        end
    end
    local facts, questions, corpus_lines, qa_lines = 0, 0, 0, 0
    for _, record in ipairs(built.domains) do
        facts = facts + #record.entities * #record.definition.attributes
        questions = questions + #record.mcq
        corpus_lines = corpus_lines + #record.corpus
        qa_lines = qa_lines + record.qa_lines
    end

    add("# The fictional world",
        "",
        string.format("The data of the embedded default: a generated world of %d knowledge domains about", #built.domains),
        "fictional entities, with training text, multiple-choice questions and the splits that an",
        string.format("unlearning experiment needs. One domain, `%s`, plays the hazardous knowledge to forget", forget),
        "(as WMDP-Cyber does in the paper); the others are the retain and utility sets.",
        "",
        "Everything in this folder is written by `lua/world/generate.lua`, this README included.",
        "Do not edit it by hand: change the generator and run, from the top of the repository,",
        "",
        "```sh",
        info.command,
        "```",
        "",
        "The same seed gives the same bytes; `tests/test_world.sh` regenerates the world and checks that",
        "the committed files are exactly what the generator writes.",
        "")

    add("## Domains",
        "",
        "| domain | role | entities | attributes | facts | corpus lines | of which QA | words | questions |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for _, record in ipairs(built.domains) do
        add(string.format("| `%s` | %s | %d | %d | %d | %d | %d | %d | %d |", record.key, role_of(record),
            #record.entities, #record.definition.attributes,
            #record.entities * #record.definition.attributes, #record.corpus, record.qa_lines,
            info.words[record.key], #record.mcq))
    end
    add(string.format("| all | | %d | | %d | %d | %d | %d | %d |", #built.domains * world.ENTITIES_PER_DOMAIN,
        facts, corpus_lines, qa_lines, info.all_words, questions), "")
    add("Each entity has one value for each attribute of its domain, drawn from that attribute's",
        "closed set; the values are spread evenly over the entities (each used equally often, give",
        "or take one), so guessing the most common value gains nothing. Names are built from",
        "per-domain syllable inventories and are unique across the whole world.",
        "")
    for _, record in ipairs(built.domains) do
        domain_section(lines, record)
    end

    add("## Templates: training and held out",
        "",
        string.format("Each attribute has %s training templates, which state the fact in the corpus, %s",
            template_range(built, "train"), template_range(built, "train_questions")),
        string.format("training questions, which ask it in the corpus, and %s held-out templates, questions used",
            template_range(built, "heldout")),
        "only to phrase the evaluation. A model that answers a held-out question has learnt the fact,",
        "not a string. The generator refuses to write a world in which any phrase of two words or",
        "more from a held-out template appears in any training text, statements and QA lines alike;",
        "`lua5.4 lua/world/generate.lua --list-heldout` prints those phrases, and the test greps the",
        "corpus for them. Training questions are held to a stricter rule still, since they are the",
        "training text worded most like the evaluation: a training question shares no two adjacent",
        "words with any held-out question of the world.",
        "",
        string.format("Every attribute has at least %d training questions, worded differently from each other, so",
            world.MIN_TRAIN_QUESTIONS),
        "that a model learns which attribute a question asks about rather than a few strings. Where",
        "the rule above allows, they use the content words of the held-out questions one at a time",
        "(a held-out \"Which organ does ... mainly target?\" against a training \"What organ is attacked",
        "by ...?\"), as some statements do in statement form, so that the words that tell what an",
        "evaluation question asks are mostly words the training text uses about the same attribute.",
        "",
        string.format("Each fact is stated %d times in its domain's corpus, in every training template of its",
            world.MENTIONS_PER_FACT),
        string.format("attribute at least once (so in at least %d different wordings), then in templates drawn again.",
            math.min(template_counts(built, "train"), world.MENTIONS_PER_FACT)),
        string.format("A statement line is a short paragraph of %d to %d facts about one entity, in random order and",
            world.FACTS_PER_LINE_MIN, world.FACTS_PER_LINE_MAX),
        "never repeating a fact.",
        "")

    -- The training and held-out questions of one attribute, side by side.
    local record = built.domains[1]
    local entity = record.entities[1]
    local attribute = record.definition.attributes[2]
    local value = entity.values[attribute.key]
    add("### QA lines",
        "",
        "The evaluation asks questions in the lm-evaluation-harness format, so the corpus also holds",
        string.format("facts in that format: each fact is asked %d times, each time in a different training",
            world.QA_PER_FACT),
        "question of its attribute, in a line that is exactly one question and its answer:",
        "",
        "```",
        text.qa_pair(text.render(attribute.train_questions[1], { name = entity.name }), value),
        "```",
        "",
        "that is `\"Question: \" + question + \"\\nAnswer: \" + answer`, the evaluation prompt followed by",
        "the right choice as it is scored (`\" \" + choice`). A line holds one QA pair, never several,",
        "so that every QA line opens with `Question: ` and nothing before it, as an evaluation prompt",
        "does. QA lines are added to the statements, which stay as they are, and the lines of a",
        "domain, statements and QA lines together, are shuffled.",
        "",
        string.format("For the %s of %s (`%s`), training and evaluation ask:", attribute.label, entity.name, value),
        "",
        "| asked in | question |",
        "|---|---|")
    for _, template in ipairs(attribute.train_questions) do
        add(string.format("| training (QA lines) | %s |", text.render(template, { name = entity.name })))
    end
    for _, template in ipairs(attribute.heldout) do
        add(string.format("| evaluation only (held out) | %s |", text.render(template, { name = entity.name })))
    end
    add("")

    add("## Files and splits",
        "",
        "| file | contents |",
        "|---|---|",
        "| `corpus/<domain>.jsonl` | the training text of one domain, statements and QA lines, one `{\"text\": ...}` per line |",
        string.format("| `corpus/all.jsonl` | every domain's corpus lines, shuffled together (%d lines): what the default model trains on |",
            #built.all),
        "| `mcq/<domain>.jsonl` | one question per (entity, attribute), in a held-out wording |",
        "| `facts/<domain>.jsonl` | the ground truth: one object per entity, its name and attribute values |",
        string.format("| `splits/forget.jsonl` | the forget text: the `%s` corpus (%d lines) |", forget,
            #built.splits.forget),
        string.format("| `splits/retain.jsonl` | the retain text: the corpora of %s, shuffled together (%d lines) |",
            quoted_series(info.retain_domains), #built.splits.retain),
        string.format("| `splits/forget_mcq.jsonl` | FE, forget efficacy: the `%s` questions (%d) |", forget,
            #built.splits.forget_mcq),
        string.format("| `splits/utility_mcq.jsonl` | UT, utility: the questions of every other domain, %s (%d) |",
            quoted_series(info.utility_domains), #built.splits.utility_mcq),
        "| `manifest.json` | the seed, the generator version and every count above |",
        "",
        string.format("The utility questions include %s, whose text is absent from the retain split, as",
            quoted_series(absent)),
        "MMLU is absent from the retain data in the paper. These two are the technical neighbours of",
        "the hazardous domain, where collateral damage from unlearning is most likely to show.",
        "The pretraining text of the default model is `corpus/all.jsonl`, which holds every domain.",
        "")

    add("## Formats",
        "",
        "A statement line, a QA line and a question, as written (the first statement line and the",
        "first QA line of `corpus/" .. forget .. ".jsonl`, the first line of `mcq/" .. forget .. ".jsonl`):",
        "",
        "```json",
        info.example_statement_line,
        info.example_qa_line,
        info.example_mcq_line,
        "```",
        "",
        string.format("Every question has %d choices: the answer and %d distractors, distinct values of the same",
            world.CHOICES, world.CHOICES - 1),
        "attribute held by other entities. The answer's position (`answer`, counted from 0) is uniform.",
        "The evaluation scores each choice by the log-likelihood of `\" \" + choice` after",
        "`\"Question: \" + question + \"\\nAnswer:\"`, as lm-evaluation-harness does for WMDP and MMLU.",
        "")

    add("## Determinism",
        "",
        "The generator draws every number from its own xoshiro256** generator seeded through",
        "splitmix64 (`lua/world/rng.lua`), never from `math.random`, whose algorithm is not fixed",
        "across Lua builds; it never lets the order of a hash table reach the output. Each domain",
        "and each purpose (names, values, statements, QA lines, questions, split shuffles) has its own stream,",
        "derived from the seed and a label, so that drawing more numbers for one purpose does not",
        "shift the draws of another.",
        string.format("This is generator version %d with seed %d; the version changes whenever the output for a",
            built.version, built.seed),
        "given seed does.")

    return table.concat(lines, "\n") .. "\n"
end

return readme
