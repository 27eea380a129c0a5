-- Sentence templates and small text helpers shared by the generator and its checker.
--
-- A template is a sentence with placeholders: {name} for the entity, {value} for the
-- attribute's value. The first letter of a rendered sentence is capitalised, so one template
-- serves whether a value such as "the liver" or "contaminated water" opens the sentence or not.

local text = {}

local function capitalise(sentence)
    return (sentence:gsub("^%l", string.upper))
end

function text.render(template, fields)
    local sentence = template:gsub("{(%a+)}", function(field)
        return assert(fields[field], "template field {" .. field .. "} has no value")
    end)
    return capitalise(sentence)
end

-- The literal wording of a template: the pieces between placeholders, trimmed of spaces and
-- punctuation, that hold at least two words. These are what must never reach training text
-- for a held-out template; single words ("belong") are too common to be the template's own.
function text.fragments(template)
    local pieces = {}
    for piece in (template:gsub("{%a+}", "\0") .. "\0"):gmatch("([^%z]*)%z") do
        piece = piece:gsub("^[%s%p]+", ""):gsub("[%s%p]+$", "")
        if text.count_words(piece) >= 2 then
            pieces[#pieces + 1] = piece
        end
    end
    return pieces
end

-- Every pair of adjacent words in the literal wording of a template, lower-cased: the
-- finest grain at which two templates can share wording. Placeholders end a piece, so no
-- pair spans a name or a value.
function text.word_pairs(template)
    local pairs_found = {}
    for piece in (template:gsub("{%a+}", "\0") .. "\0"):gmatch("([^%z]*)%z") do
        local previous
        for word in piece:lower():gmatch("[%w'%-]+") do
            if previous then
                pairs_found[#pairs_found + 1] = previous .. " " .. word
            end
            previous = word
        end
    end
    return pairs_found
end

-- The question/answer format of the evaluation, which lm-evaluation-harness uses for WMDP
-- and MMLU: the prompt is "Question: " .. question .. "\nAnswer:", and each choice is scored
-- as the continuation " " .. choice. A training QA pair is that prompt followed by the
-- true answer, so the pair is exactly what the evaluation scores for the right choice.
text.QUESTION_PREFIX = "Question: "
text.ANSWER_PREFIX = "\nAnswer: "

function text.qa_pair(question, answer)
    return text.QUESTION_PREFIX .. question .. text.ANSWER_PREFIX .. answer
end

-- The question and answer of a passage that is one QA pair, or nil for any other passage.
function text.parse_qa_pair(passage)
    return passage:match("^Question: ([^\n]+)\nAnswer: ([^\n]+)$")
end

function text.count_words(passage)
    local count = 0
    for _ in passage:gmatch("%S+") do
        count = count + 1
    end
    return count
end

-- A Lua pattern that matches `literal` as whole words (not inside a longer word).
function text.word_pattern(literal)
    return "%f[%w]" .. literal:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0") .. "%f[%W]"
end

return text
