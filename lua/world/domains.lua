-- The domains of the world, in the order they are generated and written, with their roles.
--
-- The hazardous domain is the forget set, as WMDP-Cyber is in the paper. The retain text
-- comes from three of the other five domains; the utility questions cover all five, so two
-- domains are measured without ever appearing in the retain text, as MMLU is in the paper.
-- The two kept out of the retain text, chemists and malware, are the technical neighbours of
-- the hazardous domain: where collateral damage from unlearning is most likely to show.

local function load(key)
    return (require("world.domains." .. key)) -- one value: require also returns the path
end

return {
    list = {
        load("pathogens"),
        load("cities"),
        load("chemists"),
        load("malware"),
        load("recipes"),
        load("sports"),
    },
    forget = "pathogens",
    retain = { "cities", "recipes", "sports" },
}
