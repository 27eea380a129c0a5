-- Entity names built from per-domain syllable inventories.
--
-- A name's stem joins one syllable from each list of a domain's inventory ("Vel" .. "trax"),
-- so it is pronounceable and splits into a few subword tokens; the domain then dresses the
-- stem ("the Veltrax virus", "Dr. Maela Tornqvist"). Each domain has its own inventory, which
-- gives each domain its own vocabulary. A registry shared by all domains keeps every stem
-- unique across the whole world and apart from the words of the attribute values, so that
-- no question can be about two entities at once.

local names = {}

local Registry = {}
Registry.__index = Registry

function names.registry()
    return setmetatable({ taken = {} }, Registry)
end

-- Reserves every word of a phrase, so that no stem equals, say, a country in a value set.
function Registry:reserve_words(phrase)
    for word in phrase:gmatch("%a+") do
        self.taken[word:lower()] = true
    end
end

function Registry:claim(stem)
    local key = stem:lower()
    if self.taken[key] then
        return false
    end
    self.taken[key] = true
    return true
end

-- names.generate(rng, naming, count, registry): `count` entities, in draw order, each
-- { name = full name, stem = stem }. naming.syllables is a list of syllable lists;
-- naming.dress(stem, rng) gives the full name.
function names.generate(rng, naming, count, registry)
    local combinations = 1
    for _, syllables in ipairs(naming.syllables) do
        combinations = combinations * #syllables
    end
    -- Rejection sampling needs room to spare; half as many again keeps the redraws few.
    assert(2 * combinations >= 3 * count, "the syllable inventory is too small for " .. count .. " names")

    local entities = {}
    local attempts = 0
    while #entities < count do
        attempts = attempts + 1
        assert(attempts <= 100 * count, "could not draw enough unique names")
        local parts = {}
        for i, syllables in ipairs(naming.syllables) do
            parts[i] = rng:pick(syllables)
        end
        local stem = table.concat(parts)
        stem = stem:sub(1, 1):upper() .. stem:sub(2):lower()
        if registry:claim(stem) then
            entities[#entities + 1] = { stem = stem, name = naming.dress(stem, rng) }
        end
    end
    return entities
end

return names
