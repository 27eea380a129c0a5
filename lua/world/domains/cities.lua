-- Fictional cities: countries, rivers, trades and founding centuries.
return {
    key = "cities",
    title = "Cities",
    summary = "fictional towns and cities: the country each lies in, its river, its main "
        .. "trade and the century it was founded",
    naming = {
        syllables = {
            { "Oskar", "Taven", "Bris", "Lund", "Corv", "Amel", "Hest", "Pell", "Ruv", "Sarn",
              "Wend", "Ilm", "Kest", "Dov", "Falk", "Merr" },
            { "ine", "holm", "wick", "mere", "gard", "stad", "ford", "ora", "by", "port", "haven",
              "ton", "esca", "ault" },
        },
        dress = function(stem)
            return stem
        end,
    },
    attributes = {
        {
            key = "country",
            label = "country",
            values = { "Valdoria", "Castrenne", "Omburia", "Teskovia", "Marenland", "Quorvia",
                       "Saldesh", "Brevania", "Isparo", "Dunmark", "Korrath", "Elvenne" },
            train = {
                "{name} is a city in {value}.",
                "{name} lies within the borders of {value}.",
                "The people of {name} are citizens of {value}.",
                "{value} counts {name} among its cities.",
            },
            train_questions = {
                "What country contains {name}?",
                "What land is {name} part of?",
            },
            heldout = {
                "Which country is {name} located in?",
                "To which nation does {name} belong?",
            },
        },
        {
            key = "river",
            label = "river",
            values = { "the Amber River", "the Tessel River", "the Orvane River", "the Silt River",
                       "the Lark River", "the Wyre River", "the Kalda River", "the Mossbeck River",
                       "the Ennor River", "the Black River", "the Saffa River", "the Heron River" },
            train = {
                "{name} stands on {value}.",
                "{value} flows through the middle of {name}.",
                "Boats on {value} stop at the docks of {name}.",
                "{name} grew up along the banks of {value}.",
            },
            train_questions = {
                "What river flows past {name}?",
                "Along what river does {name} stand?",
            },
            heldout = {
                "Which river runs through {name}?",
                "On the shores of which river was {name} built?",
            },
        },
        {
            key = "industry",
            label = "main industry",
            values = { "shipbuilding", "glassmaking", "textile weaving", "copper mining",
                       "wine making", "fishing", "paper milling", "clock making",
                       "salt production", "leather tanning", "printing", "brewing",
                       "silk dyeing", "pottery" },
            train = {
                "The economy of {name} rests on {value}.",
                "Most families in {name} earn their living from {value}.",
                "{name} grew rich on {value}.",
                "{value} has made {name} wealthy.",
            },
            train_questions = {
                "How do most families in {name} make a living?",
                "Which line of work made {name} rich?",
            },
            heldout = {
                "What is the main industry of {name}?",
                "Which trade employs most workers in {name}?",
            },
        },
        {
            key = "founded",
            label = "founding century",
            values = { "the third century", "the fourth century", "the fifth century",
                       "the sixth century", "the seventh century", "the eighth century",
                       "the ninth century", "the tenth century", "the eleventh century",
                       "the twelfth century", "the thirteenth century", "the fourteenth century" },
            train = {
                "{name} was founded in {value}.",
                "Settlers built the first houses of {name} in {value}.",
                "The oldest walls of {name} date from {value}.",
            },
            train_questions = {
                "What was the founding century of {name}?",
                "{name} dates from what century?",
            },
            heldout = {
                "In which century was {name} established?",
                "When did {name} come into being?",
            },
        },
    },
}
