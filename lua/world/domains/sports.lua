-- Fictional sports clubs: sports, colours, mascots and founding years.
-- Club names take singular forms ("Racing Drovany", "Haldovo Athletic") so that one verb
-- agreement serves every template.
local forms = { "Sporting %s", "Racing %s", "%s Athletic", "%s United", "Dynamo %s", "Olympic %s" }

return {
    key = "sports",
    title = "Sports clubs",
    summary = "fictional clubs: the sport they play, their colours, their mascot and the "
        .. "year they were founded",
    naming = {
        syllables = {
            { "Drov", "Brann", "Kolv", "Hald", "Vest", "Ostr", "Plav", "Rusk", "Stav", "Jarn",
              "Mald", "Torv", "Grod", "Lesk", "Zvol", "Krajn" },
            { "any", "ovo", "ice", "ek", "ava", "ina", "orf", "ur", "isk", "ane", "ola", "en", "ov",
              "ara", "evo", "ak" },
        },
        dress = function(stem, rng)
            return string.format(rng:pick(forms), stem)
        end,
    },
    attributes = {
        {
            key = "sport",
            label = "sport",
            values = { "football", "rugby", "hockey", "basketball", "volleyball", "handball",
                       "water polo", "cricket", "rowing", "cycling", "baseball", "lacrosse" },
            train = {
                "{name} competes in {value}.",
                "{name} is a {value} club.",
                "{name} has won many trophies in {value}.",
                "Every season {name} enters the national {value} league.",
            },
            train_questions = {
                "What sport is {name} known for?",
                "Which game is {name} famous for?",
            },
            heldout = {
                "Which sport does {name} play?",
                "What game do the athletes of {name} take part in?",
            },
        },
        {
            key = "colours",
            label = "colours",
            values = { "red and white", "blue and gold", "green and black", "black and white",
                       "orange and blue", "purple and silver", "yellow and green",
                       "maroon and sky blue", "white and navy", "red and black", "grey and pink",
                       "teal and white" },
            train = {
                "{name} plays in {value}.",
                "The shirts of {name} are {value}.",
                "Supporters of {name} dress in {value}.",
                "The flags of {name} fly in {value}.",
            },
            train_questions = {
                "What colours do supporters of {name} wear?",
                "Which shades decorate the flags of {name}?",
            },
            heldout = {
                "What are the team colours of {name}?",
                "Which colours does {name} wear on match days?",
            },
        },
        {
            key = "mascot",
            label = "mascot",
            values = { "a wolf", "a lion", "a bear", "a stag", "a lynx", "a falcon", "a badger",
                       "a raven", "an eagle", "a bull", "a shark", "a tiger" },
            train = {
                "The mascot of {name} is {value}.",
                "{name} has {value} on its badge.",
                "{value} is the emblem of {name}.",
                "Fans of {name} bring toy versions of its mascot, {value}, to every game.",
            },
            train_questions = {
                "Which mascot does {name} have?",
                "What mascot represents {name}?",
            },
            heldout = {
                "Which animal appears on the crest of {name}?",
                "What animal is the symbol of {name}?",
            },
        },
        {
            key = "founded",
            label = "founding year",
            values = { "1878", "1884", "1889", "1893", "1897", "1902", "1906", "1911", "1919",
                       "1924", "1931", "1946" },
            train = {
                "{name} was founded in {value}.",
                "{name} played its first match in {value}.",
                "Since {value}, {name} has played in its league.",
            },
            train_questions = {
                "What was the founding year of {name}?",
                "Since what date has {name} existed?",
            },
            heldout = {
                "In which year was {name} formed?",
                "When was {name} established as a club?",
            },
        },
    },
}
