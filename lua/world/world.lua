-- Builds the fictional world in memory: entities and their facts, the training corpus, the
-- multiple-choice questions and the splits. Nothing here touches files (generate.lua writes
-- them), and everything is drawn from named streams of the seeded generator in world.rng,
-- so one seed always gives the same world.

local Rng = require("world.rng")
local names = require("world.names")
local text = require("world.text")
local domains = require("world.domains")

local world = {}

-- Bump when a change to the generator changes its output for a given seed.
world.VERSION = 3
world.ENTITIES_PER_DOMAIN = 120
-- How often each fact is stated in the corpus: every training template of its attribute at
-- least once (attributes have 5 or 6), then again in templates drawn afresh.
world.MENTIONS_PER_FACT = 6
-- A statement line is a short paragraph of this many facts about one entity.
world.FACTS_PER_LINE_MIN = 2
world.FACTS_PER_LINE_MAX = 4
world.CHOICES = 4
-- How often each fact is asked and answered in the corpus, in the evaluation's
-- "Question: ...\nAnswer: ..." format, each time in a different training question. Without
-- these lines the model would see facts only as statements, and a question at evaluation
-- time would ask it to transfer to a format it has never read.
world.QA_PER_FACT = 5
-- The fewest training questions an attribute may have. A model that has seen a fact asked in
-- only two wordings answers those wordings and little else; asked in many, worded
-- differently and with the content words of the evaluation's questions wherever the rule
-- below allows, it learns which attribute a question is about rather than a string.
world.MIN_TRAIN_QUESTIONS = 6

assert(world.MENTIONS_PER_FACT >= 3, "each fact must be stated at least 3 times")
assert(world.QA_PER_FACT >= 2, "each fact must be asked at least twice")
assert(world.MIN_TRAIN_QUESTIONS >= world.QA_PER_FACT,
    "each QA line of a fact must be able to ask it in a different question")

-- Every pair of adjacent words in any held-out template, with the template it comes from.
local function heldout_word_pairs(domain_list)
    local found = {}
    for _, domain in ipairs(domain_list) do
        for _, attribute in ipairs(domain.attributes) do
            for _, template in ipairs(attribute.heldout) do
                for _, pair in ipairs(text.word_pairs(template)) do
                    found[pair] = found[pair] or template
                end
            end
        end
    end
    return found
end

-- Definitions are data written by hand; check the properties the questions depend on.
-- `heldout_pairs` holds the word pairs of every held-out template in the world.
local function validate(domain, heldout_pairs)
    local where = "domain " .. domain.key
    assert(#domain.attributes >= 3 and #domain.attributes <= 5, where .. ": needs 3 to 5 attributes")
    local keys = {}
    for _, attribute in ipairs(domain.attributes) do
        local at = where .. ", attribute " .. attribute.key
        assert(not keys[attribute.key], at .. ": duplicate attribute")
        keys[attribute.key] = true
        assert(#attribute.values >= 8 and #attribute.values <= 20, at .. ": needs 8 to 20 values")
        local seen = {}
        for _, value in ipairs(attribute.values) do
            assert(not seen[value], at .. ": duplicate value " .. value)
            seen[value] = true
        end
        assert(#attribute.train >= 3, at .. ": needs at least 3 training templates")
        assert(#attribute.heldout >= 2, at .. ": needs at least 2 held-out templates")
        for _, template in ipairs(attribute.train) do
            assert(template:find("{name}", 1, true) and template:find("{value}", 1, true),
                at .. ": a training template needs {name} and {value}: " .. template)
        end
        -- Training questions are the one kind of training text that is worded like the
        -- evaluation, so they are held to a stricter rule than the statements: not even two
        -- adjacent words in common with any held-out question of the world, so that a right
        -- answer in evaluation cannot come from a memorised question string.
        assert(#(attribute.train_questions or {}) >= world.MIN_TRAIN_QUESTIONS,
            at .. ": needs at least " .. world.MIN_TRAIN_QUESTIONS .. " training questions")
        local asked = {}
        for _, template in ipairs(attribute.train_questions) do
            assert(not asked[template], at .. ": duplicate training question " .. template)
            asked[template] = true
            assert(template:find("{name}", 1, true) and not template:find("{value}", 1, true)
                and template:sub(-1) == "?",
                at .. ": a training question needs {name}, no {value}, and a question mark: " .. template)
            for _, pair in ipairs(text.word_pairs(template)) do
                assert(not heldout_pairs[pair], string.format(
                    "%s: training question \"%s\" shares \"%s\" with held-out \"%s\"",
                    at, template, pair, heldout_pairs[pair]))
            end
        end
        for _, template in ipairs(attribute.heldout) do
            assert(template:find("{name}", 1, true) and not template:find("{value}", 1, true),
                at .. ": a held-out question needs {name} and no {value}: " .. template)
            assert(#text.fragments(template) >= 1,
                at .. ": a held-out template needs a phrase of two words or more: " .. template)
        end
    end
end

-- Values spread evenly over the entities (each used count/#values times, give or take one),
-- so that guessing the most common value of an attribute gains nothing.
local function assign_values(rng, values, count)
    local order = rng:shuffled(values)
    local assigned = {}
    for i = 1, count do
        assigned[i] = order[(i - 1) % #order + 1]
    end
    return rng:shuffle(assigned)
end

-- All ways to write `total` as an ordered sum of parts in [low, high].
local function compositions(total, low, high)
    if total == 0 then
        return { {} }
    end
    local result = {}
    for first = low, math.min(high, total) do
        for _, rest in ipairs(compositions(total - first, low, high)) do
            result[#result + 1] = { first, table.unpack(rest) }
        end
    end
    return result
end

-- For one attribute, the training template of each of the fact's mentions: whole shuffled
-- passes over the templates, so every template is used before any is used twice. Serves
-- the statements and the training questions alike.
local function template_sequence(rng, templates, mentions)
    local sequence = {}
    while #sequence < mentions do
        for _, template in ipairs(rng:shuffled(templates)) do
            if #sequence < mentions then
                sequence[#sequence + 1] = template
            end
        end
    end
    return sequence
end

-- The corpus lines of one entity. Each round states every fact once, in random order, cut
-- into paragraphs of 2 to 4 facts; a paragraph never repeats a fact.
local function entity_lines(rng, domain, entity, splits)
    local attributes = domain.attributes
    local sequences = {}
    for a, attribute in ipairs(attributes) do
        sequences[a] = template_sequence(rng, attribute.train, world.MENTIONS_PER_FACT)
    end
    local lines = {}
    for round = 1, world.MENTIONS_PER_FACT do
        local order = {}
        for a = 1, #attributes do
            order[a] = a
        end
        rng:shuffle(order)
        local position = 1
        for _, size in ipairs(rng:pick(splits)) do
            local sentences = {}
            for k = position, position + size - 1 do
                local a = order[k]
                sentences[#sentences + 1] = text.render(sequences[a][round], {
                    name = entity.name,
                    value = entity.values[attributes[a].key],
                })
            end
            lines[#lines + 1] = table.concat(sentences, " ")
            position = position + size
        end
    end
    return lines
end

-- The QA lines of one entity: each fact asked QA_PER_FACT times, in different training
-- questions, one QA pair a line. One pair a line, rather than several, because then each
-- line opens exactly as an evaluation prompt does, with "Question: " and no text before it.
-- The answer is the value as the choices spell it, never capitalised: the evaluation scores
-- " " .. value after "Answer:", and the training pair must read the same.
local function entity_qa_lines(rng, domain, entity)
    local lines = {}
    for _, attribute in ipairs(domain.attributes) do
        local value = entity.values[attribute.key]
        for _, template in ipairs(template_sequence(rng, attribute.train_questions, world.QA_PER_FACT)) do
            lines[#lines + 1] = text.qa_pair(text.render(template, { name = entity.name }), value)
        end
    end
    return lines
end

-- One question about one fact: a held-out template, the answer, and three distractors drawn
-- from the values this attribute takes for other entities, in a uniformly random position.
local function make_question(rng, attribute, entities, index)
    local answer = entities[index].values[attribute.key]
    local used = {}
    for i, other in ipairs(entities) do
        if i ~= index then
            used[other.values[attribute.key]] = true
        end
    end
    local pool = {}
    for _, value in ipairs(attribute.values) do -- value-set order, never hash order
        if used[value] and value ~= answer then
            pool[#pool + 1] = value
        end
    end
    local choices = rng:sample(pool, world.CHOICES - 1)
    local answer_index = rng:below(world.CHOICES) -- 0-based, as in the JSON
    table.insert(choices, answer_index + 1, answer)
    return {
        question = text.render(rng:pick(attribute.heldout), { name = entities[index].name }),
        choices = choices,
        answer = answer_index,
    }
end

-- Every phrase of a held-out template, lower-cased, with where it comes from.
function world.heldout_fragments()
    local fragments, seen = {}, {}
    for _, domain in ipairs(domains.list) do
        for _, attribute in ipairs(domain.attributes) do
            for _, template in ipairs(attribute.heldout) do
                for _, fragment in ipairs(text.fragments(template)) do
                    local key = fragment:lower()
                    if not seen[key] then
                        seen[key] = true
                        fragments[#fragments + 1] = { text = fragment, template = template }
                    end
                end
            end
        end
    end
    table.sort(fragments, function(a, b) return a.text:lower() < b.text:lower() end)
    return fragments
end

-- Evaluation must measure knowledge, not memorised strings: no held-out wording may appear in
-- any training text. Checked on the rendered corpus, names and values included.
local function check_heldout_absent(built)
    local fragments = world.heldout_fragments()
    for _, domain in ipairs(built) do
        for _, line in ipairs(domain.corpus) do
            local lowered = line:lower()
            for _, fragment in ipairs(fragments) do
                if lowered:find(fragment.text:lower(), 1, true) then
                    error(string.format("held-out wording '%s' (from \"%s\") appears in the %s corpus: %s",
                        fragment.text, fragment.template, domain.key, line), 0)
                end
            end
        end
    end
end

local function shuffled_union(rng, lists)
    local union = {}
    for _, list in ipairs(lists) do
        table.move(list, 1, #list, #union + 1, union)
    end
    return rng:shuffle(union)
end

-- world.build(seed): { seed, domains = { {key, definition, entities, corpus, statement_lines,
-- qa_lines, mcq, ...} },
-- splits = { forget, retain, forget_mcq, utility_mcq }, all = every corpus line }.
function world.build(seed)
    local registry = names.registry()
    local heldout_pairs = heldout_word_pairs(domains.list)
    for _, domain in ipairs(domains.list) do
        validate(domain, heldout_pairs)
        for _, attribute in ipairs(domain.attributes) do
            for _, value in ipairs(attribute.values) do
                registry:reserve_words(value)
            end
        end
    end

    local line_splits = {}
    local built, by_key = {}, {}
    for _, domain in ipairs(domains.list) do
        local key = domain.key
        local entities = names.generate(Rng.new(seed, key .. "/names"), domain.naming,
            world.ENTITIES_PER_DOMAIN, registry)

        local value_rng = Rng.new(seed, key .. "/values")
        for _, entity in ipairs(entities) do
            entity.values = {}
        end
        for _, attribute in ipairs(domain.attributes) do
            local assigned = assign_values(value_rng, attribute.values, #entities)
            for i, entity in ipairs(entities) do
                entity.values[attribute.key] = assigned[i]
            end
        end

        local count = #domain.attributes
        line_splits[count] = line_splits[count]
            or compositions(count, world.FACTS_PER_LINE_MIN, world.FACTS_PER_LINE_MAX)
        -- Statements and QA lines come from streams of their own, so that changing how
        -- facts are asked does not reword the statements; one shuffle mixes them.
        local corpus_rng = Rng.new(seed, key .. "/corpus")
        local qa_rng = Rng.new(seed, key .. "/qa")
        local corpus, qa = {}, {}
        for _, entity in ipairs(entities) do
            local lines = entity_lines(corpus_rng, domain, entity, line_splits[count])
            table.move(lines, 1, #lines, #corpus + 1, corpus)
            local qa_lines = entity_qa_lines(qa_rng, domain, entity)
            table.move(qa_lines, 1, #qa_lines, #qa + 1, qa)
        end
        local statements = #corpus
        table.move(qa, 1, #qa, #corpus + 1, corpus)
        corpus_rng:shuffle(corpus)

        local mcq_rng = Rng.new(seed, key .. "/mcq")
        local mcq = {}
        for index = 1, #entities do
            for _, attribute in ipairs(domain.attributes) do
                mcq[#mcq + 1] = make_question(mcq_rng, attribute, entities, index)
            end
        end

        local record = {
            key = key,
            definition = domain,
            entities = entities,
            corpus = corpus, -- statements and QA lines, shuffled together
            statement_lines = statements,
            qa_lines = #qa,
            mcq = mcq,
            forget = key == domains.forget,
        }
        built[#built + 1] = record
        by_key[key] = record
    end
    check_heldout_absent(built)

    local retain_set = {}
    for _, key in ipairs(domains.retain) do
        assert(by_key[key] and not by_key[key].forget, "retain domain " .. key .. " is unknown or the forget domain")
        retain_set[key] = true
    end
    local forget = assert(by_key[domains.forget], "the forget domain is unknown")

    local retain_corpora, utility_mcq, all_corpora = {}, {}, {}
    for _, record in ipairs(built) do
        record.retain = retain_set[record.key] or false
        record.utility = not record.forget
        if record.retain then
            retain_corpora[#retain_corpora + 1] = record.corpus
        end
        if record.utility then
            table.move(record.mcq, 1, #record.mcq, #utility_mcq + 1, utility_mcq)
        end
        all_corpora[#all_corpora + 1] = record.corpus
    end

    return {
        seed = seed,
        version = world.VERSION,
        domains = built,
        forget_key = forget.key,
        retain_keys = domains.retain,
        splits = {
            forget = forget.corpus,
            retain = shuffled_union(Rng.new(seed, "splits/retain"), retain_corpora),
            forget_mcq = forget.mcq,
            utility_mcq = utility_mcq,
        },
        all = shuffled_union(Rng.new(seed, "corpus/all"), all_corpora),
    }
end

return world
