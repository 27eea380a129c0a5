-- Checks a generated world, for tests/test_world.sh. Each mode prints one summary line and
-- exits 0, or prints the problems (file:line: message, the first few) and exits 1.
--
--   lua5.4 lua/world/check.lua corpus FILE...   every line is {"text": non-empty string}
--   lua5.4 lua/world/check.lua mcq FILE...      every line is a 4-choice question: distinct
--                                               non-empty choices, an integer answer in 0..3
--   lua5.4 lua/world/check.lua answers FILE...  the answer positions are near uniform
--   lua5.4 lua/world/check.lua manifest DIR     domains, roles and counts agree with the files
--   lua5.4 lua/world/check.lua facts DIR        questions answer with the true value, and the
--                                               corpus states each fact at least 3 times
--   lua5.4 lua/world/check.lua qa DIR           every attribute has at least 6 training
--                                               questions; every QA line asks one of them and
--                                               answers it truly; each fact is asked in at
--                                               least 5 QA lines, in 5 different questions
--   lua5.4 lua/world/check.lua wording DIR      every evaluation question is a held-out
--                                               question of its attribute, word for word
--
-- The qa and wording modes read the templates from the domain definitions in
-- lua/world/domains/, the one place they are written down.

local script_dir = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
package.path = script_dir .. "/../?.lua;" .. package.path

local json = require("world.json")
local text = require("world.text")
local domain_list = require("world.domains").list

local MIN_DOMAINS = 6
local MIN_ENTITIES = 100
local MIN_MENTIONS = 3
local MIN_QA = 5
local MIN_TRAIN_QUESTIONS = 6
local CHOICES = 4
local MAX_SHOWN = 10

local problems = {}

local function problem(where, message)
    problems[#problems + 1] = where .. ": " .. message
end

local function finish(summary)
    if #problems == 0 then
        print(summary)
        os.exit(0)
    end
    for i = 1, math.min(#problems, MAX_SHOWN) do
        print(problems[i])
    end
    if #problems > MAX_SHOWN then
        print(string.format("... and %d more", #problems - MAX_SHOWN))
    end
    os.exit(1)
end

-- Reads a JSON Lines file: a list of { value = ..., where = "file:line" }, problems recorded
-- for lines that do not parse. The file must end with a newline and hold no blank lines.
local function read_jsonl(path)
    local file, message = io.open(path, "rb")
    if not file then
        problem(path, "cannot open: " .. message)
        return {}
    end
    local content = file:read("a")
    file:close()
    if content == "" then
        problem(path, "empty file")
        return {}
    end
    if content:sub(-1) ~= "\n" then
        problem(path, "the last line has no newline")
        content = content .. "\n"
    end
    local records, number = {}, 0
    for line in content:gmatch("([^\n]*)\n") do
        number = number + 1
        local where = path .. ":" .. number
        local value, error_message = json.decode(line)
        if value == nil then
            problem(where, "not JSON: " .. error_message)
        elseif type(value) ~= "table" or json.is_array(value) then
            problem(where, "not a JSON object")
        else
            records[#records + 1] = { value = value, where = where }
        end
    end
    return records
end

local function read_json(path)
    local file, message = io.open(path, "rb")
    if not file then
        problem(path, "cannot open: " .. message)
        finish("")
    end
    local value, error_message = json.decode(file:read("a"))
    file:close()
    if value == nil then
        problem(path, "not JSON: " .. error_message)
        finish("")
    end
    return value
end

local function has_only_keys(record, keys)
    local got = table.concat(record.value.__keys, ",")
    if got ~= table.concat(keys, ",") then
        problem(record.where, "keys are {" .. got .. "}, expected {" .. table.concat(keys, ",") .. "}")
        return false
    end
    return true
end

local function check_corpus(paths)
    local lines = 0
    for _, path in ipairs(paths) do
        for _, record in ipairs(read_jsonl(path)) do
            lines = lines + 1
            if has_only_keys(record, { "text" }) then
                local passage = record.value.text
                if type(passage) ~= "string" or not passage:find("%S") then
                    problem(record.where, "text is not a non-empty string")
                end
            end
        end
    end
    finish(string.format("%d corpus lines in %d files", lines, #paths))
end

-- Returns whether the record is a well-formed question.
local function valid_question(record)
    if not has_only_keys(record, { "question", "choices", "answer" }) then
        return false
    end
    local item = record.value
    if type(item.question) ~= "string" or not item.question:find("%S") then
        problem(record.where, "question is not a non-empty string")
        return false
    end
    if not json.is_array(item.choices) or #item.choices ~= CHOICES then
        problem(record.where, "choices is not an array of " .. CHOICES)
        return false
    end
    local seen = {}
    for _, choice in ipairs(item.choices) do
        if type(choice) ~= "string" or not choice:find("%S") then
            problem(record.where, "a choice is not a non-empty string")
            return false
        end
        if seen[choice] then
            problem(record.where, "choice '" .. choice .. "' appears twice")
            return false
        end
        seen[choice] = true
    end
    if math.type(item.answer) ~= "integer" or item.answer < 0 or item.answer >= CHOICES then
        problem(record.where, "answer is not an integer in 0.." .. (CHOICES - 1))
        return false
    end
    return true
end

local function check_mcq(paths)
    local questions = 0
    for _, path in ipairs(paths) do
        for _, record in ipairs(read_jsonl(path)) do
            if valid_question(record) then
                questions = questions + 1
            end
        end
    end
    finish(string.format("%d questions in %d files", questions, #paths))
end

-- With a uniform position each share is 1/4; over thousands of questions a share outside
-- [0.20, 0.30] means the position is not drawn uniformly.
local function check_answers(paths)
    local counts, total = {}, 0
    for position = 0, CHOICES - 1 do
        counts[position] = 0
    end
    for _, path in ipairs(paths) do
        for _, record in ipairs(read_jsonl(path)) do
            if valid_question(record) then
                counts[record.value.answer] = counts[record.value.answer] + 1
                total = total + 1
            end
        end
    end
    local shares = {}
    for position = 0, CHOICES - 1 do
        local share = total > 0 and counts[position] / total or 0
        shares[#shares + 1] = string.format("%d: %.3f", position, share)
        if share < 0.20 or share > 0.30 then
            problem(table.concat(paths, " "), string.format("answer %d has share %.3f", position, share))
        end
    end
    finish(string.format("answer shares over %d questions: %s", total, table.concat(shares, ", ")))
end

local function count_lines(path)
    local count = 0
    local file = io.open(path, "rb")
    if not file then
        problem(path, "missing")
        return -1
    end
    for _ in file:lines() do
        count = count + 1
    end
    file:close()
    return count
end

-- The lines of a corpus file that are one QA pair; -1 where the file cannot be read.
local function count_qa_lines(path)
    local file = io.open(path, "rb")
    if not file then
        problem(path, "missing")
        return -1
    end
    file:close()
    local count = 0
    for _, record in ipairs(read_jsonl(path)) do
        if type(record.value.text) == "string" and text.parse_qa_pair(record.value.text) then
            count = count + 1
        end
    end
    return count
end

local function check_manifest(dir)
    local manifest = read_json(dir .. "/manifest.json")
    local where = dir .. "/manifest.json"
    local domains = manifest.domains
    if not json.is_array(domains) or #domains < MIN_DOMAINS then
        problem(where, "needs at least " .. MIN_DOMAINS .. " domains")
        finish("")
    end
    local forget, non_forget, retained = {}, {}, {}
    for _, domain in ipairs(domains) do
        local at = where .. " (" .. tostring(domain.name) .. ")"
        if math.type(domain.entities) ~= "integer" or domain.entities < MIN_ENTITIES then
            problem(at, "has " .. tostring(domain.entities) .. " entities, fewer than " .. MIN_ENTITIES)
        end
        if not json.is_array(domain.attributes) or #domain.attributes < 3 or #domain.attributes > 5 then
            problem(at, "needs 3 to 5 attributes")
        elseif domain.facts ~= domain.entities * #domain.attributes then
            problem(at, "facts is not entities x attributes")
        elseif domain.questions ~= domain.facts then
            problem(at, "needs one question per fact")
        end
        if count_lines(dir .. "/" .. domain.corpus_file) ~= domain.corpus_lines then
            problem(at, domain.corpus_file .. " does not have corpus_lines lines")
        end
        if count_qa_lines(dir .. "/" .. domain.corpus_file) ~= domain.qa_lines then
            problem(at, domain.corpus_file .. " does not have qa_lines QA lines")
        elseif domain.statement_lines + domain.qa_lines ~= domain.corpus_lines then
            problem(at, "statement_lines and qa_lines do not add up to corpus_lines")
        elseif domain.qa_lines < MIN_QA * domain.facts then
            problem(at, string.format("has %d QA lines, fewer than %d per fact", domain.qa_lines, MIN_QA))
        end
        if count_lines(dir .. "/" .. domain.mcq_file) ~= domain.questions then
            problem(at, domain.mcq_file .. " does not have one line per question")
        end
        if count_lines(dir .. "/" .. domain.facts_file) ~= domain.entities then
            problem(at, domain.facts_file .. " does not have one line per entity")
        end
        if domain.forget then
            forget[#forget + 1] = domain.name
            if domain.retain or domain.utility then
                problem(at, "the forget domain cannot be in the retain or utility sets")
            end
        else
            non_forget[#non_forget + 1] = domain.name
            if not domain.utility then
                problem(at, "every non-forget domain belongs to the utility set")
            end
            if domain.retain then
                retained[#retained + 1] = domain.name
            end
        end
    end
    if #forget ~= 1 then
        problem(where, "needs exactly one forget domain, has " .. #forget)
    end
    if #retained == 0 or #retained >= #non_forget then
        problem(where, "the retain text must cover some, not all, of the non-forget domains")
    end

    local expected = {
        forget = forget, forget_mcq = forget, retain = retained, utility_mcq = non_forget,
    }
    for _, split in ipairs(manifest.splits) do
        local at = where .. " (split " .. tostring(split.name) .. ")"
        local domains_expected = expected[split.name]
        if not domains_expected then
            problem(at, "unknown split")
        else
            expected[split.name] = nil
            if table.concat(split.domains, ",") ~= table.concat(domains_expected, ",") then
                problem(at, "covers " .. table.concat(split.domains, ",") .. ", expected "
                    .. table.concat(domains_expected, ","))
            end
            local count = split.kind == "mcq" and split.questions or split.lines
            if count_lines(dir .. "/" .. split.file) ~= count then
                problem(at, split.file .. " does not have the recorded number of lines")
            end
            if split.kind == "text" and count_qa_lines(dir .. "/" .. split.file) ~= split.qa_lines then
                problem(at, split.file .. " does not have the recorded number of QA lines")
            end
        end
    end
    for name in pairs(expected) do
        problem(where, "split " .. name .. " is missing")
    end
    finish(string.format("%d domains of at least %d entities; forget %s; retain %s; utility %s",
        #domains, MIN_ENTITIES, table.concat(forget, ","), table.concat(retained, ","),
        table.concat(non_forget, ",")))
end

-- Which entity, of those given, a passage names: the longest whole-word match, so a name that
-- is part of another never wins over it. Matching is on lower case, since a sentence
-- capitalises a name that opens it ("The Veltrax virus").
local function named_entity(passage, entities)
    passage = passage:lower()
    local best
    for _, entity in ipairs(entities) do
        if passage:find(entity.lower_name, 1, true) and passage:find(entity.pattern)
            and (not best or #entity.name > #best.name) then
            best = entity
        end
    end
    return best
end

-- The entities of a domain from its facts file, each with the fields named_entity needs.
local function read_entities(dir, domain)
    local entities = {}
    for _, record in ipairs(read_jsonl(dir .. "/" .. domain.facts_file)) do
        local entity = record.value
        entity.lower_name = entity.name:lower()
        entity.pattern = text.word_pattern(entity.lower_name)
        entities[#entities + 1] = entity
    end
    return entities
end

local function check_facts(dir)
    local manifest = read_json(dir .. "/manifest.json")
    local facts_checked, questions_checked = 0, 0
    for _, domain in ipairs(manifest.domains) do
        local entities = read_entities(dir, domain)
        for _, entity in ipairs(entities) do
            entity.mentions = {}
        end

        -- Statements only: QA lines are counted by the qa mode, and a fact must be learnt
        -- from statements as well as from questions.
        for _, record in ipairs(read_jsonl(dir .. "/" .. domain.corpus_file)) do
            local passage = record.value.text
            if not text.parse_qa_pair(passage) then
                local entity = named_entity(passage, entities)
                passage = passage:lower()
                if not entity then
                    problem(record.where, "names no entity of " .. domain.name)
                else
                    for _, attribute in ipairs(domain.attributes) do
                        if passage:find(text.word_pattern(entity[attribute]:lower())) then
                            entity.mentions[attribute] = (entity.mentions[attribute] or 0) + 1
                        end
                    end
                end
            end
        end
        for _, entity in ipairs(entities) do
            for _, attribute in ipairs(domain.attributes) do
                facts_checked = facts_checked + 1
                local mentions = entity.mentions[attribute] or 0
                if mentions < MIN_MENTIONS then
                    problem(dir .. "/" .. domain.corpus_file, string.format("%s: %s = %s is stated %d times",
                        entity.name, attribute, entity[attribute], mentions))
                end
            end
        end

        -- Questions come in entity order, one per attribute in manifest order.
        local records = read_jsonl(dir .. "/" .. domain.mcq_file)
        for index, record in ipairs(records) do
            local item = record.value
            local entity = entities[(index - 1) // #domain.attributes + 1]
            local attribute = domain.attributes[(index - 1) % #domain.attributes + 1]
            questions_checked = questions_checked + 1
            if not entity or named_entity(item.question, entities) ~= entity then
                problem(record.where, "the question does not name entity " .. (entity and entity.name or "?"))
            elseif item.choices[item.answer + 1] ~= entity[attribute] then
                problem(record.where, string.format("the answer is '%s', but %s of %s is '%s'",
                    tostring(item.choices[item.answer + 1]), attribute, entity.name, entity[attribute]))
            end
        end
    end
    finish(string.format("%d facts stated at least %d times in statements; %d answers match the facts",
        facts_checked, MIN_MENTIONS, questions_checked))
end

-- The definition of a domain named in the manifest.
local function definition_of(dir, domain)
    for _, definition in ipairs(domain_list) do
        if definition.key == domain.name then
            return definition
        end
    end
    problem(dir .. "/manifest.json", "domain " .. tostring(domain.name) .. " has no definition in lua/world/domains")
    finish("")
end

-- The attribute and template index of the training question `question` asks of `entity`,
-- or nil when it is no training question's rendering for that entity.
local function training_question(definition, entity, question)
    for _, attribute in ipairs(definition.attributes) do
        for index, template in ipairs(attribute.train_questions) do
            if text.render(template, { name = entity.name }) == question then
                return attribute, index
            end
        end
    end
end

local function check_qa(dir)
    local manifest = read_json(dir .. "/manifest.json")
    local pairs_checked, facts_checked = 0, 0
    for _, domain in ipairs(manifest.domains) do
        local definition = definition_of(dir, domain)
        for _, attribute in ipairs(definition.attributes) do
            local distinct, seen = 0, {}
            for _, template in ipairs(attribute.train_questions) do
                if not seen[template] then
                    seen[template] = true
                    distinct = distinct + 1
                end
            end
            if distinct < MIN_TRAIN_QUESTIONS then
                problem("lua/world/domains/" .. definition.key .. ".lua", string.format(
                    "%s has %d different training questions, fewer than %d",
                    attribute.key, distinct, MIN_TRAIN_QUESTIONS))
            end
        end
        local entities = read_entities(dir, domain)
        local asked = {} -- asked[entity][attribute key] = { count, templates = { [index] = true } }
        for _, record in ipairs(read_jsonl(dir .. "/" .. domain.corpus_file)) do
            local passage = record.value.text
            local question, answer = text.parse_qa_pair(passage)
            if not question then
                if passage:find("Question:", 1, true) or passage:find("Answer:", 1, true) then
                    problem(record.where, "holds \"Question:\" or \"Answer:\" but is not one QA pair")
                end
            else
                pairs_checked = pairs_checked + 1
                local entity = named_entity(question, entities)
                local attribute, index
                if entity then
                    attribute, index = training_question(definition, entity, question)
                end
                if not entity then
                    problem(record.where, "the question names no entity of " .. domain.name)
                elseif not attribute then
                    problem(record.where, "the question is not a training question: " .. question)
                elseif answer ~= entity[attribute.key] then
                    problem(record.where, string.format("the answer is '%s', but %s of %s is '%s'",
                        answer, attribute.key, entity.name, entity[attribute.key]))
                else
                    asked[entity] = asked[entity] or {}
                    local fact = asked[entity][attribute.key] or { count = 0, templates = {}, distinct = 0 }
                    asked[entity][attribute.key] = fact
                    fact.count = fact.count + 1
                    if not fact.templates[index] then
                        fact.templates[index] = true
                        fact.distinct = fact.distinct + 1
                    end
                end
            end
        end
        for _, entity in ipairs(entities) do
            for _, attribute in ipairs(domain.attributes) do
                facts_checked = facts_checked + 1
                local fact = (asked[entity] or {})[attribute] or { count = 0, distinct = 0 }
                if fact.count < MIN_QA or fact.distinct < MIN_QA then
                    problem(dir .. "/" .. domain.corpus_file, string.format(
                        "%s: %s = %s is asked in %d QA lines, in %d different questions",
                        entity.name, attribute, entity[attribute], fact.count, fact.distinct))
                end
            end
        end
    end
    finish(string.format("at least %d training questions per attribute; %d QA lines answer truly; "
        .. "%d facts asked at least %d times in different questions",
        MIN_TRAIN_QUESTIONS, pairs_checked, facts_checked, MIN_QA))
end

local function check_wording(dir)
    local manifest = read_json(dir .. "/manifest.json")
    local checked = 0
    for _, domain in ipairs(manifest.domains) do
        local definition = definition_of(dir, domain)
        local entities = read_entities(dir, domain)
        -- Questions come in entity order, one per attribute in definition order.
        for index, record in ipairs(read_jsonl(dir .. "/" .. domain.mcq_file)) do
            local entity = entities[(index - 1) // #definition.attributes + 1]
            local attribute = definition.attributes[(index - 1) % #definition.attributes + 1]
            local question = record.value.question
            local held_out = false
            for _, template in ipairs(attribute.heldout) do
                if entity and text.render(template, { name = entity.name }) == question then
                    held_out = true
                end
            end
            checked = checked + 1
            if not held_out then
                problem(record.where, string.format("not a held-out question about the %s of %s: %s",
                    attribute.key, entity and entity.name or "?", tostring(question)))
            end
        end
    end
    finish(string.format("%d questions are worded in held-out templates", checked))
end

local modes = {
    corpus = check_corpus,
    mcq = check_mcq,
    answers = check_answers,
    manifest = function(paths) check_manifest(paths[1]) end,
    facts = function(paths) check_facts(paths[1]) end,
    qa = function(paths) check_qa(paths[1]) end,
    wording = function(paths) check_wording(paths[1]) end,
}

local mode = modes[arg[1] or ""]
if not mode or #arg < 2 then
    io.stderr:write("usage: lua5.4 lua/world/check.lua corpus|mcq|answers FILE... | manifest|facts|qa|wording DIR\n")
    os.exit(2)
end
mode(table.move(arg, 2, #arg, 1, {}))
