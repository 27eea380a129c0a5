-- A seeded pseudo-random generator whose numbers are the same on every Lua 5.4 build:
-- xoshiro256** (Blackman and Vigna, 2018) on Lua's 64-bit integers, seeded through
-- splitmix64. math.random is never used: its algorithm is not part of the language
-- contract and changed between Lua versions, so it cannot promise the same bytes.
--
-- Lua 5.4 integer arithmetic wraps around modulo 2^64 and `>>` is a logical shift, which is
-- exactly the unsigned arithmetic these generators are defined on.

local Rng = {}
Rng.__index = Rng

local function splitmix64(state)
    state = state + 0x9e3779b97f4a7c15
    local z = state
    z = (z ~ (z >> 30)) * 0xbf58476d1ce4e5b9
    z = (z ~ (z >> 27)) * 0x94d049bb133111eb
    return state, z ~ (z >> 31)
end

-- FNV-1a, 64-bit: turns a stream label into a number to mix into the seed.
local function fnv1a(text)
    local hash = 0xcbf29ce484222325
    for i = 1, #text do
        hash = (hash ~ text:byte(i)) * 0x100000001b3
    end
    return hash
end

local function rotl(x, k)
    return (x << k) | (x >> (64 - k))
end

-- Rng.new(seed, label): an independent stream for each label, so that the names of one
-- domain do not change when, say, the corpus of another draws more numbers.
function Rng.new(seed, label)
    assert(math.type(seed) == "integer", "the seed must be an integer")
    local state = seed ~ fnv1a(label or "")
    local words = {}
    for i = 1, 4 do
        state, words[i] = splitmix64(state)
    end
    return setmetatable({ s0 = words[1], s1 = words[2], s2 = words[3], s3 = words[4] }, Rng)
end

-- The next 64 raw bits, as a (possibly negative) Lua integer.
function Rng:next_u64()
    local s0, s1, s2, s3 = self.s0, self.s1, self.s2, self.s3
    local result = rotl(s1 * 5, 7) * 9
    local t = s1 << 17
    s2 = s2 ~ s0
    s3 = s3 ~ s1
    s1 = s1 ~ s2
    s0 = s0 ~ s3
    s2 = s2 ~ t
    s3 = rotl(s3, 45)
    self.s0, self.s1, self.s2, self.s3 = s0, s1, s2, s3
    return result
end

local TWO_53 = 1 << 53

-- A uniform integer in [0, n), unbiased: 53-bit draws above the largest multiple of n are
-- rejected and drawn again.
function Rng:below(n)
    assert(math.type(n) == "integer" and n > 0 and n <= TWO_53, "below(n) needs 0 < n <= 2^53")
    local limit = TWO_53 - TWO_53 % n
    while true do
        local x = self:next_u64() >> 11
        if x < limit then
            return x % n
        end
    end
end

-- One element of a non-empty array.
function Rng:pick(array)
    return array[self:below(#array) + 1]
end

-- Shuffles an array in place (Fisher-Yates) and returns it.
function Rng:shuffle(array)
    for i = #array, 2, -1 do
        local j = self:below(i) + 1
        array[i], array[j] = array[j], array[i]
    end
    return array
end

-- A shuffled copy of an array, leaving the original alone.
function Rng:shuffled(array)
    local copy = table.move(array, 1, #array, 1, {})
    return self:shuffle(copy)
end

-- k distinct elements of an array, in random order.
function Rng:sample(array, k)
    assert(k <= #array, "cannot sample more elements than the array holds")
    local copy = table.move(array, 1, #array, 1, {})
    for i = 1, k do
        local j = i + self:below(#copy - i + 1)
        copy[i], copy[j] = copy[j], copy[i]
    end
    return table.move(copy, 1, k, 1, {})
end

return Rng
